//! The on-media format (docs/format.md): the header, the geometry of a pool, chunk words, run
//! descriptors and size classes, object headers. Plain data and its encoding; no I/O.

pub(crate) mod chunk;
pub(crate) mod class;
pub(crate) mod extent;
pub(crate) mod header;
pub(crate) mod layout;
pub(crate) mod object;
pub(crate) mod run;
