// A self-referential struct: `PPtr<Node>` inside `Node` has a finite type id (it uses the
// name hash of `Node`, not its type id).
use pobj::{PPtr, Persistent};

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Node {
    next: PPtr<Node>,
    v: u64,
}

// Mutually recursive types work too.
#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct A {
    b: PPtr<B>,
}

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct B {
    a: PPtr<A>,
}

const _: () = assert!(<Node as Persistent>::TYPE_ID != <PPtr<Node> as Persistent>::TYPE_ID);
const _: () = assert!(<A as Persistent>::TYPE_ID != <B as Persistent>::TYPE_ID);

fn main() {
    let n: Node = pobj::zeroed();
    assert!(n.next.is_null());
    assert_eq!(n.v, 0);
    let a: A = pobj::zeroed();
    let b: B = pobj::zeroed();
    assert!(a.b.is_null() && b.a.is_null());
}
