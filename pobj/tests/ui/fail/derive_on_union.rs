// The derive refuses unions.
#[derive(pobj::Persistent, Clone, Copy)]
#[repr(C)]
union U {
    a: u64,
    b: [u8; 8],
}

fn main() {}
