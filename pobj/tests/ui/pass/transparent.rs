// `#[repr(transparent)]` newtypes, tuple and named.
use pobj::{PPtr, Persistent};

#[derive(Persistent, Clone, Copy)]
#[repr(transparent)]
struct Id(u64);

#[derive(Persistent, Clone, Copy)]
#[repr(transparent)]
struct Link {
    to: PPtr<Id>,
}

// A newtype is a distinct type: its id differs from the wrapped type's.
const _: () = assert!(<Id as Persistent>::TYPE_ID != <u64 as Persistent>::TYPE_ID);

fn main() {
    let id = Id(5);
    assert_eq!(id.0, 5);
    assert_eq!(core::mem::size_of::<Id>(), 8);
    let l: Link = pobj::zeroed();
    assert!(l.to.is_null());
}
