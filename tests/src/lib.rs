//! Shared code of the integration tests and the fuzz targets.
//!
//! The fuzz targets' logic lives here (not in `fuzz/`), so that `cargo test` replays the seed
//! corpus and random inputs on the stable toolchain, and `cargo fuzz` explores further.

pub mod fuzzing;
pub mod hostile;
pub mod watchdog;
