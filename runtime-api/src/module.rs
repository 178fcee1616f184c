//! The module trait and its registration descriptor.

use crate::{AnchorCtx, ChainConstants, EventSink, GenesisCtx, ModuleError, ModuleState, ModuleView, RpcMethod};
use pc_codec::{Decode, Encode, Hash32};

/// What the host needs to know about a module before building it. Submitted with
/// [`register_module!`](crate::register_module) and collected through `inventory`.
#[derive(Debug)]
pub struct ModuleDescriptor {
    /// Unique name: lower-case ASCII letters, digits and `-`. It is the storage namespace, the
    /// chainspec key and the call target, so it never changes once a chain runs.
    pub name: &'static str,
    /// The cargo feature of `phantom-node` that links this module (named in start-up errors).
    pub feature: &'static str,
    /// Position in the anchor hook chain; equal orders are broken by name.
    pub order: u32,
    /// Modules that must be enabled too, and whose state this one may read.
    pub depends_on: &'static [&'static str],
    /// Builds the module from the chain constants and its own chainspec section.
    pub build: fn(&ModuleInit<'_>) -> Result<Box<dyn Module>, ModuleError>,
}

inventory::collect!(ModuleDescriptor);

/// The naming rule for modules (and chain ids): 1–64 characters of `a-z`, `0-9` and `-`, so a
/// name is a safe storage prefix, chainspec key and cargo feature suffix.
pub fn is_valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Every module descriptor linked into this binary, in link order (the host sorts them).
pub fn registered_modules() -> impl Iterator<Item = &'static ModuleDescriptor> {
    inventory::iter::<ModuleDescriptor>.into_iter()
}

/// Input to [`ModuleDescriptor::build`].
#[derive(Debug)]
pub struct ModuleInit<'a> {
    /// The chain's constants sheet.
    pub constants: &'a ChainConstants,
    /// This module's section of the chainspec (`null` when the spec gives none). A module parses
    /// it strictly and names the offending field in [`ModuleError::Config`].
    pub config: &'a serde_json::Value,
    /// The chain's genesis hash (a function of the chainspec alone), so modules need not read
    /// it from state on every call.
    pub genesis_hash: Hash32,
}

impl ModuleInit<'_> {
    /// Parses the module's section strictly into `T`; a failure names the offending field's
    /// path inside the section (the host prefixes `modules.<name>.`).
    pub fn parse_config<T: serde::de::DeserializeOwned>(&self) -> Result<T, ModuleError> {
        parse_config(self.config)
    }
}

/// [`ModuleInit::parse_config`] for a section held elsewhere.
pub fn parse_config<T: serde::de::DeserializeOwned>(section: &serde_json::Value) -> Result<T, ModuleError> {
    serde_path_to_error::deserialize(section.clone())
        .map_err(|e| ModuleError::Config { field: e.path().to_string(), reason: e.into_inner().to_string() })
}

/// A call addressed to one module: the unit that transactions, mints and evidence travel in.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Call {
    /// The target module's name.
    pub module: String,
    /// The module's own SCALE-encoded call.
    pub data: Vec<u8>,
}

impl pc_codec::Identified for Call {
    const DOMAIN: pc_codec::Domain = pc_codec::Domain::new("phantomcoin/v1/runtime/call");
}

/// A valid call's standing in the mempool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validity {
    /// Higher goes first (for transactions: fee per 1,000 encoded bytes).
    pub priority: u64,
    /// Tags this call makes available (e.g. the outputs it creates).
    pub provides: Vec<Hash32>,
    /// Tags that must be available first (e.g. the outputs it spends); two pending calls that
    /// require the same tag conflict.
    pub requires: Vec<Hash32>,
    /// The call stays valid until a finalized call consumes one of its `requires` tags (see
    /// [`Prechecked::consuming`]), so the pool need not re-check it before it goes into an
    /// event. `false` (the default): the pool calls [`Module::revalidate`] first.
    pub stable: bool,
    /// The call's [`Module::call_key`], when validation computed it anyway (`None`: the host
    /// asks `call_key`).
    pub key: Option<Hash32>,
}

/// What a module worked out about one call of an anchor before the call's turn (see
/// [`Module::precheck`]): the call's key and the module's own findings, opaque to the host.
pub struct Prechecked {
    key: Option<Hash32>,
    consumes: Vec<Hash32>,
    work: Box<dyn std::any::Any + Send>,
}

impl std::fmt::Debug for Prechecked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prechecked").field("key", &self.key).finish_non_exhaustive()
    }
}

impl Prechecked {
    /// Findings `work` about a call whose [`Module::call_key`] is `key`.
    pub fn new<T: std::any::Any + Send>(key: Option<Hash32>, work: T) -> Self {
        Prechecked { key, consumes: Vec::new(), work: Box::new(work) }
    }

    /// The mempool tags the call consumes if it applies (for the UTXO module, the outpoint tags
    /// of its inputs): the host reports them with the anchor, and the pool drops every pending
    /// call that requires one of them.
    #[must_use]
    pub fn consuming(mut self, tags: Vec<Hash32>) -> Self {
        self.consumes = tags;
        self
    }

    /// Takes the tags given to [`consuming`](Self::consuming).
    pub fn take_consumes(&mut self) -> Vec<Hash32> {
        std::mem::take(&mut self.consumes)
    }

    /// The call's key, as [`Module::call_key`] would give it.
    pub fn key(&self) -> Option<Hash32> {
        self.key
    }

