//! The parts of the `pkv` binary (not of the library).

pub mod args;
pub mod bench;
pub mod codec;
pub mod commands;
pub mod error;
