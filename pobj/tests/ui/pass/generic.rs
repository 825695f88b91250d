// A generic struct: every instantiation with a `Persistent` parameter is `Persistent`, and
// different instantiations have different type ids.
use pobj::{PPtr, Persistent};

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct W<T> {
    x: T,
}

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Pair<A, B> {
    a: A,
    b: B,
}

const _: () = assert!(<W<u64> as Persistent>::TYPE_ID != <W<u32> as Persistent>::TYPE_ID);
const _: () = assert!(<W<u64> as Persistent>::NAME_HASH != <W<u32> as Persistent>::NAME_HASH);
const _: () = assert!(<W<u64> as Persistent>::TYPE_ID != <W<i64> as Persistent>::TYPE_ID);
const _: () = assert!(<W<W<u64>> as Persistent>::TYPE_ID != <W<u64> as Persistent>::TYPE_ID);
const _: () =
    assert!(<PPtr<W<u64>> as Persistent>::TYPE_ID != <PPtr<W<u32>> as Persistent>::TYPE_ID);
const _: () = assert!(
    <Pair<[u8; 4], u32> as Persistent>::TYPE_ID != <Pair<u32, [u8; 4]> as Persistent>::TYPE_ID
);
const _: () =
    assert!(<Pair<u32, u32> as Persistent>::TYPE_ID != <Pair<[u8; 4], u32> as Persistent>::TYPE_ID);

fn id<T: Persistent>() -> u64 {
    T::TYPE_ID
}

fn main() {
    let w: W<u64> = W { x: 7 };
    assert_eq!(w.x, 7);
    let p: Pair<u32, u32> = pobj::zeroed();
    assert_eq!(p.a + p.b, 0);
    assert_eq!(id::<W<u64>>(), <W<u64> as Persistent>::TYPE_ID);
    assert_ne!(id::<W<u64>>(), id::<W<u32>>());
    assert_eq!(core::mem::size_of::<W<[u8; 3]>>(), 3);
}
