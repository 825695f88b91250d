//! The logic of the fuzz targets, as library code, so that a stable-toolchain test replays a
//! seed corpus and random inputs in `cargo test`, and `cargo fuzz` (in `fuzz/`) explores more.
//!
//! - [`open_damaged`]: arbitrary damage to a valid pool image (byte flips, zeroed, copied or
//!   random ranges, truncation); `open` must return `Ok` or a typed error, never panic; when it
//!   returns `Ok`, `check()`, reads and a transaction must return without panicking.
//! - [`tx_crash`]: an arbitrary sequence of transactions and an arbitrary crash choice on the
//!   simulated medium; the recovered pool must be all-or-nothing against a model.

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};

use pobj::crash::{Case, CrashTest, Granularity, Subset};
use pobj::{Error, PBytes, PPtr, Persistent, Pool};

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
    /// Its operations.
    pub ops: Vec<Op>,
    /// Whether it ends by returning an error (abort).
    pub abort: bool,
}

/// A `tx_crash` input: transactions, then where the crash comes and what survives it.
#[derive(Arbitrary, Clone, Debug)]
pub struct TxCrashInput {
    /// The transactions, in order.
    pub txs: Vec<TxSpec>,
    /// Crash point (taken modulo the number of fences).
    pub point: u16,
    /// Torn lines (words) instead of whole lines.
    pub words: bool,
    /// Which differing units survive.
    pub subset: u64,
    /// Also crash during recovery of that image.
    pub recovery: Option<(u8, u64)>,
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
    fn new() -> Self {
        Model {
            words: vec![0; 16],
            list: Vec::new(),
            buf: Vec::new(),
        }
    }

