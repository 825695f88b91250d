// The derive refuses enums (invalid bit patterns).
#[derive(pobj::Persistent, Clone, Copy)]
#[repr(u8)]
enum E {
    A,
    B,
}

fn main() {}
