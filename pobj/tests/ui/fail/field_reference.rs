// A reference points into DRAM and is meaningless once the pool is reopened.
#[derive(pobj::Persistent, Clone, Copy)]
#[repr(C)]
struct S {
    target: &'static u8,
}

fn main() {}
