//! `AnyRoot`: the root type of a pool opened by a tool that does not know the pool's own root
//! type or layout (`pkv maps`, `pkv check --map`), to reach its objects by offset.

use crate::Persistent;

/// Stands in for a pool's root type when it is unknown: [`Pool::open_any`](crate::Pool::open_any)
/// opens any pool as `Pool<AnyRoot>`, checking everything but the layout name and the root's
/// type. Zero-sized, so `root()` and `root_mut()` reach no bytes of the real root; every other
/// object is resolved, type-checked and bounds-checked as usual.
#[derive(Persistent, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct AnyRoot {}

/// Whether `R` is [`AnyRoot`] (its root checks are skipped).
pub(crate) fn is_any_root<R: Persistent>() -> bool {
    R::TYPE_ID == AnyRoot::TYPE_ID && core::mem::size_of::<R>() == 0
}
