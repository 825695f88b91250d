// A non-generic struct holding a padded instantiation: its own fields meet without a gap, but
// its proof includes the field's, so it is refused where it is defined.
use pobj::Persistent;

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Pair<A, B> {
    a: A,
    b: B,
}

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Outer {
    p: Pair<u8, u64>,
}

fn main() {
    let _ = Outer { p: Pair { a: 1, b: 2 } };
}
