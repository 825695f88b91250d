//! The binary's error: a message and an exit status.

use std::fmt::Display;
use std::io;

/// Why a command failed, with the exit status it maps to.
#[derive(Debug)]
pub(crate) enum CliError {
    /// A failure: `pkv: MESSAGE` on stderr, exit 2.
    Fatal(String),
    /// A negative answer rather than a failure (a missing key, a check with problems):
    /// `pkv: MESSAGE` on stderr, exit 1.
    No(String),
    /// The reader of stdout went away (`pkv scan POOL | head`): stop quietly, exit 0.
    BrokenPipe,
}

impl CliError {
    /// A failure with this message.
    pub(crate) fn fatal(msg: impl Display) -> Self {
        CliError::Fatal(msg.to_string())
    }

    /// The exit status.
    pub(crate) fn code(&self) -> u8 {
        match self {
            CliError::Fatal(_) => 2,
            CliError::No(_) => 1,
            CliError::BrokenPipe => 0,
        }
    }

    /// The message for stderr, on one line; `None` to print nothing.
    pub(crate) fn message(&self) -> Option<String> {
        match self {
            CliError::Fatal(m) | CliError::No(m) => Some(one_line(m)),
            CliError::BrokenPipe => None,
        }
    }

    /// Wraps an I/O error on `what` (a write to stdout that hit a closed pipe stays quiet).
    pub(crate) fn io(what: impl Display, e: &io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            CliError::BrokenPipe
        } else {
            CliError::fatal(format!("{what}: {e}"))
        }
    }
}

/// A message folded onto one line.
fn one_line(m: &str) -> String {
    m.split(['\n', '\r'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

impl From<pobj_kv::Error> for CliError {
    fn from(e: pobj_kv::Error) -> Self {
        CliError::fatal(e)
    }
}

/// Writing to stdout failed.
pub(crate) fn stdout_error(e: &io::Error) -> CliError {
    CliError::io("writing to stdout", e)
}

/// `Result` with [`CliError`].
pub(crate) type CliResult<T = ()> = Result<T, CliError>;
