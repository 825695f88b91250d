//! `tx_crash`: arbitrary transactions (with aborts) over a root, a list and buffers, under an
//! arbitrary crash choice; the recovered pool must hold the model's state before or after the
//! interrupted transaction. Written on the public fuzzing API (`pobj::crash::fuzz`).

use arbitrary::Arbitrary;

use pobj::crash::fuzz::{Fuzzer, Outcome, Run, Structure};
use pobj::{Error, PBytes, PPtr, Persistent, Pool, PoolOptions};

/// The root of the fuzzed pools.
#[derive(Persistent, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct FuzzRoot {
    /// Words modified by transactions.
    pub words: [u64; 16],
    /// A list of nodes.
    pub list: PPtr<FuzzNode>,
    /// A byte buffer.
    pub buf: PBytes,
    /// Nodes in the list.
    pub len: u64,
}

/// A list node.
#[derive(Persistent, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct FuzzNode {
    /// Payload.
    pub value: u64,
    /// A byte buffer owned by the node.
    pub data: PBytes,
    /// Next node.
    pub next: PPtr<FuzzNode>,
}

/// The layout name of fuzzed pools.
pub const LAYOUT: &str = "pobj-fuzz";
/// The size of fuzzed pools.
pub const SIZE: u64 = 4 << 20;

/// One operation inside a fuzzed transaction.
#[derive(Arbitrary, Clone, Debug)]
pub enum Op {
    /// Set a root word.
    SetWord(u8, u64),
    /// Push a node with a buffer of `len % 3000` bytes (or a large one when `len` > 60000).
    Push(u64, u16),
    /// Pop the head node.
    Pop,
    /// Replace the root buffer with `len` bytes of `byte`.
    SetBuf(u16, u8),
    /// Rewrite the head node's value.
    SetHead(u64),
}

/// One transaction.
#[derive(Arbitrary, Clone, Debug)]
pub struct TxSpec {
    /// Its operations (only the first [`MAX_TX_OPS`] run).
    pub ops: Vec<Op>,
    /// Whether it ends by returning an error (abort).
    pub abort: bool,
}

/// Operations per transaction that run; the rest of a drawn transaction is ignored.
pub const MAX_TX_OPS: usize = 6;

impl TxSpec {
    /// The operations that run.
    pub fn ops(&self) -> &[Op] {
        &self.ops[..self.ops.len().min(MAX_TX_OPS)]
    }
}

/// The model state the fuzzed pools are compared with.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Model {
    words: Vec<u64>,
    list: Vec<(u64, Vec<u8>)>,
    buf: Vec<u8>,
}

fn node_len(len: u16) -> usize {
    if len > 60000 {
        70_000 + usize::from(len)
    } else {
        usize::from(len) % 3000
    }
}

