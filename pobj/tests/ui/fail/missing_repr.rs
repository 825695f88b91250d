// No `#[repr]`: the Rust layout may change between compilers, so it cannot be persistent.
#[derive(pobj::Persistent, Clone, Copy)]
struct NoRepr {
    a: u64,
    b: u64,
}

fn main() {}
