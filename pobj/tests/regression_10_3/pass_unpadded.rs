// The same generic struct without padding for these arguments is accepted everywhere.
use pobj::{as_bytes, Persistent};

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Pair<A, B> {
    a: A,
    b: B,
}

fn main() {
    let p = Pair::<u64, u64> { a: 1, b: 2 };
    assert_eq!(as_bytes(&p).len(), 16);
    let q = [Pair::<u8, u8> { a: 1, b: 2 }; 3];
    assert_eq!(as_bytes(&q).len(), 6);
}
