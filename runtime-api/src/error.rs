use crate::StorageError;
use pc_codec::CodecError;

/// A module's error. The variant tells the host what to do with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModuleError {
    /// The call or input is invalid. `code` is stable and machine-readable
    /// (`<module>.<what>`, e.g. `utxo.bad-signature`); `reason` is for people.
    #[error("{code}: {reason}")]
    Invalid {
        /// Stable error code.
        code: &'static str,
        /// Human-readable explanation.
        reason: String,
    },
    /// The module's chainspec section is missing a field or has a bad one.
    #[error("{field}: {reason}")]
    Config {
        /// Path of the field inside the module's section.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The module takes no calls.
    #[error("this module accepts no calls")]
    NoCalls,
    /// The call's bytes did not decode canonically.
    #[error("undecodable call: {0}")]
    Codec(#[from] CodecError),
    /// Storage failed underneath.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A module asked for state of a module it did not declare in `depends_on`.
    #[error("module `{module}` reads `{wanted}` without declaring it in depends_on")]
    UndeclaredDependency {
        /// The module asking.
        module: &'static str,
        /// The namespace it asked for.
        wanted: String,
    },
    /// An invariant broke; the node must stop rather than commit this anchor.
    #[error("fatal: {0}")]
    Fatal(String),
}

impl ModuleError {
    /// Shorthand for [`ModuleError::Invalid`].
    pub fn invalid(code: &'static str, reason: impl Into<String>) -> Self {
        ModuleError::Invalid { code, reason: reason.into() }
    }
}
