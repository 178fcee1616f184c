//! The contract between the PhantomCoin host and its modules.
//!
//! A module is a crate under `modules/` that implements [`Module`] and registers a static
//! [`ModuleDescriptor`] with [`register_module!`]. The host collects every linked descriptor,
//! orders them deterministically (declared `order`, then name), checks declared dependencies and
//! builds exactly the modules the chainspec enables. From then on the module sees only:
//!
//! - its own namespaced storage ([`ModuleState`], [`ModuleView`], typed [`StorageValue`] and
//!   [`StorageMap`]), plus read access to modules it declared in `depends_on`;
//! - typed events ([`ModuleEvent`]) emitted through an [`EventSink`], indexed by
//!   (anchor, index) and tagged with their module;
//! - the committee of any epoch the host keeps ([`ModuleView::committee`]), which at most one
//!   module, the committee provider, chooses ([`Module::next_committee`]);
//! - the [`AnchorCtx`] of the anchor being applied: DAG-logical facts only. No wall clock is
//!   reachable from a module: nothing here carries or returns one.
//!
//! See `docs/runtime-api.md` for the rules and for what each of the eight modules uses.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[doc = include_str!("../../docs/RUST_ERROR_POLICY.md")]
pub mod error_policy {}

mod committee;
mod constants;
mod context;
mod error;
mod events;
mod evidence;
mod module;
mod rpc;
mod storage;

pub use committee::{
    COMMITTEE_TARGET, COMMITTEES, Committee, CommitteeChanged, CommitteeRefused, CommitteeSeat, MAX_SEAT_META,
};
pub use constants::{ChainConstants, ConstantsError, EpochGrid, MAX_SUPPLY_CAP, Windows};
pub use context::{Ack, AnchorCtx, GenesisCtx};
pub use error::ModuleError;
pub use events::{EventSink, ModuleEvent, RawEvent};
pub use evidence::{EVIDENCE_TARGET, Event, Evidence, EvidenceError, Fault, MAX_EVIDENCE_BYTES, SignedEvent};
pub use module::{
    Call, Module, ModuleDescriptor, ModuleInit, Prechecked, Validity, is_valid_name, parse_config, registered_modules,
};
pub use rpc::{RpcError, RpcHandler, RpcMethod, RpcReply, hash_param, hex_param, param, str_param, submit_param};
pub use storage::{
    AUX_KEY_PREFIX, KvPairs, ModuleState, ModuleView, StateRead, StateWrite, StorageError, StorageMap, StorageRead,
    StorageValue,
};

pub use inventory;
pub use pc_codec as codec;
pub use pc_codec::{AnchorIndex, ConsensusTime, Decode, Encode, Hash32, SeatIndex, ShardId};
pub use serde_json;

/// Registers a module with the host. Use once per module crate, at top level:
///
/// ```
/// use pc_runtime_api::{Module, ModuleDescriptor, ModuleError, ModuleInit, register_module};
///
/// struct Hello;
/// impl Module for Hello {} // every method has a default: no calls, no hooks
///
/// fn build(_init: &ModuleInit<'_>) -> Result<Box<dyn Module>, ModuleError> {
///     Ok(Box::new(Hello))
/// }
///
/// register_module!(ModuleDescriptor {
///     name: "hello",
///     feature: "module-hello",
///     order: 500,
///     depends_on: &[],
///     build,
/// });
///
/// fn main() {
///     assert!(pc_runtime_api::registered_modules().any(|d| d.name == "hello"));
/// }
/// ```
///
/// The host only sees crates that are linked: the node (and every test) names each enabled
/// module crate, e.g. `use pc_module_genesis as _;`.
#[macro_export]
macro_rules! register_module {
    ($descriptor:expr) => {
        $crate::inventory::submit! { $descriptor }
    };
}
