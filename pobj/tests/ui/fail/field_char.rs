// `char` has invalid bit patterns (surrogates, values above 0x10FFFF).
#[derive(pobj::Persistent, Clone, Copy)]
#[repr(C)]
struct S {
    letter: char,
}

fn main() {}
