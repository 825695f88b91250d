// Interior mutability is not allowed in a persistent type.
#[derive(pobj::Persistent, Clone, Copy)]
#[repr(C)]
struct S {
    cell: core::cell::UnsafeCell<u64>,
}

fn main() {}
