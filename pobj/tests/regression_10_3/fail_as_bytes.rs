// `as_bytes` of a padded instantiation: 7 bytes between `a` and `b` would be read uninitialised.
use pobj::{as_bytes, Persistent};

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Pair<A, B> {
    a: A,
    b: B,
}

fn main() {
    let p = Pair::<u8, u64> { a: 1, b: 2 };
    println!("{:?}", as_bytes(&p));
}