impl Model {
    /// The empty pool's state.
    pub fn new() -> Self {
        Model {
            words: vec![0; 16],
            list: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// Applies one operation of a committed transaction.
    pub fn apply(&mut self, op: &Op) {
        match *op {
            Op::SetWord(i, v) => self.words[usize::from(i) % 16] = v,
            Op::Push(v, len) => self.list.insert(0, (v, vec![v as u8; node_len(len)])),
            Op::Pop => {
                if !self.list.is_empty() {
                    self.list.remove(0);
                }
            }
            Op::SetBuf(len, b) => self.buf = vec![b; usize::from(len) % 5000],
            Op::SetHead(v) => {
                if let Some(h) = self.list.first_mut() {
                    h.0 = v;
                }
            }
        }
    }

    /// A short description (the words, the list's values and buffer lengths, the buffer's
    /// length), for messages.
    pub fn summary(&self) -> String {
        let list: Vec<_> = self.list.iter().map(|(v, d)| (v, d.len())).collect();
        format!(
            "words {:?}, list (value, bytes) {list:?}, buffer of {} bytes",
            self.words,
            self.buf.len()
        )
    }

    /// Reads a pool into a model, with bounded walks.
    pub fn read(pool: &Pool<FuzzRoot>) -> Result<Model, String> {
        let r = pool.root().map_err(|e| e.to_string())?;
        let mut list = Vec::new();
        let mut p = r.list;
        while !p.is_null() {
            if list.len() > 1000 {
                return Err("list too long (cycle?)".into());
            }
            let n = pool.get(p).map_err(|e| e.to_string())?;
            let d = pool.bytes(n.data).map_err(|e| e.to_string())?;
            list.push((n.value, d));
            p = n.next;
        }
        if list.len() as u64 != r.len {
            return Err(format!("len {} but {} nodes", r.len, list.len()));
        }
        let buf = if r.buf.is_null() {
            Vec::new()
        } else {
            pool.bytes(r.buf).map_err(|e| e.to_string())?
        };
        Ok(Model {
            words: r.words.to_vec(),
            list,
            buf,
        })
    }
}

fn apply_tx(tx: &mut pobj::Tx<'_, FuzzRoot>, op: &Op) -> Result<(), Error> {
    match *op {
        Op::SetWord(i, v) => tx.root_mut()?.words[usize::from(i) % 16] = v,
        Op::Push(v, len) => {
            let data = tx.alloc_bytes(&vec![v as u8; node_len(len)])?;
            let head = tx.root().list;
            let n = tx.alloc(FuzzNode {
                value: v,
                data,
                next: head,
            })?;
            let r = tx.root_mut()?;
            r.list = n;
            r.len += 1;
        }
        Op::Pop => {
            let head = tx.root().list;
            if !head.is_null() {
                let n = *tx.get(head)?;
                tx.free_bytes(n.data)?;
                tx.free(head)?;
                let r = tx.root_mut()?;
                r.list = n.next;
                r.len -= 1;
            }
        }
        Op::SetBuf(len, b) => {
            let old = tx.root().buf;
            if !old.is_null() {
                tx.free_bytes(old)?;
            }
            let nb = tx.alloc_bytes(&vec![b; usize::from(len) % 5000])?;
            tx.root_mut()?.buf = nb;
        }
        Op::SetHead(v) => {
            let head = tx.root().list;
            if !head.is_null() {
                tx.update_field(head, |n| &mut n.value, v)?;
            }
        }
    }
    Ok(())
}

/// Runs one fuzzed transaction; `Ok(true)` if it committed.
pub fn run_tx(pool: &Pool<FuzzRoot>, t: &TxSpec) -> Result<bool, Error> {
    let r = pool.transaction(|tx| {
        for op in t.ops() {
            apply_tx(tx, op)?;
        }
        if t.abort {
            Err(Error::TxAborted)
        } else {
            Ok(())
        }
    });
    match r {
        Ok(()) => Ok(true),
        Err(Error::TxAborted) if t.abort => Ok(false),
        // A full pool aborts the transaction; that is correct behaviour, not a failure.
        Err(Error::OutOfSpace { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The description of the `tx_crash` structure: the pool's root, list and buffers.
#[derive(Clone, Copy, Debug, Default)]
pub struct TxFuzz;

impl Structure for TxFuzz {
    type Root = FuzzRoot;
    type Store = Pool<FuzzRoot>;
    type Op = TxSpec;
    type Model = Model;

    fn layout(&self) -> &str {
        LAYOUT
    }

    fn pool_options(&self) -> PoolOptions {
        SIZE.into()
    }

    fn open(&self, pool: Pool<FuzzRoot>) -> Result<Pool<FuzzRoot>, String> {
        Ok(pool)
    }

    fn model(&self) -> Model {
        Model::new()
    }

    fn apply(&self, pool: &Pool<FuzzRoot>, t: &TxSpec) -> Result<Outcome, String> {
        match run_tx(pool, t) {
            Ok(true) => Ok(Outcome::Applied),
            Ok(false) => Ok(Outcome::Refused),
            Err(e) => Err(e.to_string()),
        }
    }

    fn apply_model(&self, model: &mut Model, t: &TxSpec) {
        for op in t.ops() {
            model.apply(op);
        }
    }

    fn check(&self, pool: &Pool<FuzzRoot>, before: &Model, after: &Model) -> Result<(), String> {
        let got = Model::read(pool)?;
        if &got == before || &got == after {
            Ok(())
        } else {
            Err(format!(
                "the recovered state is neither the state before nor after the interrupted \
                 transaction: {}",
                got.summary()
            ))
        }
    }
}

/// The `tx_crash` fuzzer: at most 12 transactions per input.
pub fn fuzzer() -> Fuzzer<TxFuzz> {
    Fuzzer::new(TxFuzz).max_ops(12)
}

/// The `tx_crash` target: what the run covered, or the failure's report if the recovered state is wrong.
pub fn tx_crash(data: &[u8]) -> Result<Run, String> {
    fuzzer().run(data).map_err(|f| f.to_string())
}
