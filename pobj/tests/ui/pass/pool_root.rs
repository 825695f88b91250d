// A derived type as the root of a pool. The function is only type-checked (never called), so
// no file is created.
use pobj::{PPtr, Persistent, Pool};

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Item {
    next: PPtr<Item>,
    value: u64,
}

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Root {
    head: PPtr<Item>,
    count: u64,
}

fn push(path: &std::path::Path, value: u64) -> pobj::Result<u64> {
    let pool = Pool::<Root>::open_or_create(path, "ui-test", 8 << 20)?;
    pool.transaction(|tx| {
        let head = tx.root().head;
        let item = tx.alloc(Item { next: head, value })?;
        let root = tx.root_mut()?;
        root.head = item;
        root.count += 1;
        Ok::<_, pobj::Error>(())
    })?;
    let root = pool.root()?;
    let first = pool.get(root.head)?;
    Ok(first.value + root.count)
}

fn main() {
    // Only type-checked and linked: never called, so no pool file is created.
    let _: fn(&std::path::Path, u64) -> pobj::Result<u64> = push;
}
