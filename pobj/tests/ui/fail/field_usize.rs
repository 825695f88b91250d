// `usize` is refused: its width depends on the platform, so a pool would not be portable.
#[derive(pobj::Persistent, Clone, Copy)]
#[repr(C)]
struct S {
    len: usize,
}

fn main() {}
