use pc_chainspec::ChainSpecError;
use pc_codec::Hash32;
use pc_runtime_api::ModuleError;
use pc_state::StateError;

/// Why the host refused to start or to apply an anchor.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The chainspec enables a module this binary does not contain.
    #[error(
        "chainspec enables module `{name}`, which is not compiled into this binary; rebuild with cargo feature `{feature}`"
    )]
    ModuleNotCompiledIn {
        /// The module's name.
        name: String,
        /// The cargo feature that links it, by convention `module-<name>`.
        feature: String,
    },
    /// More than one enabled module declares itself the evidence receiver.
    #[error("modules {0:?} each declare themselves the evidence receiver; enable at most one")]
    EvidenceReceivers(Vec<&'static str>),
    /// More than one enabled module declares itself the committee provider.
    #[error("modules {0:?} each declare themselves the committee provider; enable at most one")]
    CommitteeProviders(Vec<&'static str>),
    /// Two linked crates register the same module name.
    #[error("module `{0}` is registered twice")]
    DuplicateModule(&'static str),
    /// A registered name breaks the naming rule.
    #[error("module name `{0}` must be 1-64 characters of a-z, 0-9 and -")]
    BadModuleName(&'static str),
    /// An enabled module depends on one that is not enabled.
    #[error("module `{module}` depends on `{missing}`, which the chainspec does not enable (add `modules.{missing}`)")]
    MissingDependency {
        /// The dependent module.
        module: &'static str,
        /// The module it needs.
        missing: &'static str,
    },
    /// A module runs before (or in a cycle with) a module it depends on.
    #[error("module `{module}` depends on `{dependency}`, which must come earlier in the hook chain (lower order)")]
    DependencyOrder {
        /// The dependent module.
        module: &'static str,
        /// Its dependency.
        dependency: &'static str,
    },
    /// A module refused its chainspec section.
    #[error("chainspec field `{}`: {reason}", section_path(module, field))]
    ModuleConfig {
        /// The module.
        module: &'static str,
        /// The field inside its section.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A module failed to build for another reason.
    #[error("module `{module}` failed to start: {source}")]
    ModuleBuild {
        /// The module.
        module: &'static str,
        /// Its error.
        source: ModuleError,
    },
    /// A hook or genesis failed: the anchor is not committed and the node must stop.
    #[error("module `{module}` failed in {phase} of anchor {anchor}: {source}")]
    Hook {
        /// The module.
        module: &'static str,
        /// `genesis`, `on_anchor_begin`, `apply` or `on_anchor_end`.
        phase: &'static str,
        /// The anchor index.
        anchor: u64,
        /// Its error.
        source: ModuleError,
    },
    /// The database belongs to another chain.
    #[error("database was created for genesis {found}, but the chainspec's genesis is {expected}")]
    GenesisMismatch {
        /// From the chainspec.
        expected: Hash32,
        /// From the database.
        found: Hash32,
    },
    /// A call names a module that is not enabled.
    #[error("no enabled module `{0}`")]
    UnknownModule(String),
    /// A call failed validation.
    #[error("invalid call: {0}")]
    InvalidCall(ModuleError),
    /// The chainspec is invalid.
    #[error(transparent)]
    ChainSpec(#[from] ChainSpecError),
    /// State or storage failed.
    #[error(transparent)]
    State(#[from] StateError),
}

/// `modules.<module>.<field>`, or `modules.<module>` for the section as a whole (a missing
/// field at its top level: serde's path is `.` there).
fn section_path(module: &str, field: &str) -> String {
    match field {
        "" | "." => format!("modules.{module}"),
        f => format!("modules.{module}.{f}"),
    }
}
