// `#[repr(packed)]` gives unaligned fields: refused (use explicit padding fields instead).
#[derive(pobj::Persistent, Clone, Copy)]
#[repr(C, packed)]
struct Packed {
    a: u8,
    b: u64,
}

fn main() {}
