//! The node binary's error type.

/// Everything that can stop a `phantom-node` command.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The chainspec was refused.
    #[error(transparent)]
    ChainSpec(#[from] pc_chainspec::ChainSpecError),
    /// The module host refused to start or failed.
    #[error(transparent)]
    Runtime(#[from] pc_runtime::RuntimeError),
    /// State or storage failed.
    #[error(transparent)]
    State(#[from] pc_state::StateError),
    /// The database could not be opened.
    #[error("cannot open database: {0}")]
    Store(#[from] pc_store::StoreError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A command-line value is invalid.
    #[error("{0}")]
    Usage(String),
    /// The simulator found property violations.
    #[error("simulation found {0} violation(s)")]
    SimViolations(u64),
    /// The node service failed.
    #[error(transparent)]
    Service(#[from] pc_service::ServiceError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Tokio(std::io::Error),
}
