//! The medium: the mapped bytes (`region`, every access a whole-word atomic), the persistence
//! layer that makes them durable (`persist`: cache-line flushes and fences, or `msync`), and the
//! simulated medium of the crash harness (`sim`, feature `crash-test`).

pub(crate) mod mapping;
pub(crate) mod persist;
pub(crate) mod region;
#[cfg(feature = "crash-test")]
pub(crate) mod sim;
#[cfg(feature = "crash-test")]
pub(crate) mod sim_memory;
