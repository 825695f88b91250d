//! A bank kept in a pool, and its description for crash fuzzing.
//!
//! The first half is "your structure": eight accounts and a linked log of transfers in the
//! pool's root, changed in transactions. The second half is what this template asks you to
//! write for your own structure: a [`Structure`] that says how to set it up, which operations
//! exist, how to apply one to the pool and to a model, and how to check a recovered pool
//! against the model. Everything else — drawing operations and a crash from the fuzzer's
//! bytes, running them on a simulated medium, building the post-crash image, recovery, the
//! report — is [`Fuzzer`]'s.

#![warn(missing_docs)]

use arbitrary::Arbitrary;
use pobj::crash::fuzz::{Fuzzer, Outcome, Structure};
use pobj::{Error, PPtr, Persistent, Pool};

// ---- your structure ------------------------------------------------------------------------

/// Accounts in the bank.
pub const ACCOUNTS: usize = 8;
/// Each account's opening balance.
pub const OPENING: u64 = 1000;
/// The `from` of a deposit's log record.
pub const CASH: u32 = u32::MAX;

/// One record of the transfer log.
#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
pub struct Transfer {
    /// The account debited, or [`CASH`] for a deposit.
    pub from: u32,
    /// The account credited.
    pub to: u32,
    /// The amount moved.
    pub amount: u64,
    /// The previous record.
    pub prev: PPtr<Transfer>,
}

/// The pool's root: the balances and the newest log record.
#[derive(Persistent, Clone, Copy, Debug)]
#[repr(C)]
pub struct Bank {
    /// The accounts' balances.
    pub balances: [u64; ACCOUNTS],
    /// The newest record of the log.
    pub log: PPtr<Transfer>,
    /// Records in the log.
    pub records: u64,
}

/// Moves up to `amount` from one account to another (no more than the balance), and logs it.
pub fn transfer(pool: &Pool<Bank>, from: usize, to: usize, amount: u64) -> Result<(), Error> {
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
        b.records += 1;
        Ok(())
    })
}

/// Adds cash to an account, and logs it.
pub fn deposit(pool: &Pool<Bank>, to: usize, amount: u64) -> Result<(), Error> {
    pool.transaction(|tx| {
        let bank = *tx.root();
        let rec = tx.alloc(Transfer {
            from: CASH,
            to: to as u32,
            amount,
            prev: bank.log,
        })?;
        let b = tx.root_mut()?;
        b.balances[to] += amount;
        b.log = rec;
        b.records += 1;
        Ok(())
    })
}

/// Reverses the newest record and frees it; `false` if the log is empty.
pub fn undo(pool: &Pool<Bank>) -> Result<bool, Error> {
    pool.transaction(|tx| {
        let bank = *tx.root();
        if bank.log.is_null() {
            return Ok(false);
        }
        let rec = *tx.get(bank.log)?;
        let b = tx.root_mut()?;
        let to = rec.to as usize % ACCOUNTS;
        b.balances[to] = b.balances[to].saturating_sub(rec.amount);
        if rec.from != CASH {
            b.balances[rec.from as usize % ACCOUNTS] += rec.amount;
        }
        b.log = rec.prev;
        b.records -= 1;
        tx.free(bank.log)?;
        Ok(true)
    })
}

// ---- its description for crash fuzzing -----------------------------------------------------

/// An operation, drawn from fuzzer bytes by `arbitrary`.
#[derive(Arbitrary, Clone, Debug)]
pub enum BankOp {
    /// Transfer between accounts `from % 8` and `to % 8`.
    Transfer {
        /// The account debited.
        from: u8,
        /// The account credited.
        to: u8,
        /// The amount asked for.
        amount: u16,
    },
    /// A deposit into account `to % 8`.
    Deposit {
        /// The account credited.
        to: u8,
        /// The amount.
        amount: u16,
    },
    /// Undo the newest record.
    Undo,
}

/// The model: what the bank must hold, as plain values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BankModel {
    /// The balances.
    pub balances: [u64; ACCOUNTS],
    /// The log, oldest first: (from, to, amount).
    pub log: Vec<(u32, u32, u64)>,
}

/// The bank, described for [`Fuzzer`].
#[derive(Clone, Copy, Debug, Default)]
pub struct BankFuzz;

