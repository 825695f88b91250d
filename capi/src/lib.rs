//! libpmemkv's C interface (pmemkv 1.5) on `pobj-kv`: `bash capi/build.sh` relinks this crate's
//! static library into `libpmemkv.so.1` (soname `libpmemkv.so.1`, every function in the symbol
//! version `LIBPMEMKV_1.0`), so that programs and bindings written for pmemkv switch by
//! relinking. docs/capi.md: building, linking, engines and what differs from pmemkv.
//!
//! Every entry point returns a pmemkv status and never unwinds into C: a panic becomes
//! `PMEMKV_STATUS_UNKNOWN_ERROR` with a message (`pmemkv_errormsg`). Handles are checked for
//! NULL; everything else a C caller passes is trusted as pmemkv documents it (pointers valid
//! for their lengths, handles live), the contract of each `unsafe extern fn` here.
#![allow(unsafe_code)]
#![allow(
    clippy::doc_markdown,
    reason = "the docs name pmemkv's statuses as its C headers spell them (NOT_FOUND, ...)"
)]

mod comparator;
mod config;
mod config_keys;
mod data;
mod db;
mod ffi;
mod iterator;
mod ranges;
mod status;
mod tx;

pub use comparator::{pmemkv_comparator, pmemkv_comparator_delete, pmemkv_comparator_new};
pub use config::*;
pub use config_keys::*;
pub use data::*;
pub use db::{pmemkv_close, pmemkv_db, pmemkv_open, MIN_SIZE};
pub use iterator::*;
pub use ranges::*;
pub use status::*;
pub use tx::*;
