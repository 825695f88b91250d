// `Box` owns heap memory outside the pool: use `PPtr<T>` instead.
#[derive(pobj::Persistent, Clone, Copy)]
#[repr(C)]
struct S {
    boxed: Box<u64>,
}

fn main() {}
