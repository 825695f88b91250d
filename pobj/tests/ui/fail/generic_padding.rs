// A generic struct whose padding appears only once it is instantiated (`G<u64>`: 7 bytes between
// `a` and `b`). Evaluating `TYPE_ID` (which every pool entry point does) fails to compile.
use pobj::Persistent;

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct G<T> {
    a: u8,
    b: T,
}

fn main() {
    // `G<u8>` has no padding and is fine.
    let _ = <G<u8> as Persistent>::TYPE_ID;
    let _ = <G<u64> as Persistent>::TYPE_ID;
}
