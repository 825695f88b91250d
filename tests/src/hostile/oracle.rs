//! The oracle: opens a mutated image and holds pobj to its promises about untrusted bytes.

use super::{
    bases, descriptor, mpsc, pattern, store_oracle, walk_lane, AssertUnwindSafe, BaseKind, Bases,
    Case, Cell, Error, Geometry, HashSet, HostileNode, HostileRoot, KvRoot, Leaf, ObjectInfo,
    PBytes, PPtr, Persistent, Pool, ALLOC_ROUND, BYTES_TYPE_ID, CASE_TIMEOUT, LARGE_PAYLOAD,
    LAYOUT, OBJ_HEADER, RUN_DATA, SECOND_ROUND, WRITES,
};

/// What one case did (when the libraries behaved).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Its base image.
    pub base: BaseKind,
    /// Mutations applied.
    pub mutations: usize,
    /// The kind of error open refused it with, if it did.
    pub refused: Option<String>,
    /// It opened and its check (`Pool::check`, or `Db::check` for a store) reported problems.
    pub check_problems: bool,
    /// Operations run on the opened pool and store.
    pub operations: u64,
}

/// A short name for an error's kind (`Corrupted` with its `what`).
pub fn error_kind(e: &Error) -> String {
    match e {
        Error::Corrupted { what, .. } => format!("Corrupted({what})"),
        e => {
            let d = format!("{e:?}");
            d.split([' ', '{', '(']).next().unwrap_or("?").to_string()
        }
    }
}

pub(crate) fn kv_error_kind(e: &pobj_kv::Error) -> String {
    match e {
        pobj_kv::Error::Pool(p) => error_kind(p),
        pobj_kv::Error::Corrupted { what, .. } => format!("kv Corrupted({what})"),
        e => {
            let d = format!("{e:?}");
            format!("kv {}", d.split([' ', '{', '(']).next().unwrap_or("?"))
        }
    }
}

/// Runs one input: the case it decodes to, on a worker thread. `Err` is a failure of the
/// libraries (a panic, a hang, or a broken promise), with a message naming the case.
pub fn check_case(input: &[u8]) -> Result<Outcome, String> {
    let case = Case::decode(input);
    check(&case).map_err(|e| format!("{e} (input {input:02x?})"))
}

/// Runs one case on a worker thread (see [`check_case`]).
pub fn check(case: &Case) -> Result<Outcome, String> {
    let name = |symptom: String| format!("hostile_pool case {case:?} failed: {symptom}");
    let bases = bases().map_err(name)?;
    let (tx, rx) = mpsc::channel();
    let c = case.clone();
    let worker = std::thread::Builder::new()
        .name("hostile-case".into())
        .spawn(move || {
            let stage = Cell::new("start");
            let r = std::panic::catch_unwind(AssertUnwindSafe(|| run_case(bases, &c, &stage)));
            let _ = tx.send(r.map_err(|p| {
                let msg = p
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(no message)".into());
                format!("panic during {}: {msg}", stage.get())
            }));
        })
        .map_err(|e| name(format!("cannot start the worker thread: {e}")))?;
    match rx.recv_timeout(CASE_TIMEOUT) {
        Ok(r) => {
            let _ = worker.join();
            r.and_then(|o| o).map_err(name)
        }
        Err(mpsc::RecvTimeoutError::Timeout) => Err(name(format!(
            "no result within {} s (a hang)",
            CASE_TIMEOUT.as_secs()
        ))),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(name("the worker ended without a result".into()))
        }
    }
}

