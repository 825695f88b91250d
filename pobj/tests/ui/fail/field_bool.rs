// `bool` has invalid bit patterns (only 0 and 1 are valid).
#[derive(pobj::Persistent, Clone, Copy)]
#[repr(C)]
struct S {
    flag: bool,
}

fn main() {}
