//! The one walk over the leaf list, with its cycle guard: the rebuild at open, the unlink of
//! empty leaves and `Db::check` all follow the `next` pointers through [`LeafChain`].
//!
//! The list comes from the pool, so it is untrusted: it may loop or point anywhere. Every leaf
//! is resolved as a live object of the leaf type before its header is read, and the walk ends
//! with [`ChainError::TooLong`] after more leaves than the pool can hold (a cycle).

use pobj::{PPtr, Persistent, Pool};

use crate::error::Error;
use crate::leaf::{Leaf, LeafHead};
use crate::optimistic::LeafReader;

/// The most leaves a list in this pool can hold (the bound of every walk of the list).
pub(crate) fn max_leaves<R: Persistent>(pool: &Pool<R>) -> u64 {
    pool.size() / core::mem::size_of::<Leaf>() as u64 + 1
}

/// Why a walk of the leaf list stopped early.
#[derive(Debug)]
pub(crate) enum ChainError {
    /// More leaves than fit in the pool: the list has a cycle. `at` is the leaf past the limit.
    TooLong { at: u64 },
    /// The leaf at `at` could not be read (not a live leaf object, out of the pool, ...).
    Leaf { at: u64, error: Error },
}

impl From<ChainError> for Error {
    fn from(e: ChainError) -> Error {
        match e {
            ChainError::TooLong { at } => Error::Corrupted {
                what: "leaf list (cycle)",
                offset: at,
            },
            ChainError::Leaf { error, .. } => error,
        }
    }
}

/// One leaf of the list, its header read.
pub(crate) struct ChainLeaf<'a, R: Persistent> {
    pub ptr: PPtr<Leaf>,
    /// Bitmap and next pointer, as read (the bitmap unmasked).
    pub head: LeafHead,
    /// The magic word (callers decide what a wrong one means).
    pub magic: u64,
    /// The owner word (the offset of the map's header).
    pub owner: u64,
    /// The resolved leaf, for reads of its slots.
    pub reader: LeafReader<'a, R>,
}

/// The leaves from `first` on, in list order. The walk reads only headers; it is meant for a
/// store whose writers are excluded (or not yet running). After an error it yields nothing.
pub(crate) struct LeafChain<'a, R: Persistent> {
    pool: &'a Pool<R>,
    next: PPtr<Leaf>,
    seen: u64,
    max: u64,
    done: bool,
}

impl<'a, R: Persistent> LeafChain<'a, R> {
    pub(crate) fn new(pool: &'a Pool<R>, first: PPtr<Leaf>) -> Self {
        LeafChain {
            pool,
            next: first,
            seen: 0,
            max: max_leaves(pool),
            done: false,
        }
    }
}

impl<'a, R: Persistent> Iterator for LeafChain<'a, R> {
    type Item = Result<ChainLeaf<'a, R>, ChainError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.next.is_null() {
            return None;
        }
        let ptr = self.next;
        self.seen += 1;
        if self.seen > self.max {
            self.done = true;
            return Some(Err(ChainError::TooLong { at: ptr.offset() }));
        }
        let read = LeafReader::new(self.pool, ptr).and_then(|reader| {
            let (head, magic, owner) = reader.header()?;
            Ok(ChainLeaf {
                ptr,
                head,
                magic,
                owner,
                reader,
            })
        });
        match read {
            Ok(leaf) => {
                self.next = leaf.head.next;
                Some(Ok(leaf))
            }
            Err(error) => {
                self.done = true;
                Some(Err(ChainError::Leaf {
                    at: ptr.offset(),
                    error,
                }))
            }
        }
    }
}