    /// The findings, if they are of type `T`.
    pub fn into_work<T: std::any::Any>(self) -> Option<T> {
        self.work.downcast::<T>().ok().map(|b| *b)
    }
}

/// A protocol module. Every method is deterministic: same inputs, same state, same result, on
/// every node. Methods report bad input as [`ModuleError::Invalid`] and never panic.
///
/// Hook chain for a finalized anchor: `on_anchor_begin` of every module in order, then each
/// call in the anchor's total order through `apply`, then `on_anchor_end` of every module in
/// order; all of it commits atomically with the anchor.
pub trait Module: Send + Sync + 'static {
    /// Writes the module's initial state at genesis (anchor A0).
    fn genesis(
        &self,
        _ctx: &GenesisCtx<'_>,
        _state: &mut ModuleState<'_>,
        _events: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        Ok(())
    }

    /// The id users know a call by (a transaction's id, which leaves out its witnesses), used
    /// for status lookups and drop events. `None` (the default, or undecodable bytes) means the
    /// call's own [`Call`] id.
    fn call_key(&self, _call: &[u8]) -> Option<Hash32> {
        None
    }

    /// Checks a call against the current state without changing it (mempool admission).
    fn validate(&self, _call: &[u8], _state: &ModuleView<'_>) -> Result<Validity, ModuleError> {
        Err(ModuleError::NoCalls)
    }

    /// Re-checks a call that passed [`validate`](Self::validate) against an older state, before
    /// it goes into an event. The default validates again; a module whose calls can only be
    /// invalidated by state changes it can detect cheaply (the UTXO module: an input spent
    /// meanwhile) overrides it.
    fn revalidate(&self, call: &[u8], state: &ModuleView<'_>) -> Result<(), ModuleError> {
        self.validate(call, state).map(drop)
    }

    /// Applies a call in finalized order. An error rolls back this call's writes and events
    /// only; the host records the drop as an event and goes on with the next call.
    fn apply(
        &self,
        _ctx: &AnchorCtx,
        _call: &[u8],
        _state: &mut ModuleState<'_>,
        _events: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        Err(ModuleError::NoCalls)
    }

    /// The expensive, order-independent part of applying a call (decoding, hashing, signature
    /// checks), run by the host for all calls of an anchor in parallel against the state
    /// *before* the anchor, ahead of the sequential pass. Its result reaches
    /// [`apply_prechecked`](Self::apply_prechecked). `None` (the default) means no findings.
    fn precheck(&self, _ctx: &AnchorCtx, _call: &[u8], _state: &ModuleView<'_>) -> Option<Prechecked> {
        None
    }

    /// [`apply`](Self::apply), given what [`precheck`](Self::precheck) found. It must have
    /// exactly `apply`'s effects and result: findings only save work where the state they
    /// depend on did not change during the anchor. The default ignores them.
    fn apply_prechecked(
        &self,
        ctx: &AnchorCtx,
        call: &[u8],
        _pre: Option<Prechecked>,
        state: &mut ModuleState<'_>,
        events: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        self.apply(ctx, call, state, events)
    }

    /// Runs before the anchor's calls.
    fn on_anchor_begin(
        &self,
        _ctx: &AnchorCtx,
        _state: &mut ModuleState<'_>,
        _events: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        Ok(())
    }

    /// Runs after the anchor's calls (payouts, maturity, rotation, ...).
    fn on_anchor_end(
        &self,
        _ctx: &AnchorCtx,
        _state: &mut ModuleState<'_>,
        _events: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        Ok(())
    }

    /// The module's JSON-RPC methods; the node serves them under their full names.
    fn rpc_methods(&self) -> Vec<RpcMethod> {
        Vec::new()
    }

    /// Whether this module takes the host's evidence (the slashing module does). At most one
    /// enabled module may; the host checks it at start, like dependencies.
    fn receives_evidence(&self) -> bool {
        false
    }

    /// Whether this module chooses the committee (the committee-vrf module does). At most one
    /// enabled module may; the host checks it at start, like dependencies.
    fn provides_committee(&self) -> bool {
        false
    }

    /// The committee of the epoch after the one `ctx` ends, asked by the host at the epoch's
    /// last anchor, after `on_anchor_end`, in the same commit: exactly `committee_size` seats
    /// with distinct valid keys. `Ok(None)` keeps the current committee (too few candidates).
    /// The current committee is `state.view().committee(ctx.index, ...)`. An answer that breaks
    /// the rules keeps the committee too (a `CommitteeRefused` event says why); `Invalid`
    /// rolls back this hook's writes and keeps it; `Fatal` or `Storage` halts the anchor.
    fn next_committee(
        &self,
        _ctx: &AnchorCtx,
        _state: &mut ModuleState<'_>,
        _events: &mut EventSink<'_>,
    ) -> Result<Option<Vec<crate::CommitteeSeat>>, ModuleError> {
        Ok(None)
    }

    /// A fault the host verified (signatures against the committee) and sees for the first
    /// time on this chain, in the anchor's order. An `Invalid` error rolls back this module's
    /// writes and events; the host still records the fault, with `received: false`. `Fatal`
    /// or `Storage` halts the anchor, as from any hook.
    fn on_evidence(
        &self,
        _ctx: &AnchorCtx,
        _evidence: &crate::Evidence,
        _fault: &crate::Fault,
        _state: &mut ModuleState<'_>,
        _events: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        Ok(())
    }
}
