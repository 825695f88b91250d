// An array of a padded instantiation: the array's proof is its element's.
use pobj::{as_bytes, Persistent};

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Pair<A, B> {
    a: A,
    b: B,
}

fn main() {
    let p = [Pair::<u8, u64> { a: 1, b: 2 }; 2];
    println!("{:?}", as_bytes(&p));
}
