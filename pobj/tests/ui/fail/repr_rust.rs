// An explicit `#[repr(Rust)]` (the default, unstable layout) is refused too.
#[derive(pobj::Persistent, Clone, Copy)]
#[repr(Rust)]
struct ReprRust {
    a: u64,
    b: u64,
}

fn main() {}
