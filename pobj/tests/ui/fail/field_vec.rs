// `Vec` owns heap memory outside the pool: use `PBytes` instead.
#[derive(pobj::Persistent, Clone, Copy)]
#[repr(C)]
struct S {
    items: Vec<u8>,
}

fn main() {}
