use pobj::{Error, Persistent, Pool};

#[derive(Persistent, Clone, Copy, Default, Debug)]
#[repr(C)]
struct Root {
    x: u64,
}

fn main() {
    let (pool, _sim) = Pool::<Root>::create_simulated("ui", 2 << 20).unwrap();
    let _ = pool.transaction(|tx| {
        std::thread::scope(|s| {
            s.spawn(|| tx.root_mut().map(|r| r.x = 1)).join().unwrap()
        })?;
        Ok::<_, Error>(())
    });
}
