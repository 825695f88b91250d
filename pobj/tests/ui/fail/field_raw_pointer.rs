// A raw pointer is a DRAM address: use `PPtr<T>` instead.
#[derive(pobj::Persistent, Clone, Copy)]
#[repr(C)]
struct S {
    target: *const u8,
}

fn main() {}
