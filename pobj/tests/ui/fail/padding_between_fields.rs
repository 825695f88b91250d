// `u8` then `u64`: 7 bytes of padding between the fields.
#[derive(pobj::Persistent, Clone, Copy)]
#[repr(C)]
struct Gap {
    tag: u8,
    value: u64,
}

fn main() {}
