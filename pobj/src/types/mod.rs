//! What may live in a pool: the `Persistent` contract and its layout proof, type identities,
//! and the typed pool-relative pointers.

pub(crate) mod any_root;
pub(crate) mod persistent;
pub(crate) mod ptr;
pub(crate) mod typeid;
