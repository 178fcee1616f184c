//! The PhantomCoin module host.
//!
//! It knows no module by name: it collects every linked [`ModuleDescriptor`] through
//! `inventory`, orders them deterministically (declared order, then name), and builds exactly
//! the modules a chainspec enables. It then runs genesis and applies finalized anchors through
//! the hook chain — `on_anchor_begin` of every module, the anchor's calls in total order,
//! `on_anchor_end` of every module — and commits the state writes, the anchor record, the
//! anchor's events and the new head in one atomic batch.
//!
//! [`ModuleDescriptor`]: pc_runtime_api::ModuleDescriptor
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod backend;
mod committee;
mod error;
mod evidence;
mod records;
mod registry;
mod runtime;

pub use error::RuntimeError;
pub use evidence::{FaultRecorded, KnownFault};
pub use records::{
    AnchorInput, AnchorOutcome, AnchorRecord, CallDropped, CallOutcome, CallRecord, EventRecord, SYSTEM_EVENTS,
};
pub use registry::{ModuleInfo, catalogue};
pub use runtime::{ExecutedAnchor, Runtime};