    fn apply(&mut self, op: &Op) {
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
        for op in &t.ops {
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

/// The `tx_crash` target: returns an error message if the recovered state is wrong.
pub fn tx_crash(data: &[u8]) -> Result<(), String> {
    let Ok(mut input) = TxCrashInput::arbitrary(&mut Unstructured::new(data)) else {
        return Ok(());
    };
    input.txs.truncate(12);
    for t in &mut input.txs {
        t.ops.truncate(6);
    }
    // First run: which transactions commit (a full pool aborts some), and how many crash
    // points there are, so that the chosen one exists.
    let count = CrashTest::new()
        .max_images_per_point(1)
        .recovery_every(0)
        .granularities(&[]);
    let txs = input.txs.clone();
    let committed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let c2 = std::sync::Arc::clone(&committed);
    let report = count
        .run::<FuzzRoot, _, _, _>(
            LAYOUT,
            SIZE,
            |_| Ok(()),
            txs.len(),
            |p, i| {
                let ok = run_tx(p, &txs[i]).map_err(|e| e.to_string())?;
                c2.lock().map_err(|_| "poisoned".to_string())?.push(ok);
                Ok(())
            },
            |_, _| Ok(()),
        )
        .map_err(|f| f.to_string())?;
    if report.points == 0 {
        return Ok(());
    }
    let committed = committed
        .lock()
        .map_err(|_| "poisoned".to_string())?
        .clone();
    let mut states = vec![Model::new()];
    for (t, ok) in input.txs.iter().zip(&committed) {
        let mut m = states[states.len() - 1].clone();
        if *ok {
            for op in &t.ops {
                m.apply(op);
            }
        }
        states.push(m);
    }
    let granularity = if input.words {
        Granularity::Word
    } else {
        Granularity::Line
    };
    let case = Case {
        point: u64::from(input.point) % report.points,
        granularity,
        subset: Subset::Random(input.subset),
        recovery: input
            .recovery
            .map(|(p, s)| (u64::from(p) % 8, granularity, Subset::Random(s))),
    };
    let txs = input.txs.clone();
    CrashTest::new()
        .replay(case)
        .run::<FuzzRoot, _, _, _>(
            LAYOUT,
            SIZE,
            |_| Ok(()),
            txs.len(),
            |p, i| run_tx(p, &txs[i]).map(|_| ()).map_err(|e| e.to_string()),
            move |pool, done| {
                let got = Model::read(pool)?;
                if got == states[done] || states.get(done + 1) == Some(&got) {
                    Ok(())
                } else {
                    Err(format!(
                        "state after crash is neither before nor after transaction {done}"
                    ))
                }
            },
        )
        .map(|_| ())
        .map_err(|f| f.to_string())
}

/// Base images for `open_damaged`: a pool with content, and a post-crash image whose lanes
/// hold an unfinished transaction (so that damage also reaches recovery).
pub fn base_images() -> Result<&'static [Vec<u8>; 2], String> {
    static IMAGES: OnceLock<Result<[Vec<u8>; 2], String>> = OnceLock::new();
    IMAGES
        .get_or_init(build_base_images)
        .as_ref()
        .map_err(Clone::clone)
}

fn build_base_images() -> Result<[Vec<u8>; 2], String> {
    let (pool, sim) =
        Pool::<FuzzRoot>::create_simulated(LAYOUT, SIZE).map_err(|e| e.to_string())?;
    let txs = [
        TxSpec {
            ops: vec![
                Op::Push(1, 10),
                Op::Push(2, 2000),
                Op::SetBuf(300, 7),
                Op::SetWord(3, 9),
            ],
            abort: false,
        },
        TxSpec {
            ops: vec![Op::Push(3, 65000), Op::Push(4, 0)],
            abort: false,
        },
    ];
    for t in &txs {
        run_tx(&pool, t).map_err(|e| e.to_string())?;
    }
    let clean = sim.persisted_image();
    // Capture the working image in the middle of a transaction with several entries.
    let captured = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let captured = std::sync::Arc::clone(&captured);
        sim.set_hook(Some(Box::new(move |cp| {
            if cp.index % 3 == 2 {
                if let Ok(mut c) = captured.lock() {
                    if c.is_empty() {
                        *c = cp.working();
                    }
                }
            }
        })));
    }
    let t = TxSpec {
        ops: vec![
            Op::SetWord(1, 5),
            Op::Pop,
            Op::Push(5, 100),
            Op::SetHead(8),
            Op::SetBuf(10, 1),
        ],
        abort: false,
    };
    run_tx(&pool, &t).map_err(|e| e.to_string())?;
    sim.set_hook(None);
    let mid = captured.lock().map(|c| c.clone()).unwrap_or_default();
    let mid = if mid.len() < clean.len() {
        clean.clone()
    } else {
        mid[..clean.len()].to_vec()
    };
    Ok([clean, mid])
}

/// One kind of damage.
#[derive(Arbitrary, Clone, Debug)]
pub enum Damage {
    /// XOR a byte.
    Flip {
        /// Where (see [`Damage`]'s offset mapping).
        at: u32,
        /// With what.
        mask: u8,
    },
    /// Zero a range.
    Zero {
        /// Where.
        at: u32,
        /// How long (up to 4 KiB).
        len: u16,
    },
    /// Copy a range elsewhere.
    Copy {
        /// From.
        from: u32,
        /// To.
        to: u32,
        /// How long (up to 4 KiB).
        len: u16,
    },
    /// Overwrite with given bytes.
    Write {
        /// Where.
        at: u32,
        /// What.
        bytes: Vec<u8>,
    },
    /// Set an aligned 8-byte word.
    Word {
        /// Where (8-aligned).
        at: u32,
        /// Value.
        value: u64,
    },
    /// Truncate the file.
    Truncate {
        /// New length.
        len: u32,
    },
}

/// An `open_damaged` input.
#[derive(Arbitrary, Clone, Debug)]
pub struct DamageInput {
    /// Which base image.
    pub mid_transaction: bool,
    /// The damage, applied in order.
    pub damage: Vec<Damage>,
}

/// Maps a fuzzed offset into the image, biased towards metadata: the header page, the lanes,
/// the chunk table and the first chunks' run headers.
fn place(at: u32, len: usize) -> usize {
    let region = at >> 28;
    let off = (at & 0x0fff_ffff) as usize;
    let o = match region {
        0..=3 => off % 4096,                    // header page
        4..=7 => 4096 + off % (32 * 8192),      // lanes
        8..=9 => 4096 + 32 * 8192 + off % 4096, // chunk table
        10..=12 => {
            // Starts of chunks: run descriptors, bitmaps, object headers.
            let base = 4096 + 32 * 8192 + 4096;
            base + (off >> 12) % 8 * (256 << 10) + off % 2048
        }
        _ => off,
    };
    o % len.max(1)
}

fn damage(img: &mut Vec<u8>, d: &Damage) {
    let n = img.len();
    if n == 0 {
        return;
    }
    match d {
        Damage::Flip { at, mask } => {
            let i = place(*at, n);
            img[i] ^= mask;
        }
        Damage::Zero { at, len } => {
            let i = place(*at, n);
            let e = (i + usize::from(*len) % 4096).min(n);
            img[i..e].fill(0);
        }
        Damage::Copy { from, to, len } => {
            let (f, t) = (place(*from, n), place(*to, n));
            let l = (usize::from(*len) % 4096).min(n - f).min(n - t);
            img.copy_within(f..f + l, t);
        }
        Damage::Write { at, bytes } => {
            let i = place(*at, n);
            let l = bytes.len().min(n - i);
            img[i..i + l].copy_from_slice(&bytes[..l]);
        }
        Damage::Word { at, value } => {
            let i = place(*at, n) / 8 * 8;
            if i + 8 <= n {
                img[i..i + 8].copy_from_slice(&value.to_le_bytes());
            }
        }
        Damage::Truncate { len } => {
            let l = (*len as usize) % (n + 1);
            img.truncate(l);
        }
    }
}

/// What happened to one damaged image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DamageOutcome {
    /// `open` refused it with a typed error.
    Refused(String),
    /// It opened; `check()` reported these problems (possibly none).
    Opened {
        /// Problems `check()` found.
        problems: usize,
    },
}

