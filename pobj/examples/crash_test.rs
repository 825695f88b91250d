//! Crash-testing your own persistent structure: a bank whose transfers must never create or
//! destroy money, and whose transfer log must match the balances, under power failure at every
//! fence.
//!
//! `cargo run --release -p pobj --example crash_test`

use pobj::crash::CrashTest;
use pobj::{Error, PPtr, Persistent, Pool};

/// One transfer record, in a singly linked log.
#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Transfer {
    from: u32,
    to: u32,
    amount: u64,
    prev: PPtr<Transfer>,
}

/// The root: eight accounts and the head of the transfer log.
#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
struct Bank {
    balances: [u64; 8],
    log: PPtr<Transfer>,
    transfers: u64,
}

const OPS: usize = 40;

/// Operation i: a deterministic transfer (so that a model can be computed up front).
fn transfer(i: usize) -> (usize, usize, u64) {
    let from = i % 8;
    let to = (i * 5 + 3) % 8;
    (from, to, 10 + (i as u64 * 7) % 90)
}

fn main() {
    // The model: balances after each operation.
    let mut states = vec![[1000u64; 8]];
    for i in 0..OPS {
        let mut b = states[i];
        let (from, to, amount) = transfer(i);
        let amount = amount.min(b[from]);
        b[from] -= amount;
        b[to] += amount;
        states.push(b);
    }

    let result = CrashTest::new().seed(42).run::<Bank, _, _, _>(
        "bank",
        pobj::MIN_POOL_SIZE,
        // Setup (not crash-tested): open the accounts.
        |pool| {
            pool.transaction(|tx| {
                tx.root_mut()?.balances = [1000; 8];
                Ok::<_, Error>(())
            })
            .map_err(|e| e.to_string())
        },
        OPS,
        // The workload: one transaction per operation.
        |pool, i| {
            let (from, to, amount) = transfer(i);
            pool.transaction(|tx| {
                let bank = *tx.root();
                let amount = amount.min(bank.balances[from]);
                let rec = tx.alloc(Transfer {
                    from: from as u32,
                    to: to as u32,
                    amount,
                    prev: bank.log,
                })?;
                let b = tx.root_mut()?;
                b.balances[from] -= amount;
                b.balances[to] += amount;
                b.log = rec;
                b.transfers += 1;
                Ok::<_, Error>(())
            })
            .map_err(|e| e.to_string())
        },
        // The checker: called on every recovered post-crash image with the number of
        // operations that had returned when the power failed.
        move |pool: &Pool<Bank>, done| {
            let bank = pool.root().map_err(|e| e.to_string())?;
            if bank.balances.iter().sum::<u64>() != 8000 {
                return Err(format!("money created or destroyed: {:?}", bank.balances));
            }
            let n = bank.transfers as usize;
            if n != done && n != done + 1 {
                return Err(format!("{n} transfers recorded after {done} returned"));
            }
            if bank.balances != states[n] {
                return Err(format!(
                    "balances {:?} differ from the model after {n} transfers",
                    bank.balances
                ));
            }
            // The log holds exactly `n` records.
            let mut p = bank.log;
            let mut len = 0;
            while !p.is_null() {
                p = pool.get(p).map_err(|e| e.to_string())?.prev;
                len += 1;
            }
            if len != n {
                return Err(format!("log has {len} records, counter says {n}"));
            }
            Ok(())
        },
    );
    match result {
        Ok(report) => println!("bank survives power failure at every fence: {report}"),
        Err(failure) => {
            eprintln!("{failure}");
            std::process::exit(1);
        }
    }
}
