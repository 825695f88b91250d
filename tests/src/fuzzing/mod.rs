//! The logic of the fuzz targets, as library code, so that a stable-toolchain test replays a
//! seed corpus and random inputs in `cargo test`, and `cargo fuzz` (in `fuzz/`) explores more.
//!
//! - [`open_damaged`]: damaged pool images must open or be refused with a typed error.
//! - [`tx_crash`], [`kv_crash`], [`mixed_crash`]: crash recovery of transactions, of the
//!   key-value store, and of transactions that change maps, a vector and user objects
//!   together, each a [`pobj::crash::fuzz::Structure`] run by the public fuzzer.

pub mod damage;
pub mod kv;
pub mod mixed;
pub mod tx;

pub use damage::{base_images, open_damaged, Damage, DamageInput, DamageOutcome};
pub use kv::kv_crash;
pub use mixed::mixed_crash;
pub use tx::{run_tx, tx_crash, FuzzNode, FuzzRoot, Model, Op, TxSpec, LAYOUT, SIZE};
