//! pobj-kv: a persistent key-value store on pobj (work in progress: see the KV issue).
#![deny(unsafe_code)]

/// The pool layout name used by the store.
pub const LAYOUT: &str = "pobj-kv";
