//! The service's errors.

/// Why the service stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The runtime failed (a hook error stops the node rather than commit a wrong anchor).
    #[error(transparent)]
    Runtime(#[from] pc_runtime::RuntimeError),
    /// The state or store failed.
    #[error(transparent)]
    State(#[from] pc_state::StateError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] pc_store::StoreError),
    /// The consensus engine refused its own or a persisted event.
    #[error("consensus: {0}")]
    Consensus(String),
    /// Persisted data does not decode.
    #[error("corrupt {what}: {source}")]
    Corrupt {
        /// Which record.
        what: &'static str,
        /// Why.
        source: pc_codec::CodecError,
    },
    /// This node cannot produce events on this chain.
    #[error("{0}")]
    NoSeat(String),
    /// The seat's signer refused or could not be reached; production pauses and retries.
    #[error("seat signer: {0}")]
    Signer(String),
    /// The consensus engine found more than f Byzantine seats and stopped (consensus.md §7):
    /// the node stops producing and exits; the evidence is written first.
    #[error("consensus halted: {0}")]
    Halted(String),
    /// The RPC server failed.
    #[error("rpc: {0}")]
    Rpc(String),
}
