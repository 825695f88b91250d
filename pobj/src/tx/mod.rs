//! Transactions: undo logging in per-thread lanes.
//!
//! Protocol (see `docs/transactions.md` for why each fence is there):
//! 1. Before a range is first modified, its old bytes are appended to the lane's log, flushed and
//!    fenced. Ranges already logged, and objects allocated by this transaction, are not logged.
//! 2. An allocation reserves a block in DRAM, writes the object into it, and appends an
//!    "allocated" entry; the persistent bitmap bit (or chunk header) is set after the next fence,
//!    which makes that entry durable first.
//! 3. A free appends a "freed" entry at once; commit fences if any entry is not yet durable,
//!    applies the frees, flushes every modified range and metadata word, fences, and retires the
//!    log (generation + 1, flushed, fenced). A transaction with only unlogged writes and one
//!    commit word skips the log: data, fence, word, fence.
//! 4. Abort (an `Err`, a panic, or a failed nested transaction) undoes the log's entries in
//!    reverse, fences, and retires the log; the reserved blocks return to the free lists.

mod access;
mod alloc;
mod bytes;
mod commit;
pub(crate) mod lanes;
mod log;
pub(crate) mod pool_core;
mod rangeset;
pub(crate) mod scratch;
pub(crate) mod state;

use std::marker::PhantomData;
use std::sync::atomic::Ordering;

use self::lanes::LaneSlot;
use self::pool_core::PoolCore;
use self::scratch::Scratch;
use crate::error::{Error, Result};
use crate::format::object::ObjHeader;
use crate::heap::Block;
use crate::lane::{self};
use crate::media::persist::Batch;
use crate::types::ptr::PPtr;
use crate::Persistent;

/// The lane's log writer.
struct Log {
    gen: u64,
    seed: u32,
    buf: u64,
    cap: u64,
    pos: u64,
    ext_used: usize,
    entries: usize,
    unfenced: bool,
}

/// An open transaction. Every change made through it is undone if the transaction aborts, and
/// durable when [`Pool::transaction`](crate::Pool::transaction) returns `Ok`.
///
/// References handed out by [`Tx::get`] borrow the transaction shared, those of [`Tx::get_mut`]
/// borrow it exclusively, so the borrow checker rules out two live `&mut` to one object.
pub struct Tx<'a, R> {
    sh: &'a PoolCore,
    slot: LaneSlot,
    log: Log,
    /// DRAM bookkeeping, borrowed from the lane (reused across its transactions).
    /// This transaction's DRAM bookkeeping (reused from its lane).
    book: Box<Scratch>,
    batch: Batch,
    aborted: bool,
    /// Set once commit made its changes irreversible (the commit word or the retire stored):
    /// from then on a failure must not roll back or release anything.
    committed: bool,
    /// Whether the transaction holds the pool's write lock (a safe `Pool::transaction`).
    exclusive: bool,
    /// Structures' volatile state for the rest of the transaction (`state.rs`).
    states: Vec<state::Held>,
    _root: PhantomData<fn() -> R>,
    /// A transaction belongs to the thread that runs it (`!Send`, `!Sync`): the pool's
    /// re-entry check is per thread, so a `Tx` used from another thread (a scoped one, say)
    /// could call back into a pool its own thread holds locked.
    _thread: PhantomData<*const ()>,
}