/// The `open_damaged` target. Panics (the fuzzer's failure signal) only through a bug.
pub fn open_damaged(data: &[u8]) -> DamageOutcome {
    let Ok(input) = DamageInput::arbitrary(&mut Unstructured::new(data)) else {
        return DamageOutcome::Refused("no input".into());
    };
    let mut img = match base_images() {
        Ok(b) => b[usize::from(input.mid_transaction)].clone(),
        Err(e) => return DamageOutcome::Refused(format!("no base image: {e}")),
    };
    for d in input.damage.iter().take(16) {
        damage(&mut img, d);
    }
    let pool = match Pool::<FuzzRoot>::open_image(&img, LAYOUT) {
        Ok((pool, _)) => pool,
        Err(e) => return DamageOutcome::Refused(e.to_string()),
    };
    let report = pool.check();
    // Reads and a transaction return (Ok or Err) without panicking.
    let _ = Model::read(&pool);
    let _ = run_tx(
        &pool,
        &TxSpec {
            ops: vec![
                Op::SetWord(0, 1),
                Op::Push(9, 100),
                Op::Pop,
                Op::SetBuf(50, 3),
            ],
            abort: false,
        },
    );
    let _ = pool.check();
    DamageOutcome::Opened {
        problems: report.problems.len(),
    }
}

// ---- kv_crash --------------------------------------------------------------------------------

/// One key-value operation of a `kv_crash` input.
#[derive(Arbitrary, Clone, Debug)]
pub enum KvOp {
    /// Put key `k` (one of 256 keys of varying length) with `len % 300` bytes of `byte`
    /// (out of line above 120 bytes in all).
    Put(u8, u16, u8),
    /// Remove key `k`.
    Remove(u8),
    /// A batch of puts (`Some`) and removes (`None`).
    Batch(Vec<(u8, Option<(u16, u8)>)>),
}

/// A `kv_crash` input.
#[derive(Arbitrary, Clone, Debug)]
pub struct KvCrashInput {
    /// The operations.
    pub ops: Vec<KvOp>,
    /// Crash point (modulo the number of fences).
    pub point: u16,
    /// Torn lines.
    pub words: bool,
    /// Which differing units survive.
    pub subset: u64,
}

fn kv_key(k: u8) -> Vec<u8> {
    let mut v = format!("k{k:03}").into_bytes();
    v.extend(std::iter::repeat_n(b'.', usize::from(k % 7) * 3));
    v
}

type KvModel = std::collections::BTreeMap<Vec<u8>, Vec<u8>>;

