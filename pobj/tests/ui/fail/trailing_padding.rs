// `u64` then `u8`: 7 bytes of padding after the last field.
#[derive(pobj::Persistent, Clone, Copy)]
#[repr(C)]
struct Tail {
    value: u64,
    tag: u8,
}

fn main() {}
