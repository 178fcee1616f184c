use pc_codec::CodecError;
use pc_store::StoreError;

/// Why a state operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The underlying store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Stored bytes did not decode: the database is corrupt or from another version.
    #[error("corrupt {what} in the database: {source}")]
    Corrupt {
        /// The record that failed.
        what: &'static str,
        /// The decoder's complaint.
        source: CodecError,
    },
    /// The persisted state accumulator has the wrong size: the database is corrupt.
    #[error("corrupt state accumulator in the database: {0} bytes, expected 2048")]
    Accumulator(usize),
    /// The persisted accumulator does not give the head's state root: the database is corrupt.
    #[error("corrupt state accumulator in the database: it gives root {root}, the head says {head}")]
    AccumulatorMismatch {
        /// The root of the persisted accumulator.
        root: pc_codec::Hash32,
        /// The head's state root.
        head: pc_codec::Hash32,
    },
    /// The database was written in another state format by another version of the node.
    #[error(
        "the database holds state format {found}, this node reads format {expected}: start from an empty data \
         directory (re-sync from genesis, or restore a snapshot exported by this version)"
    )]
    Format {
        /// The format found (1: the sparse-Merkle-tree format, which recorded no marker).
        found: u32,
        /// The format this build reads and writes.
        expected: u32,
    },
    /// A snapshot file is malformed, truncated or does not match its own checksum or root.
    #[error("snapshot: {0}")]
    Snapshot(String),
    /// An I/O error while reading or writing a snapshot.
    #[error("snapshot i/o: {0}")]
    Io(#[from] std::io::Error),
    /// An operation that needs an empty database found one in use.
    #[error("the database already holds state (head at anchor {0})")]
    NotEmpty(u64),
    /// A commit was attempted out of order.
    #[error("anchor {got} cannot follow anchor {head:?}")]
    OutOfOrder {
        /// The anchor being committed.
        got: u64,
        /// The current head, if any.
        head: Option<u64>,
    },
}
