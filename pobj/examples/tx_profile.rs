//! Runs the transaction micro-benchmark operations in a loop, for profilers (callgrind, perf):
//! `cargo run --release -p pobj --example tx_profile -- [alloc_into|snapshot|alloc|free] [N]`.

use pobj::{Error, PPtr, Persistent, Pool};

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Obj128 {
    words: [u64; 16],
}

#[derive(Persistent, Clone, Copy)]
#[repr(C)]
struct Root {
    data: [u64; 8],
    slot: PPtr<Obj128>,
}

fn main() -> Result<(), Error> {
    let what = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "alloc_into".into());
    let n: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        "/dev/shm".into()
    } else {
        std::env::temp_dir()
    };
    let path = std::path::Path::new(&dir).join(format!("tx-profile-{}.pool", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let pool = Pool::<Root>::create(&path, "profile", 256 << 20)?;
    let val = Obj128 { words: [7; 16] };
    let root = pool.root_ptr();
    let mut ptrs = Vec::with_capacity(n);
    let t = std::time::Instant::now();
    for i in 0..n {
        match what.as_str() {
            "alloc_into" => ptrs.push(pool.alloc_into(root, |r| &mut r.slot, val)?),
            "alloc" => ptrs.push(pool.transaction(|tx| tx.alloc(val))?),
            "snapshot" => pool.transaction(|tx| {
                tx.root_mut()?.data = [i as u64; 8];
                Ok::<_, Error>(())
            })?,
            _ => pool.transaction(|_| Ok::<_, Error>(()))?,
        }
    }
    let el = t.elapsed();
    println!(
        "{what}: {n} in {el:?} = {:.0} ns/op (mode {})",
        el.as_nanos() as f64 / n as f64,
        pool.persist_mode()
    );
    drop(pool);
    let _ = std::fs::remove_file(&path);
    Ok(())
}
