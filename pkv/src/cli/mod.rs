//! The parts of the `pkv` binary (not of the library).

pub(crate) mod args;
pub(crate) mod bench;
pub(crate) mod codec;
pub(crate) mod commands;
pub(crate) mod error;
pub(crate) mod maps;
