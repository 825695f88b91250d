// A generic struct instantiated with a type that is not `Persistent`.
use pobj::Persistent;

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct W<T> {
    x: T,
}

fn f(_: pobj::PPtr<W<String>>) -> u64 {
    <W<String> as Persistent>::TYPE_ID
}

fn main() {
    let _ = f(pobj::PPtr::null());
}