// A transaction stays on its thread (see `_root`).
static_assertions::assert_not_impl_any!(Tx<'static, u64>: Send, Sync);

impl<'a, R: Persistent> Tx<'a, R> {
    /// Starts a transaction in the lane `slot`; on failure the slot is handed back.
    pub(crate) fn begin(
        sh: &'a PoolCore,
        slot: LaneSlot,
        exclusive: bool,
    ) -> std::result::Result<Self, (Error, LaneSlot)> {
        let gen = match lane::generation(sh.region(), sh.geo(), slot.index) {
            Ok(g) => g,
            Err(e) => return Err((e, slot)),
        };
        let mut slot = slot;
        let seed = *slot
            .seed
            .get_or_insert_with(|| lane::buffer_seed(slot.index, 0));
        let buf = sh.geo().lane(slot.index) + lane::LANE_HEADER;
        let cap = u64::from(sh.geo().lane_size) - lane::LANE_HEADER;
        // The DRAM bookkeeping is reused from the lane's previous transaction (cleared).
        let sc = slot.scratch.take().unwrap_or_default();
        Ok(Tx {
            sh,
            slot,
            log: Log {
                gen,
                seed,
                buf,
                cap,
                pos: 0,
                ext_used: 0,
                entries: 0,
                unfenced: false,
            },
            book: sc,
            batch: Batch::new(),
            aborted: false,
            committed: false,
            exclusive,
            states: Vec::new(),
            _root: PhantomData,
            _thread: PhantomData,
        })
    }

    /// Ends the transaction's use of the lane, keeping its DRAM bookkeeping for the next one.
    pub(crate) fn into_slot(self) -> LaneSlot {
        let mut slot = self.slot;
        let mut sc = self.book;
        sc.clear();
        slot.scratch = Some(sc);
        slot
    }

    fn live(&self) -> Result<()> {
        if self.aborted {
            Err(Error::TxAborted)
        } else if self.sh.persister().poisoned() {
            Err(Error::Poisoned)
        } else {
            Ok(())
        }
    }

    /// Logs an arbitrary byte range of an object so that it can then be modified through
    /// references obtained elsewhere (advanced use; the typed methods do this themselves).
    fn resolve(&self, off: u64) -> Result<(Block, ObjHeader)> {
        if let Some(&v) = self.book.new_objs.get(&off) {
            return Ok(v);
        }
        self.sh.resolve(off)
    }

    fn resolve_typed<T: Persistent>(&self, p: PPtr<T>) -> Result<u64> {
        let off = p.offset();
        let (_, h) = self.resolve(off)?;
        check_type::<T>(off, &h)?;
        Ok(off)
    }

    /// Runs `f` as a nested transaction, flattened into this one: its changes commit or abort
    /// with the outermost transaction. If `f` fails or panics, the whole transaction is aborted
    /// (further calls return [`Error::TxAborted`]).
    pub fn transaction<T, E, F>(&mut self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Self) -> Result<T, E>,
        E: From<Error>,
    {
        self.live()?;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self))) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                self.aborted = true;
                Err(e)
            }
            Err(panic) => {
                self.aborted = true;
                std::panic::resume_unwind(panic)
            }
        }
    }

    /// The pool core this transaction runs against (its identity).
    pub(crate) fn core(&self) -> &PoolCore {
        self.sh
    }

    /// Whether the transaction is doomed to abort (a nested one failed, or the pool filled).
    pub fn is_aborted(&self) -> bool {
        self.aborted
    }

    pub(crate) fn wants_abort(&self) -> bool {
        self.aborted
    }
}

/// Refuses a reference into a shared object (`format/object.rs`, `SHARED_FLAG`).
pub(crate) fn refuse_shared(off: u64, h: &ObjHeader) -> Result<()> {
    if h.is_shared() {
        Err(Error::SharedObject { offset: off })
    } else {
        Ok(())
    }
}

/// Checks an object header against `T`.
pub(crate) fn check_type<T: Persistent>(off: u64, h: &ObjHeader) -> Result<()> {
    crate::types::persistent::layout_proof::<T>();
    if h.type_id != T::TYPE_ID {
        return Err(Error::TypeMismatch {
            offset: off,
            expected: T::TYPE_ID,
            found: h.type_id,
        });
    }
    if h.len() != core::mem::size_of::<T>() as u64 {
        return Err(Error::InvalidPointer {
            offset: off,
            reason: "object size differs from the type's size",
        });
    }
    Ok(())
}

/// A random 64-bit value (`SipHash` of a counter under this process's random keys).
pub(super) fn random_nonce() -> u64 {
    use std::hash::BuildHasher;
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    std::collections::hash_map::RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed))
}

#[cold]
pub(super) fn unreachable_root() -> ! {
    // The root was validated at open and the mapping never changes.
    unreachable!("the root object was validated at open")
}