pub(crate) fn run_case(
    bases: &Bases,
    case: &Case,
    stage: &Cell<&'static str>,
) -> Result<Outcome, String> {
    let img = case.image(bases);
    let mut rng = Rng::new(case.ops);
    let mut out = Outcome {
        base: case.base,
        mutations: case.mutations.len(),
        refused: None,
        check_problems: false,
        operations: 0,
    };
    match case.base {
        BaseKind::Pool | BaseKind::MidTx => {
            pool_oracle::<HostileRoot>(&img, LAYOUT, &mut rng, &mut out, stage)?;
        }
        BaseKind::Store => {
            let mut pool_view = out.clone();
            pool_oracle::<KvRoot>(&img, pobj_kv::LAYOUT, &mut rng, &mut pool_view, stage)?;
            out.operations = pool_view.operations;
            store_oracle(&img, &bases.keys, &mut rng, &mut out, stage)?;
        }
    }
    Ok(out)
}

/// A small deterministic generator for the operations.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng((seed ^ 0x2545_F491_4F6C_DD1D) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Byte ranges of live objects: the ones listed at open, plus ours, minus ours freed.
#[derive(Default)]
pub(crate) struct Ranges(Vec<(u64, u64, u64)>);

impl Ranges {
    pub(crate) fn insert(&mut self, off: u64, start: u64, end: u64) -> Result<(), String> {
        if let Some(&(o, s, e)) = self.0.iter().find(|&&(_, s, e)| start < e && s < end) {
            return Err(format!(
                "the block at {off:#x} ({start:#x}..{end:#x}) overlaps the live object at {o:#x} ({s:#x}..{e:#x})"
            ));
        }
        self.0.push((off, start, end));
        Ok(())
    }

    pub(crate) fn remove(&mut self, off: u64) {
        self.0.retain(|r| r.0 != off);
    }
}

/// No two listed objects overlap, and each lies in the heap.
pub(crate) fn no_overlaps(objs: &[ObjectInfo], g: &Geometry, when: &str) -> Result<(), String> {
    let mut spans: Vec<(u64, u64, u64)> = objs
        .iter()
        .map(|o| {
            (
                o.offset - OBJ_HEADER.min(o.offset),
                o.offset + o.capacity,
                o.offset,
            )
        })
        .collect();
    spans.sort_unstable();
    for s in &spans {
        let heap_end = g.chunk(g.chunk_count);
        if s.0 < g.chunk_base || s.1 > heap_end {
            return Err(format!(
                "{when}: listed object at {:#x} ({:#x}..{:#x}) lies outside the heap",
                s.2, s.0, s.1
            ));
        }
    }
    for w in spans.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(format!(
                "{when}: listed objects at {:#x} ({:#x}..{:#x}) and {:#x} ({:#x}..{:#x}) overlap",
                w[0].2, w[0].0, w[0].1, w[1].2, w[1].0, w[1].1
            ));
        }
    }
    Ok(())
}

