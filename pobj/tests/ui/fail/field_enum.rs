// A field whose type is an enum: enums have invalid bit patterns.
#[derive(Clone, Copy)]
enum E {
    A,
    B,
}

#[derive(pobj::Persistent, Clone, Copy)]
#[repr(C)]
struct S {
    kind: E,
}

fn main() {}
