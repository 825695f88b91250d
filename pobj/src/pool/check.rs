//! `Pool::check` and `Pool::objects`: the heap's consistency and its live objects.

use super::inside::in_tx;
use super::Pool;
use crate::error::Result;
use crate::format::header::{PoolHeader, MAGIC};
use crate::heap::ObjectInfo;
use crate::lane;
use crate::problem::CheckProblem;
use crate::tx::check_type;
use crate::Persistent;

/// The result of [`Pool::check`]: every inconsistency found. `Display` prints them one per
/// line, or "ok".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// What is wrong; empty when the pool is consistent.
    pub problems: Vec<CheckProblem>,
    /// Objects found on media.
    pub objects: u64,
}

impl CheckReport {
    /// Whether no problem was found.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.problems.is_empty() {
            return write!(f, "ok ({} objects)", self.objects);
        }
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl<R: Persistent> Pool<R> {
    /// A read-only consistency check of the header, lanes and heap.
    pub fn check(&self) -> CheckReport {
        let _g = if in_tx(self.sh.id()) {
            return CheckReport {
                problems: vec![CheckProblem::InsideTransaction],
                objects: 0,
            };
        } else {
            self.sh
                .lock()
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let sh = &*self.sh;
        let mut problems = Vec::new();
        // SAFETY: the write lock excludes every transaction and reader of this handle.
        match unsafe { sh.region().read::<PoolHeader>(0) } {
            Ok(h) if h.compute_checksum() == h.checksum && h.magic == MAGIC => {}
            _ => problems.push(CheckProblem::Header),
        }
        for i in 0..sh.geo().lane_count {
            // SAFETY: no transaction runs (write lock), so no lane log is being written.
            match unsafe { lane::scan(sh.region(), sh.geo(), i) } {
                Ok(e) if e.is_empty() => {}
                Ok(e) => problems.push(CheckProblem::LaneOutstanding {
                    lane: i,
                    entries: e.len(),
                }),
                Err(e) => problems.push(CheckProblem::LaneUnreadable {
                    lane: i,
                    error: e.to_string(),
                }),
            }
        }
        let objects = sh.heap().check(&mut problems);
        if let Err(e) = sh.heap().resolve(sh.root_offset()).and_then(|(_, h)| {
            // A pool opened with `open_any` does not know its root's type: only that the
            // root is a live object is checked.
            if crate::types::any_root::is_any_root::<R>() {
                Ok(())
            } else {
                check_type::<R>(sh.root_offset(), &h)
            }
        }) {
            problems.push(CheckProblem::Root {
                error: e.to_string(),
            });
        }
        CheckReport { problems, objects }
    }

    /// Every live object: its offset, recorded size, type id and block capacity, in offset
    /// order (`pmemobj_first`/`pmemobj_next`). Reads allocator metadata only; inside a
    /// transaction on this pool in this thread, [`Error::NestedTransaction`].
    pub fn objects(&self) -> Result<Vec<ObjectInfo>> {
        let _g = self.read_guard()?;
        self.sh.heap().objects()
    }
}
