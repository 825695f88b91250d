//! Creates a pool, stores a derived struct in its root, reopens it and prints it.
//!
//! `cargo run --release -p pobj --example bank [POOL]` (default: /dev/shm/pobj-bank.pool, or the
//! temporary directory where /dev/shm does not exist).

use pobj::{PPtr, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Account {
    id: u64,
    balance: u64,
    next: PPtr<Account>,
}

#[derive(Persistent, Clone, Copy, Debug, Default)]
#[repr(C)]
struct Root {
    head: PPtr<Account>,
    count: u64,
    total: u64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).map_or_else(
        || {
            let dir = std::path::Path::new("/dev/shm");
            let dir = if dir.is_dir() {
                dir.to_path_buf()
            } else {
                std::env::temp_dir()
            };
            dir.join("pobj-bank.pool")
        },
        std::path::PathBuf::from,
    );
    {
        let pool = Pool::<Root>::open_or_create(&path, "bank", 16 << 20)?;
        println!(
            "pool {} ({} MiB, persistence: {})",
            path.display(),
            pool.size() >> 20,
            pool.persist_mode()
        );
        pool.transaction(|tx| {
            let root = *tx.root();
            let acct = tx.alloc(Account {
                id: root.count + 1,
                balance: 100,
                next: root.head,
            })?;
            let r = tx.root_mut()?;
            r.head = acct;
            r.count += 1;
            r.total += 100;
            Ok::<_, pobj::Error>(())
        })?;
        let s = pool.stats();
        println!(
            "added account {}: {} fences, {} bytes flushed",
            pool.root()?.count,
            s.persist.fences,
            s.persist.bytes_flushed
        );
    } // dropped: unmapped and unlocked

    let pool = Pool::<Root>::open(&path, "bank")?;
    let root = pool.root()?;
    println!("reopened: {root:?}");
    let mut p = root.head;
    let mut n = 0;
    while !p.is_null() && n < 5 {
        let a = pool.get(p)?;
        println!("  {a:?}");
        p = a.next;
        n += 1;
    }
    if root.count > 5 {
        println!("  ... {} more", root.count - 5);
    }
    let report = pool.check();
    println!("check: {report}");
    Ok(())
}
