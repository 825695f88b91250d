// The field type of `Tx::update_at` is turned into bytes without its `TYPE_ID` being evaluated.
use pobj::{Persistent, Pool};

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Pair<A, B> {
    a: A,
    b: B,
}

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Root {
    words: [u64; 4],
}

fn main() -> Result<(), pobj::Error> {
    let (pool, _medium) = Pool::<Root>::create_simulated("ui", 2 << 20)?;
    let root = pool.root_ptr();
    pool.transaction(|tx| tx.update_at(root, 0, Pair::<u8, u64> { a: 1, b: 2 }))
}