impl Structure for BankFuzz {
    type Root = Bank;
    // The bank lives in the root, so the store is the pool itself.
    type Store = Pool<Bank>;
    type Op = BankOp;
    type Model = BankModel;

    fn layout(&self) -> &str {
        "bank"
    }

    fn open(&self, pool: Pool<Bank>) -> Result<Pool<Bank>, String> {
        Ok(pool)
    }

    fn setup(&self, pool: &Pool<Bank>) -> Result<(), String> {
        pool.transaction(|tx| {
            tx.root_mut()?.balances = [OPENING; ACCOUNTS];
            Ok::<_, Error>(())
        })
        .map_err(|e| e.to_string())
    }

    fn model(&self) -> BankModel {
        BankModel {
            balances: [OPENING; ACCOUNTS],
            log: Vec::new(),
        }
    }

    fn apply(&self, pool: &Pool<Bank>, op: &BankOp) -> Result<Outcome, String> {
        let r = match *op {
            BankOp::Transfer { from, to, amount } => transfer(
                pool,
                usize::from(from) % ACCOUNTS,
                usize::from(to) % ACCOUNTS,
                u64::from(amount),
            ),
            BankOp::Deposit { to, amount } => {
                deposit(pool, usize::from(to) % ACCOUNTS, u64::from(amount))
            }
            BankOp::Undo => undo(pool).map(|_| ()),
        };
        match r {
            Ok(()) => Ok(Outcome::Applied),
            // A full pool refuses the transaction as a whole; the model stays as it was.
            Err(Error::OutOfSpace { .. }) => Ok(Outcome::Refused),
            Err(e) => Err(e.to_string()),
        }
    }

    fn apply_model(&self, m: &mut BankModel, op: &BankOp) {
        match *op {
            BankOp::Transfer { from, to, amount } => {
                let (from, to) = (usize::from(from) % ACCOUNTS, usize::from(to) % ACCOUNTS);
                let amount = u64::from(amount).min(m.balances[from]);
                m.balances[from] -= amount;
                m.balances[to] += amount;
                m.log.push((from as u32, to as u32, amount));
            }
            BankOp::Deposit { to, amount } => {
                let to = usize::from(to) % ACCOUNTS;
                m.balances[to] += u64::from(amount);
                m.log.push((CASH, to as u32, u64::from(amount)));
            }
            BankOp::Undo => {
                if let Some((from, to, amount)) = m.log.pop() {
                    let to = to as usize;
                    m.balances[to] = m.balances[to].saturating_sub(amount);
                    if from != CASH {
                        m.balances[from as usize] += amount;
                    }
                }
            }
        }
    }

    fn check(
        &self,
        pool: &Pool<Bank>,
        before: &BankModel,
        after: &BankModel,
    ) -> Result<(), String> {
        let got = read(pool, before.log.len().max(after.log.len()))?;
        if &got == before || &got == after {
            Ok(())
        } else {
            Err(format!(
                "the recovered bank is neither the state before nor after the interrupted \
                 operation: balances {:?}, {} records (before: {:?}, {} records; after: {:?}, \
                 {} records)",
                got.balances,
                got.log.len(),
                before.balances,
                before.log.len(),
                after.balances,
                after.log.len()
            ))
        }
    }
}

/// Reads the bank into a model, walking at most `limit + 1` records (a recovered log must not
/// be trusted to end).
fn read(pool: &Pool<Bank>, limit: usize) -> Result<BankModel, String> {
    let bank = pool.root().map_err(|e| e.to_string())?;
    let mut log = Vec::new();
    let mut p = bank.log;
    while !p.is_null() {
        if log.len() > limit {
            return Err(format!("the log is longer than {limit} records (a cycle?)"));
        }
        let rec = pool.get(p).map_err(|e| e.to_string())?;
        log.push((rec.from, rec.to, rec.amount));
        p = rec.prev;
    }
    log.reverse();
    if log.len() as u64 != bank.records {
        return Err(format!(
            "the root counts {} records, the log holds {}",
            bank.records,
            log.len()
        ));
    }
    Ok(BankModel {
        balances: bank.balances,
        log,
    })
}

/// Operations drawn from one input.
pub const MAX_OPS: usize = 24;

/// The fuzzer of the bank: at most [`MAX_OPS`] operations per input.
pub fn fuzzer() -> Fuzzer<BankFuzz> {
    Fuzzer::new(BankFuzz).max_ops(MAX_OPS)
}
