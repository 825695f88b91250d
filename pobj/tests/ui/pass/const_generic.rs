// Const generic parameters take part in the name hash, so pointers to different instantiations
// (`PPtr<A<4>>`, `PPtr<A<8>>`), and therefore structs holding them, have different type ids.
use pobj::{PPtr, Persistent};

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct A<const N: usize> {
    bytes: [u8; N],
}

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Holder<const N: usize> {
    p: PPtr<A<N>>,
}

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Flags<const B: bool, const C: char, const I: i128> {
    x: u64,
}

const _: () = assert!(<A<4> as Persistent>::TYPE_ID != <A<8> as Persistent>::TYPE_ID);
const _: () = assert!(<A<4> as Persistent>::NAME_HASH != <A<8> as Persistent>::NAME_HASH);
const _: () = assert!(<PPtr<A<4>> as Persistent>::TYPE_ID != <PPtr<A<8>> as Persistent>::TYPE_ID);
const _: () = assert!(<Holder<4> as Persistent>::TYPE_ID != <Holder<8> as Persistent>::TYPE_ID);
const _: () = assert!(
    <Flags<true, 'a', 0> as Persistent>::TYPE_ID != <Flags<false, 'a', 0> as Persistent>::TYPE_ID
);
const _: () = assert!(
    <Flags<true, 'a', 0> as Persistent>::TYPE_ID != <Flags<true, 'b', 0> as Persistent>::TYPE_ID
);
// Values that differ only above bit 64 still give different ids.
const _: () = assert!(
    <Flags<true, 'a', 1> as Persistent>::TYPE_ID
        != <Flags<true, 'a', { 1 + (1 << 64) }> as Persistent>::TYPE_ID
);
const _: () = assert!(
    <Flags<true, 'a', -1> as Persistent>::TYPE_ID != <Flags<true, 'a', 1> as Persistent>::TYPE_ID
);

fn main() {
    let a: A<3> = pobj::zeroed();
    assert_eq!(a.bytes, [0; 3]);
    let h: Holder<3> = pobj::zeroed();
    assert!(h.p.is_null());
    let f: Flags<true, 'z', 7> = pobj::zeroed();
    assert_eq!(f.x, 0);
}
