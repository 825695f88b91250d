// `Option<u64>` has a discriminant with invalid bit patterns, and padding.
#[derive(pobj::Persistent, Clone, Copy)]
#[repr(C)]
struct S {
    maybe: Option<u64>,
}

fn main() {}