/// Resolves `off` through the byte-buffer API: `Ok(Some((type id, length)))` if it resolves
/// as a live object (the length only for a buffer), `Ok(None)` if it is not one, `Err` for any
/// other answer. `length_only` uses `bytes_len` (the same resolution, cheaper for the many
/// probes: no copy) instead of `read_bytes`.
pub(crate) fn resolves<R: Persistent>(
    pool: &Pool<R>,
    off: u64,
    length_only: bool,
) -> Result<Option<(u64, u64)>, Error> {
    let p = PBytes::from_offset(off);
    let r = if length_only {
        pool.bytes_len(p)
    } else {
        pool.read_bytes(p, |b| b.len() as u64)
    };
    match r {
        Ok(len) => Ok(Some((BYTES_TYPE_ID, len))),
        // A shared buffer (a store's out-of-line entry) resolved; its length comes from
        // `bytes_len`, which lends no reference.
        Err(Error::SharedObject { .. }) => Ok(Some((BYTES_TYPE_ID, pool.bytes_len(p)?))),
        Err(Error::TypeMismatch { found, .. }) => Ok(Some((found, 0))),
        Err(Error::InvalidPointer { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A copy of a byte buffer, shared (a store's out-of-line entry, copied in a transaction with
/// atomic loads) or not.
fn any_bytes<R: Persistent>(pool: &Pool<R>, p: PBytes) -> Result<Vec<u8>, Error> {
    match pool.bytes(p) {
        Err(Error::SharedObject { .. }) => pool.transaction(|tx| {
            let mut out = vec![0u8; tx.bytes_len(p)? as usize];
            tx.load_bytes(p, 0, &mut out)?;
            Ok(out)
        }),
        r => r,
    }
}

/// One of our own objects.
pub(crate) struct Mine {
    pub(crate) off: u64,
    /// A byte buffer's contents, or `None` for a node.
    pub(crate) data: Option<Vec<u8>>,
    /// A node's value.
    pub(crate) value: u64,
}

pub(crate) const SIZES: [usize; 9] = [16, 40, 100, 400, 1000, 5000, 20_000, 70_000, 150_000];

pub(crate) fn pool_oracle<R: Persistent>(
    img: &[u8],
    layout: &str,
    rng: &mut Rng,
    out: &mut Outcome,
    stage: &Cell<&'static str>,
) -> Result<(), String> {
    let g = Geometry::read(img).ok_or("the mutated image has no header")?;
    stage.set("Pool::open_image");
    let (pool, sim) = match Pool::<R>::open_image(img, layout) {
        Ok(opened) => opened,
        Err(e) => {
            out.refused = Some(error_kind(&e));
            return Ok(());
        }
    };
    stage.set("Pool::check at open");
    let problems0 = pool.check().problems;
    out.check_problems = !problems0.is_empty();
    stage.set("Pool::objects at open");
    let objs = pool
        .objects()
        .map_err(|e| format!("objects() failed on a pool that opened: {e}"))?;
    no_overlaps(&objs, &g, "at open")?;

    // Every listed object resolves, as what its header says.
    stage.set("resolving listed objects");
    let listed: HashSet<u64> = objs.iter().map(|o| o.offset).collect();
    for o in &objs {
        match resolves(&pool, o.offset, false) {
            Ok(Some((t, len))) if t == o.type_id && (t != BYTES_TYPE_ID || len == o.size) => {}
            r => {
                return Err(format!(
                    "listed object {o:?} does not resolve as listed: {r:?}"
                ))
            }
        }
        let typed = if o.type_id == HostileNode::TYPE_ID
            && o.size == std::mem::size_of::<HostileNode>() as u64
        {
            pool.get(PPtr::<HostileNode>::from_offset(o.offset)).err()
        } else if o.type_id == R::TYPE_ID
            && o.size == std::mem::size_of::<R>() as u64
            && o.offset.is_multiple_of(std::mem::align_of::<R>() as u64)
        {
            pool.read(PPtr::<R>::from_offset(o.offset), |_| ()).err()
        } else if o.type_id == Leaf::TYPE_ID
            && o.size == std::mem::size_of::<Leaf>() as u64
            && o.offset.is_multiple_of(std::mem::align_of::<Leaf>() as u64)
        {
            // A store's leaves are shared objects: resolving is what is checked here, and a
            // refused reference (`SharedObject`) means it resolved.
            pool.read(PPtr::<Leaf>::from_offset(o.offset), |_| ())
                .err()
                .filter(|e| !matches!(e, pobj::Error::SharedObject { .. }))
        } else {
            None
        };
        if let Some(e) = typed {
            return Err(format!(
                "listed object {o:?} does not resolve through its type: {e}"
            ));
        }
    }
    // Every probe offset that resolves is listed: each chunk's large payload, and each block of
    // each chunk whose descriptor decodes (whatever its chunk word says).
    stage.set("probing chunk payloads and run blocks");
    // Recovery may have rewritten descriptors (the rebuild never does): when some lane of the
    // mutated image has a valid entry, also probe by what open made durable.
    let mut entries = Vec::new();
    for lane in 0..g.lane_count.min(64) {
        walk_lane(img, &g, lane, &mut entries);
    }
    let opened = if entries.is_empty() {
        Vec::new()
    } else {
        sim.persisted_image()
    };
    for c in 0..g.chunk_count {
        let base = g.chunk(c);
        let mut probes = vec![base + LARGE_PAYLOAD];
        let mut geometries = vec![descriptor(img, base), descriptor(&opened, base)];
        geometries.dedup();
        for (bs, n) in geometries.into_iter().flatten() {
            probes.extend((0..n).map(|k| base + RUN_DATA + k * bs + OBJ_HEADER));
        }
        for off in probes {
            match resolves(&pool, off, true) {
                Ok(Some((t, _))) if !listed.contains(&off) => {
                    return Err(format!(
                        "offset {off:#x} resolves (type id {t:#x}) but objects() does not list it"
                    ))
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(format!(
                        "resolving probe {off:#x} on a pool that opened gave {e}"
                    ))
                }
            }
        }
    }

    // Snapshot the pre-existing byte buffers.
    stage.set("snapshotting pre-existing buffers");
    let mut before = Vec::new();
    let mut model = Ranges::default();
    for o in &objs {
        model.insert(o.offset, o.offset - OBJ_HEADER, o.offset + o.capacity)?;
        if o.type_id == BYTES_TYPE_ID {
            let b = any_bytes(&pool, PBytes::from_offset(o.offset))
                .map_err(|e| format!("listed buffer {:#x} cannot be read: {e}", o.offset))?;
            before.push((o.offset, b));
        }
    }

    stage.set("pool operations");
    let mut mine: Vec<Mine> = Vec::new();
    let heap = (g.chunk_base, g.chunk(g.chunk_count));
    alloc_round(&pool, rng, ALLOC_ROUND, heap, &mut model, &mut mine, out)?;
    // Free about half of ours.
    let mut kept = Vec::new();
    for m in mine.drain(..) {
        if rng.below(2) == 0 {
            out.operations += 1;
            let r = pool.transaction(|tx| match m.data {
                Some(_) => tx.free_bytes(PBytes::from_offset(m.off)),
                None => tx.free(PPtr::<HostileNode>::from_offset(m.off)),
            });
            if r.is_ok() {
                model.remove(m.off);
                continue;
            }
        }
        kept.push(m);
    }
    mine = kept;
    // Write transactions into ours, some aborted.
    for _ in 0..WRITES {
        let Some(i) = (!mine.is_empty()).then(|| rng.below(mine.len() as u64) as usize) else {
            break;
        };
        let abort = rng.below(3) == 0;
        let off = mine[i].off;
        out.operations += 1;
        if let Some(data) = &mut mine[i].data {
            let at = rng.below(data.len() as u64) as usize;
            let n = (1 + rng.below(300) as usize).min(data.len() - at);
            let fill = rng.next() as u8;
            let whole = data.len() <= 5000 && rng.below(4) == 0;
            let r = pool.transaction(|tx| {
                if whole {
                    tx.bytes_mut(PBytes::from_offset(off))?.fill(fill);
                } else {
                    tx.write_bytes(PBytes::from_offset(off), at as u64, &vec![fill; n])?;
                }
                if abort {
                    Err(Error::TxAborted)
                } else {
                    Ok(())
                }
            });
            if r.is_ok() {
                if whole {
                    data.fill(fill);
                } else {
                    data[at..at + n].fill(fill);
                }
            }
        } else {
            let v = rng.next();
            let r = pool.transaction(|tx| {
                tx.update_field(PPtr::<HostileNode>::from_offset(off), |n| &mut n.value, v)?;
                if abort {
                    Err(Error::TxAborted)
                } else {
                    Ok(())
                }
            });
            if r.is_ok() {
                mine[i].value = v;
            }
        }
    }
    // One aborted transaction that allocates, writes and frees: nothing of it may remain.
    out.operations += 1;
    let victim = mine.first().map(|m| (m.off, m.data.is_some()));
    let _ = pool.transaction(|tx| {
        let b = tx.alloc_bytes(&[0xEE; 1000])?;
        tx.write_bytes(b, 0, &[1, 2, 3])?;
        if let Some((off, true)) = victim {
            tx.write_bytes(PBytes::from_offset(off), 0, &[0xEE])?;
            tx.free_bytes(PBytes::from_offset(off))?;
        }
        Err::<(), _>(Error::TxAborted)
    });
    alloc_round(&pool, rng, SECOND_ROUND, heap, &mut model, &mut mine, out)?;

    // Nothing we did may have changed what we did not own, and ours must read back.
    stage.set("verifying after the operations");
    for m in &mine {
        match &m.data {
            Some(data) => match pool.bytes(PBytes::from_offset(m.off)) {
                Ok(b) if b == *data => {}
                Ok(_) => return Err(format!("our buffer at {:#x} changed", m.off)),
                Err(e) => return Err(format!("our buffer at {:#x} is unreadable: {e}", m.off)),
            },
            None => match pool.get(PPtr::<HostileNode>::from_offset(m.off)) {
                Ok(n) if n.value == m.value => {}
                r => return Err(format!("our node at {:#x} reads {r:?}", m.off)),
            },
        }
    }
    for (off, b) in &before {
        match any_bytes(&pool, PBytes::from_offset(*off)) {
            Ok(now) if now == *b => {}
            Ok(_) => {
                return Err(format!(
                    "the pre-existing buffer at {off:#x} changed under our operations"
                ))
            }
            Err(e) => {
                return Err(format!(
                    "the pre-existing buffer at {off:#x} became unreadable: {e}"
                ))
            }
        }
    }
    stage.set("Pool::objects after the operations");
    let after = pool
        .objects()
        .map_err(|e| format!("objects() failed after the operations: {e}"))?;
    no_overlaps(&after, &g, "after the operations")?;
    stage.set("Pool::check after the operations");
    if problems0.is_empty() {
        let report = pool.check();
        if !report.is_ok() {
            return Err(format!(
                "check() was clean at open but reports after the operations: {report}"
            ));
        }
    }
    Ok(())
}

/// Allocations of several sizes, each in its own transaction; every block handed out must be
/// free in the model.
pub(crate) fn alloc_round<R: Persistent>(
    pool: &Pool<R>,
    rng: &mut Rng,
    count: usize,
    heap: (u64, u64),
    model: &mut Ranges,
    mine: &mut Vec<Mine>,
    out: &mut Outcome,
) -> Result<(), String> {
    for _ in 0..count {
        out.operations += 1;
        let salt = rng.next();
        let (r, len, data) = if rng.below(5) == 0 {
            let node = HostileNode {
                value: salt,
                data: PBytes::null(),
                next: PPtr::null(),
            };
            let r = pool.transaction(|tx| tx.alloc(node).map(pobj::PPtr::offset));
            (r, std::mem::size_of::<HostileNode>() as u64, None)
        } else {
            let len = SIZES[rng.below(SIZES.len() as u64) as usize] + rng.below(8) as usize;
            let data = pattern(len, salt);
            let r = pool.transaction(|tx| tx.alloc_bytes(&data).map(pobj::PBytes::offset));
            (r, len as u64, Some(data))
        };
        // Out of space, or refused: both fine on a damaged pool.
        if let Ok(off) = r {
            if off < heap.0 + OBJ_HEADER || off + len > heap.1 {
                return Err(format!(
                    "an allocation of {len} bytes returned {off:#x}, outside the heap"
                ));
            }
            model
                .insert(off, off - OBJ_HEADER, off + len)
                .map_err(|e| format!("allocation of {len} bytes: {e}"))?;
            mine.push(Mine {
                off,
                data,
                value: salt,
            });
        }
    }
    Ok(())
}
