//! Volatile state that a structure keeps for the rest of one transaction, and is told how the
//! transaction ended: what the KV map uses to keep the leaves a user's transaction changed
//! invisible to its readers until the end, then publish or undo its DRAM index.

use std::any::{Any, TypeId};

use super::Tx;
use crate::error::{Error, Result};
use crate::Persistent;

/// How a transaction ended, as told to its [`TxState`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxEnd {
    /// Committed and durable.
    Committed,
    /// Past its commit point, so its changes are in place, but making them durable failed
    /// (the pool is poisoned): DRAM state should follow the changes, as for a commit.
    InDoubt,
    /// Rolled back (an `Err`, a panic, or a failed commit before its commit point). If the
    /// rollback itself failed, the pool is poisoned as well.
    RolledBack,
}

/// State a structure keeps for the rest of a transaction (see [`Tx::state`]).
pub trait TxState: 'static {
    /// Called once, when the transaction has ended: after its commit or rollback, with its
    /// lane released but the pool's lock still held and the thread still counted inside the
    /// pool (a call back into the pool is refused with [`Error::NestedTransaction`]). Not
    /// called if the transaction's own machinery unwound (the state is then only dropped;
    /// the pool is poisoned).
    fn end(self: Box<Self>, end: TxEnd);
}

/// One state, with the function that ends it.
pub(super) struct Held {
    key: (TypeId, u64),
    state: Box<dyn Any>,
    end: fn(Box<dyn Any>, TxEnd),
}

fn end_as<S: TxState>(state: Box<dyn Any>, end: TxEnd) {
    if let Ok(s) = state.downcast::<S>() {
        s.end(end);
    }
}

/// The states of a transaction that ended, to be told how.
pub(crate) struct Ending(Vec<Held>);

impl Ending {
    /// Tells every state how the transaction ended, in the order they were made. A state
    /// that panics does not stop the others; the first panic is returned for the caller to
    /// resume once the pool's lock is released.
    pub(crate) fn run(self, end: TxEnd) -> Option<Box<dyn Any + Send>> {
        let mut first = None;
        for h in self.0 {
            let r =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (h.end)(h.state, end)));
            if let Err(p) = r {
                first.get_or_insert(p);
            }
        }
        first
    }
}

impl<R: Persistent> Tx<'_, R> {
    /// The state of type `S` under `key` for the rest of this transaction, made by `init` on
    /// first use; told how the transaction ended ([`TxState::end`]). A structure uses one key
    /// per instance (a map its own id), so that two instances keep separate states.
    pub fn state<S: TxState>(&mut self, key: u64, init: impl FnOnce() -> S) -> Result<&mut S> {
        self.live()?;
        let k = (TypeId::of::<S>(), key);
        let i = if let Some(i) = self.states.iter().position(|h| h.key == k) {
            i
        } else {
            self.states.push(Held {
                key: k,
                state: Box::new(init()),
                end: end_as::<S>,
            });
            self.states.len() - 1
        };
        self.states
            .get_mut(i)
            .and_then(|h| h.state.downcast_mut::<S>())
            .ok_or(Error::Internal {
                what: "transaction state of another type under its key",
            })
    }

    /// Whether this transaction holds the pool exclusively (a safe
    /// [`Pool::transaction`](crate::Pool::transaction)): no other transaction runs meanwhile.
    pub fn is_exclusive(&self) -> bool {
        self.exclusive
    }

    /// Takes the states, to be ended after the transaction.
    pub(crate) fn take_states(&mut self) -> Ending {
        Ending(std::mem::take(&mut self.states))
    }
}
