//! The typed error of every fallible pobj call.

use std::path::PathBuf;

/// What went wrong, and where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system call on the pool file failed.
    #[error("I/O error on {path}: {op}: {source}")]
    Io {
        /// The pool file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `create` found a file already at the path.
    #[error("{path} already exists")]
    AlreadyExists {
        /// The path.
        path: PathBuf,
    },
    /// The file does not start with the pool magic.
    #[error("{path} is not a pobj pool (bad magic)")]
    NotAPool {
        /// The path.
        path: PathBuf,
    },
    /// The pool was written by a format version this build does not read.
    #[error(
        "{path}: unsupported pool format version {found} (this build reads version {supported})"
    )]
    UnsupportedVersion {
        /// The path.
        path: PathBuf,
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// The header's checksum does not match its contents.
    #[error("{path}: pool header is damaged (checksum {found:#010x}, computed {computed:#010x})")]
    DamagedHeader {
        /// The path.
        path: PathBuf,
        /// Checksum stored in the header.
        found: u32,
        /// Checksum of the header bytes.
        computed: u32,
    },
    /// The file is shorter than the pool recorded in its header (or than a header).
    #[error("{path}: pool file is truncated: {actual} bytes, expected {expected}")]
    Truncated {
        /// The path.
        path: PathBuf,
        /// Expected length.
        expected: u64,
        /// Actual length.
        actual: u64,
    },
    /// The pool was created with another layout name.
    #[error("{path}: layout mismatch: pool has layout {found:?}, opened as {expected:?}")]
    LayoutMismatch {
        /// The path.
        path: PathBuf,
        /// Layout asked for.
        expected: String,
        /// Layout in the pool.
        found: String,
    },
    /// The pool's root object has another type than the one asked for.
    #[error(
        "{path}: root type mismatch: pool root has type id {found:#018x} and size {found_size}, \
         opened with type id {expected:#018x} and size {expected_size}"
    )]
    RootTypeMismatch {
        /// The path.
        path: PathBuf,
        /// Type id asked for.
        expected: u64,
        /// Type id in the pool.
        found: u64,
        /// Size asked for.
        expected_size: u64,
        /// Size in the pool.
        found_size: u64,
    },
    /// The pool size is outside the supported range.
    #[error("pool size {size} is out of range ({min}..={max} bytes)")]
    SizeOutOfRange {
        /// Size asked for or found.
        size: u64,
        /// Minimum size.
        min: u64,
        /// Maximum size.
        max: u64,
    },
    /// The layout name is too long or contains a NUL byte.
    #[error("invalid layout name {name:?}: {reason}")]
    InvalidLayout {
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// Another handle or process holds the pool open.
    #[error("{path} is held open by another handle or process")]
    Locked {
        /// The path.
        path: PathBuf,
    },
    /// `POBJ_PERSIST` holds an unknown mode, or one this CPU cannot do.
    #[error("POBJ_PERSIST={value:?}: {reason}")]
    BadPersistMode {
        /// The value.
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A pointer does not resolve to a live object of the expected type.
    #[error("invalid pointer {offset:#x}: {reason}")]
    InvalidPointer {
        /// The pointer's offset.
        offset: u64,
        /// Why.
        reason: &'static str,
    },
    /// The object at a pointer has another type than the pointer's.
    #[error("type mismatch at {offset:#x}: object has type id {found:#018x}, pointer expects {expected:#018x}")]
    TypeMismatch {
        /// The pointer's offset.
        offset: u64,
        /// Expected type id.
        expected: u64,
        /// Type id in the object header.
        found: u64,
    },
    /// The object is shared (read by other threads without the pool's lock, like a KV map's
    /// leaves): no reference into it is lent; read it with [`Tx::load`](crate::Tx::load) and
    /// write it with the value-taking `Tx` methods.
    #[error("object at {offset:#x} is shared: no reference into it is lent (use Tx::load)")]
    SharedObject {
        /// The object's offset.
        offset: u64,
    },
    /// A racy read of an object that is not shared (allocated with `Tx::alloc_shared` or
    /// `alloc_bytes_zeroed_shared`): only shared objects may be read without the pool's lock.
    #[error("object at {offset:#x} is not shared: racy reads are of shared objects only")]
    NotShared {
        /// The object's offset.
        offset: u64,
    },
    /// The call needs a transaction that holds the pool exclusively (a safe
    /// [`Pool::transaction`](crate::Pool::transaction)), not a shared one.
    #[error("this call needs an exclusive transaction (Pool::transaction), not a shared one")]
    NotExclusive,
    /// A byte range is outside an object.
    #[error("range {start}..{end} is outside the object at {offset:#x} of {len} bytes")]
    OutOfBounds {
        /// The object's offset.
        offset: u64,
        /// Range start.
        start: u64,
        /// Range end.
        end: u64,
        /// Object length.
        len: u64,
    },
    /// An index (or a position) is at or past the length of a collection (`PVec`, `PString`).
    #[error("index {index} is out of range for the collection at {offset:#x} of length {len}")]
    IndexOutOfRange {
        /// The collection's header.
        offset: u64,
        /// The index asked for.
        index: u64,
        /// The collection's length.
        len: u64,
    },
    /// A byte position of a `PString` falls inside a UTF-8 character.
    #[error("byte {index} of the string at {offset:#x} is not a character boundary")]
    NotCharBoundary {
        /// The string's header.
        offset: u64,
        /// The byte position asked for.
        index: u64,
    },
    /// The pool has no free block of the size asked for and cannot grow: it is at its maximum
    /// size (or was created with a fixed size), the medium under it is full, the request is
    /// larger than even the largest pool could serve, or this session could not reserve the
    /// address space to grow into (then `size < max_size` with `medium_full` false). Everything in
    /// the pool stays readable and writable; space comes back as objects are freed.
    #[error(
        "out of space: no free block for {requested} bytes in a pool of {size} bytes (maximum \
         {max_size}){}",
        if *medium_full { "; the medium is full" } else { "" }
    )]
    OutOfSpace {
        /// Bytes asked for.
        requested: u64,
        /// The pool's size now.
        size: u64,
        /// The largest size it may grow to (equal to `size` for a pool of fixed size).
        max_size: u64,
        /// Whether growth failed because the file system or device had no space left.
        medium_full: bool,
    },
    /// An object is larger than the allocator serves.
    #[error("allocation of {requested} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Bytes asked for.
        requested: u64,
        /// Maximum.
        max: u64,
    },
    /// A transaction appended more undo-log entries than one log may hold.
    #[error("the transaction's undo log holds {entries} entries; the maximum is {max}")]
    LogFull {
        /// Entries the transaction needed.
        entries: u64,
        /// Entries one log may hold (`MAX_LOG_ENTRIES`).
        max: u64,
    },
    /// A transaction's undo log would outgrow the space one log may use.
    #[error("the transaction's undo log would take {bytes} bytes; the maximum is {max}")]
    LogTooLarge {
        /// Bytes of log buffers the transaction needed.
        bytes: u64,
        /// Bytes one log may use (`MAX_LOG_BUFFERS` chunks).
        max: u64,
    },
    /// A commit word named a field that is not an aligned 8-byte word.
    #[error("commit word at {offset:#x}: a commit word must be an aligned 8-byte field, not {size} bytes")]
    BadCommitWord {
        /// The field's offset in the pool.
        offset: u64,
        /// The field's size in bytes.
        size: u64,
    },
    /// An invariant of pobj's own code does not hold (a bug, not damage in the file).
    #[error("internal error: {what}")]
    Internal {
        /// Which invariant.
        what: &'static str,
    },
    /// A type's alignment is more than the allocator guarantees.
    #[error("alignment {align} is more than the supported maximum of 64")]
    BadAlignment {
        /// The alignment.
        align: usize,
    },
    /// The same object was freed twice in one transaction, or the root was freed.
    #[error("invalid free of {offset:#x}: {reason}")]
    InvalidFree {
        /// The pointer's offset.
        offset: u64,
        /// Why.
        reason: &'static str,
    },
    /// Persistent data failed a consistency check.
    #[error("corrupted {what} at offset {offset:#x}")]
    Corrupted {
        /// Which structure.
        what: &'static str,
        /// Where.
        offset: u64,
    },
    /// A nested transaction aborted, so the enclosing one is aborted too.
    #[error("transaction aborted by a nested transaction")]
    TxAborted,
    /// `Pool::transaction` (or a read) was called inside a transaction on the same pool and
    /// thread (nest with `Tx::transaction` instead), or from a thread-local's destructor, where
    /// the thread can no longer be tracked.
    #[error(
        "transaction already in progress on this pool in this thread; nest with Tx::transaction"
    )]
    NestedTransaction,
    /// The transaction passed its commit point (its changes are in place and are what every
    /// later read sees) but making it durable failed, so whether it survives a power failure
    /// is unknown: recovery at the next open decides. The pool refuses writes until reopened.
    #[error("transaction committed in memory but its durability is unknown: {source}")]
    CommitInDoubt {
        /// The persistence failure.
        source: Box<Error>,
    },
    /// An earlier I/O failure while persisting left the pool in an unknown state; reopen it.
    #[error("pool refuses writes after a persistence failure; reopen it")]
    Poisoned,
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
