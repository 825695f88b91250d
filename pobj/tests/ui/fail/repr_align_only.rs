// `#[repr(align(N))]` alone leaves the field order to the compiler: `C` is still required.
#[derive(pobj::Persistent, Clone, Copy)]
#[repr(align(8))]
struct AlignOnly {
    a: u64,
    b: u64,
}

fn main() {}
