// `String` owns heap memory outside the pool: use `PBytes` instead.
#[derive(pobj::Persistent, Clone, Copy)]
#[repr(C)]
struct S {
    name: String,
}

fn main() {}