fn kv_apply(m: &mut KvModel, op: &KvOp) {
    match op {
        KvOp::Put(k, len, b) => {
            m.insert(kv_key(*k), vec![*b; usize::from(*len) % 300]);
        }
        KvOp::Remove(k) => {
            m.remove(&kv_key(*k));
        }
        KvOp::Batch(ops) => {
            for (k, v) in ops {
                match v {
                    Some((len, b)) => m.insert(kv_key(*k), vec![*b; usize::from(*len) % 300]),
                    None => m.remove(&kv_key(*k)),
                };
            }
        }
    }
}

fn kv_run(db: &pobj_kv::Db, op: &KvOp) -> Result<(), pobj_kv::Error> {
    match op {
        KvOp::Put(k, len, b) => db.put(kv_key(*k), vec![*b; usize::from(*len) % 300]),
        KvOp::Remove(k) => db.remove(kv_key(*k)).map(|_| ()),
        KvOp::Batch(ops) => {
            let mut wb = pobj_kv::WriteBatch::new();
            for (k, v) in ops {
                match v {
                    Some((len, b)) => wb.put(kv_key(*k), vec![*b; usize::from(*len) % 300]),
                    None => wb.remove(kv_key(*k)),
                };
            }
            db.write(&wb)
        }
    }
}

/// The `kv_crash` target: arbitrary puts, removes and batches and a crash choice; the
/// recovered store must pass `Db::check` and hold the contents before or after the interrupted
/// operation.
pub fn kv_crash(data: &[u8]) -> Result<(), String> {
    let Ok(mut input) = KvCrashInput::arbitrary(&mut Unstructured::new(data)) else {
        return Ok(());
    };
    input.ops.truncate(60);
    for op in &mut input.ops {
        if let KvOp::Batch(b) = op {
            b.truncate(16);
        }
    }
    let open =
        |pool: Pool<pobj_kv::KvRoot>| pobj_kv::Db::from_pool(pool).map_err(|e| e.to_string());
    let ops = input.ops.clone();
    let committed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let c2 = std::sync::Arc::clone(&committed);
    let report = CrashTest::new()
        .granularities(&[])
        .recovery_every(0)
        .run_store(
            pobj_kv::LAYOUT,
            SIZE,
            open,
            |_| Ok(()),
            ops.len(),
            |db: &pobj_kv::Db, i| {
                let ok = match kv_run(db, &ops[i]) {
                    Ok(()) => true,
                    Err(pobj_kv::Error::OutOfSpace { .. }) => false,
                    Err(e) => return Err(e.to_string()),
                };
                c2.lock().map_err(|_| "poisoned".to_string())?.push(ok);
                Ok(())
            },
            |_: &pobj_kv::Db, _| Ok(()),
        )
        .map_err(|f| f.to_string())?;
    if report.points == 0 {
        return Ok(());
    }
    let committed = committed
        .lock()
        .map_err(|_| "poisoned".to_string())?
        .clone();
    let mut states = vec![KvModel::new()];
    for (op, ok) in input.ops.iter().zip(&committed) {
        let mut m = states[states.len() - 1].clone();
        if *ok {
            kv_apply(&mut m, op);
        }
        states.push(m);
    }
    let granularity = if input.words {
        Granularity::Word
    } else {
        Granularity::Line
    };
    let case = Case {
        point: u64::from(input.point) % report.points,
        granularity,
        subset: Subset::Random(input.subset),
        recovery: None,
    };
    let ops = input.ops.clone();
    CrashTest::new()
        .replay(case)
        .run_store(
            pobj_kv::LAYOUT,
            SIZE,
            open,
            |_| Ok(()),
            ops.len(),
            |db: &pobj_kv::Db, i| match kv_run(db, &ops[i]) {
                Ok(()) | Err(pobj_kv::Error::OutOfSpace { .. }) => Ok(()),
                Err(e) => Err(e.to_string()),
            },
            move |db: &pobj_kv::Db, done| {
                let report = db.check();
                if !report.is_ok() {
                    return Err(format!("Db::check: {report}"));
                }
                let got: KvModel = db
                    .iter()
                    .collect::<Result<_, _>>()
                    .map_err(|e| e.to_string())?;
                if got == states[done] || states.get(done + 1) == Some(&got) {
                    Ok(())
                } else {
                    Err(format!(
                        "store contents are neither before nor after operation {done}"
                    ))
                }
            },
        )
        .map(|_| ())
        .map_err(|f| f.to_string())
}
