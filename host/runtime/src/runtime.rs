//! Building the enabled modules and running genesis and anchors through the hook chain.

use crate::RuntimeError;
use crate::backend::{CommittedBackend, TxnBackend};
use crate::committee;
use crate::evidence::{self, KnownFault, Window};
use crate::records::{
    AnchorInput, AnchorOutcome, AnchorRecord, CallDropped, CallOutcome, CallRecord, EventRecord, SYSTEM_EVENTS,
    events_root,
};
use crate::registry::{ModuleInfo, catalogue, check_dependencies};
use pc_chainspec::ChainSpec;
use pc_codec::{ConsensusTime, Domain, Encode, Hash32, Identified};
use pc_runtime_api::{
    AnchorCtx, COMMITTEE_TARGET, COMMITTEES, Call, Committee, EVIDENCE_TARGET, EventSink, GenesisCtx, Module,
    ModuleDescriptor, ModuleError, ModuleInit, ModuleState, ModuleView, Prechecked, RawEvent, RpcMethod, Validity,
};
use pc_state::{Head, StateDb, StateTxn};
use pc_store::Column;
use rayon::prelude::*;

/// Overlay entries reserved per call (a transfer writes five or six keys).
const WRITES_PER_CALL: usize = 6;

const GENESIS_ANCHOR: Domain = Domain::new("phantomcoin/v1/runtime/genesis-anchor");

struct Loaded {
    desc: &'static ModuleDescriptor,
    module: Box<dyn Module>,
}

/// The enabled modules of one chain, in hook-chain order.
pub struct Runtime {
    spec: ChainSpec,
    genesis_hash: Hash32,
    modules: Vec<Loaded>,
    /// The chainspec's committee: the first epoch's.
    genesis_keys: Vec<[u8; 32]>,
    /// The module that takes evidence, by position in `modules`.
    receiver: Option<usize>,
    /// The module that chooses committees, by position in `modules`.
    provider: Option<usize>,
    /// The seat keys of the committees in the state, by epoch: what [`call_key`](Self::call_key)
    /// checks evidence against without a state read. Filled from the state at start and by
    /// every commit that stores a committee.
    committees: std::sync::RwLock<std::collections::BTreeMap<u64, Vec<[u8; 32]>>>,
}

/// Committees [`Runtime::call_key`] keeps in memory.
const COMMITTEES_CACHED: usize = 64;

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("genesis_hash", &self.genesis_hash)
            .field("modules", &self.module_names())
            .finish()
    }
}

/// An anchor whose hooks ran and whose writes wait in an overlay.
pub struct ExecutedAnchor<'db> {
    ctx: AnchorCtx,
    txn: StateTxn<'db>,
    raw: Vec<RawEvent>,
    index: Vec<(Hash32, CallRecord)>,
    calls: usize,
    dropped: u32,
    keys: Vec<Hash32>,
    applied: Vec<Hash32>,
    dropped_calls: Vec<(Hash32, Hash32)>,
    consumed: Vec<(Hash32, Hash32)>,
    /// The next epoch's committee, and the epochs whose committees were dropped.
    committee: Option<(Committee, Vec<u64>)>,
}

impl std::fmt::Debug for ExecutedAnchor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutedAnchor").field("index", &self.ctx.index).field("calls", &self.calls).finish()
    }
}

type Phase = fn(&dyn Module, &AnchorCtx, &mut ModuleState<'_>, &mut EventSink<'_>) -> Result<(), ModuleError>;

impl Runtime {
    /// Builds exactly the modules `spec` enables, in (order, name) order, after checking that
    /// each is compiled in, that its dependencies are enabled and that its section is valid.
    pub fn new(spec: ChainSpec) -> Result<Self, RuntimeError> {
        let catalogue = catalogue()?;
        for name in spec.modules.keys() {
            if !catalogue.iter().any(|d| d.name == name) {
                return Err(RuntimeError::ModuleNotCompiledIn {
                    name: name.clone(),
                    feature: format!("module-{name}"),
                });
            }
        }
        let selected: Vec<_> = catalogue.into_iter().filter(|d| spec.modules.contains_key(d.name)).collect();
        check_dependencies(&selected)?;
        let genesis_hash = spec.genesis_hash()?;
        let mut modules = Vec::with_capacity(selected.len());
        for desc in selected {
            let config = spec.modules.get(desc.name).unwrap_or(&serde_json::Value::Null);
            let init = ModuleInit { constants: &spec.constants, config, genesis_hash };
            let module = (desc.build)(&init).map_err(|e| match e {
                ModuleError::Config { field, reason } => {
                    RuntimeError::ModuleConfig { module: desc.name, field, reason }
                }
                other => RuntimeError::ModuleBuild { module: desc.name, source: other },
            })?;
            modules.push(Loaded { desc, module });
        }
        let receivers: Vec<usize> = (0..modules.len()).filter(|i| modules[*i].module.receives_evidence()).collect();
        if receivers.len() > 1 {
            return Err(RuntimeError::EvidenceReceivers(receivers.iter().map(|i| modules[*i].desc.name).collect()));
        }
        let providers: Vec<usize> = (0..modules.len()).filter(|i| modules[*i].module.provides_committee()).collect();
        if providers.len() > 1 {
            return Err(RuntimeError::CommitteeProviders(providers.iter().map(|i| modules[*i].desc.name).collect()));
        }
        // A live chain must list its keys; one that does not (build-spec on an unfinished
        // spec) gets no keys here, so all evidence is refused rather than the tool failing.
        let genesis_keys = match spec.seat_keys() {
            Ok(ks) => ks.into_iter().map(|k| k.0).collect(),
            Err(e) => {
                tracing::warn!(target: "pc::runtime", %e, "no committee keys: every evidence call will be refused");
                Vec::new()
            }
        };
        Ok(Self {
            spec,
            genesis_hash,
            modules,
            genesis_keys,
            receiver: receivers.first().copied(),
            provider: providers.first().copied(),
            committees: Default::default(),
        })
    }

    /// The module that chooses committees, if one is enabled.
    pub fn committee_provider(&self) -> Option<&'static str> {
        self.provider.map(|i| self.modules[i].desc.name)
    }

    /// The committee of the grid epoch that holds anchor `anchor`, as the committed state
    /// holds it (`None`: pruned, or not decided yet).
    pub fn committee(&self, db: &StateDb, anchor: u64) -> Result<Option<Committee>, RuntimeError> {
        let backend = CommittedBackend::new(db);
        let view = ModuleView::new(COMMITTEE_TARGET, &[], &backend, 0);
        let epoch = self.spec.constants.windows.epoch_grid().start_of(anchor);
        let c = committee::stored(&view, epoch).map_err(|source| RuntimeError::Hook {
            module: COMMITTEE_TARGET,
            phase: "read",
            anchor,
            source,
        })?;
        if let Some(c) = &c {
            self.cache_committee(c);
        }
        Ok(c)
    }

    fn cache_committee(&self, c: &Committee) {
        if let Ok(mut cache) = self.committees.write() {
            cache.insert(c.epoch, c.keys());
            while cache.len() > COMMITTEES_CACHED {
                cache.pop_first();
            }
        }
    }

    /// Loads every stored committee into the cache [`call_key`](Self::call_key) uses.
    fn load_committees(&self, db: &StateDb) -> Result<(), RuntimeError> {
        let backend = CommittedBackend::new(db);
        let view = ModuleView::new(COMMITTEE_TARGET, &[], &backend, 0);
        let all = COMMITTEES.iter(&view, None, usize::MAX).map_err(|source| RuntimeError::Hook {
            module: COMMITTEE_TARGET,
            phase: "read",
            anchor: 0,
            source,
        })?;
        for (_, c) in all {
            self.cache_committee(&c);
        }
        Ok(())
    }

    /// The seat keys of the committee that checks the evidence in `data` (read from `state`).
    fn evidence_keys(&self, data: &[u8], state: &dyn pc_runtime_api::StateRead) -> Result<Vec<[u8; 32]>, ModuleError> {
        let Some(epoch) = evidence::grid_epoch(data, self.spec.constants.windows.epoch_anchors) else {
            return Ok(Vec::new()); // refused by the checks, with their code
        };
        let view = ModuleView::new(COMMITTEE_TARGET, &[], state, 0);
        Ok(committee::stored(&view, epoch)?.map(|c| c.keys()).unwrap_or_default())
    }

    /// The module that takes evidence, if one is enabled.
    pub fn evidence_receiver(&self) -> Option<&'static str> {
        self.receiver.map(|i| self.modules[i].desc.name)
    }

    /// Faults the chain has recorded, in key order, after the key `after` (at most `limit`).
    pub fn known_faults(db: &StateDb, after: Option<&Hash32>, limit: usize) -> Result<Vec<KnownFault>, RuntimeError> {
        let backend = CommittedBackend::new(db);
        let view = ModuleView::new(EVIDENCE_TARGET, &[], &backend, Self::next_anchor(db)?);
        evidence::known(&view, after, limit).map_err(|source| RuntimeError::Hook {
            module: EVIDENCE_TARGET,
            phase: "read",
            anchor: 0,
            source,
        })
    }

    /// The chainspec.
    pub fn spec(&self) -> &ChainSpec {
        &self.spec
    }

    /// The genesis hash (hash of the raw chainspec).
    pub fn genesis_hash(&self) -> Hash32 {
        self.genesis_hash
    }

    /// Names of the enabled modules in hook-chain order.
    pub fn module_names(&self) -> Vec<&'static str> {
        self.modules.iter().map(|m| m.desc.name).collect()
    }

    /// The enabled modules as listed to operators.
    pub fn modules(&self) -> Vec<ModuleInfo> {
        self.modules.iter().map(|m| ModuleInfo::from(m.desc)).collect()
    }

    /// Id of anchor A0, derived from the genesis hash.
    pub fn genesis_anchor_id(&self) -> Hash32 {
        GENESIS_ANCHOR.hash(&self.genesis_hash.0)
    }

    /// Commits genesis into an empty database, or checks that a used database belongs to this
    /// chain. Returns the head either way.
    pub fn init_genesis(&self, db: &StateDb) -> Result<Head, RuntimeError> {
        if let Some(head) = db.head()? {
            let found = db.genesis_hash()?.unwrap_or(Hash32::ZERO);
            if found != self.genesis_hash {
                return Err(RuntimeError::GenesisMismatch { expected: self.genesis_hash, found });
            }
            self.load_committees(db)?;
            return Ok(head);
        }
        let gctx = GenesisCtx {
            genesis_hash: self.genesis_hash,
            network_id: &self.spec.network_id,
            constants: &self.spec.constants,
        };
        let ctx = AnchorCtx::bare(0, 0, self.genesis_anchor_id(), ConsensusTime::default());
        let mut txn = db.txn();
        let mut raw = Vec::new();
        for m in &self.modules {
            let mut backend = TxnBackend(&mut txn);
            let mut state = ModuleState::new(m.desc.name, m.desc.depends_on, &mut backend, 0);
            m.module
                .genesis(&gctx, &mut state, &mut EventSink::new(m.desc.name, &mut raw))
                .map_err(|source| RuntimeError::Hook { module: m.desc.name, phase: "genesis", anchor: 0, source })?;
        }
        {
            let mut backend = TxnBackend(&mut txn);
            let mut state = ModuleState::new(COMMITTEE_TARGET, &[], &mut backend, 0);
            committee::genesis(&mut state, &self.genesis_keys);
        }
        let (record, _) = self.commit(db, txn, &ctx, raw, &[], 0, 0, true)?;
        tracing::info!(target: "pc::runtime", genesis = %self.genesis_hash, state_root = %record.state_root, "genesis committed");
        self.load_committees(db)?;
        Ok(pc_state::Head { anchor: 0, anchor_id: record.anchor_id, state_root: record.state_root })
    }

    /// Applies one finalized anchor through the hook chain and commits it atomically.
    ///
    /// A call that fails in `apply` is rolled back alone and recorded as a `system/CallDropped`
    /// event; a failing hook aborts the whole anchor (nothing is written) and the error must
    /// stop the node.
    pub fn apply_anchor(&self, db: &StateDb, input: &AnchorInput) -> Result<AnchorOutcome, RuntimeError> {
        let executed = self.execute_anchor(db, input)?;
        self.commit_anchor(db, executed)
    }

    /// [`apply_anchor`](Self::apply_anchor) without [`Module::precheck`]: every call goes
    /// through its module's plain `apply`. Same result by contract; the reference that tests
    /// compare the prechecked path against.
    pub fn apply_anchor_sequential(&self, db: &StateDb, input: &AnchorInput) -> Result<AnchorOutcome, RuntimeError> {
        let keyed = input.calls.iter().map(|call| (self.call_key(call), None)).collect();
        let executed = self.execute(db, input, keyed)?;
        self.commit_anchor(db, executed)
    }

    /// The first half of [`apply_anchor`](Self::apply_anchor): runs the hook chain over the
    /// anchor's calls into an overlay, writing nothing.
    pub fn execute_anchor<'db>(
        &self,
        db: &'db StateDb,
        input: &AnchorInput,
    ) -> Result<ExecutedAnchor<'db>, RuntimeError> {
        // The order-independent work of every call, in parallel against the pre-anchor state;
        // the sequential pass only does what depends on the calls before it.
        let prechecked = input.calls.par_iter().map(|call| self.precheck(db, &input.ctx, call)).collect();
        self.execute(db, input, prechecked)
    }

    fn execute<'db>(
        &self,
        db: &'db StateDb,
        input: &AnchorInput,
        prechecked: Vec<(Hash32, Option<Prechecked>)>,
    ) -> Result<ExecutedAnchor<'db>, RuntimeError> {
        let ctx = &input.ctx;
        let mut txn = db.txn();
        txn.reserve(input.calls.len().saturating_mul(WRITES_PER_CALL));
        let mut raw = Vec::new();
        self.run_phase(&mut txn, ctx, &mut raw, "on_anchor_begin", |m, c, s, e| m.on_anchor_begin(c, s, e))?;
        let mut dropped = 0u32;
        let mut index = Vec::with_capacity(input.calls.len());
        let mut keys = Vec::with_capacity(input.calls.len());
        let mut consumed = Vec::new();
        let (mut applied, mut dropped_calls) = (Vec::new(), Vec::new());
        for ((position, call), (key, mut pre)) in input.calls.iter().enumerate().zip(prechecked) {
            keys.push(key);
            let consumes = pre.as_mut().map(Prechecked::take_consumes).unwrap_or_default();
            let outcome = match self.apply_call(&mut txn, ctx, call, pre, &mut raw) {
                Ok(()) => {
                    consumed.extend(consumes.into_iter().map(|tag| (tag, key)));
                    applied.push(key);
                    CallOutcome::Applied
                }
                Err(e) => {
                    if let ModuleError::Fatal(_) | ModuleError::Storage(_) = e {
                        let module = if call.module == EVIDENCE_TARGET {
                            EVIDENCE_TARGET
                        } else {
                            self.find(&call.module).map_or(SYSTEM_EVENTS, |m| m.desc.name)
                        };
                        return Err(RuntimeError::Hook { module, phase: "apply", anchor: ctx.index, source: e });
                    }
                    dropped += 1;
                    dropped_calls.push((key, call.id()));
                    let code = match &e {
                        ModuleError::Invalid { code, .. } => (*code).to_string(),
                        _ => "system.invalid-call".to_string(),
                    };
                    tracing::debug!(target: "pc::runtime", anchor = ctx.index, module = %call.module, %e, "call dropped");
                    let ev = CallDropped { call_id: key, module: call.module.clone(), code: code.clone() };
                    EventSink::new(SYSTEM_EVENTS, &mut raw).emit(&ev);
                    CallOutcome::Dropped { code, reason: e.to_string() }
                }
            };
            // A key keeps its first finalized record: a later copy of an applied call (same
            // id, other witness) is dropped and must not make `tx_status` say "rejected".
            if matches!(outcome, CallOutcome::Dropped { .. })
                && (index.iter().any(|(k, _)| *k == key) || Self::call_record(db, &key)?.is_some())
            {
                continue;
            }
            let position = u32::try_from(position).unwrap_or(u32::MAX);
            index.push((key, CallRecord { anchor: ctx.index, position, outcome, call: call.clone() }));
        }
        self.run_phase(&mut txn, ctx, &mut raw, "on_anchor_end", |m, c, s, e| m.on_anchor_end(c, s, e))?;
        let grid = self.spec.constants.windows.epoch_grid();
        let committee = if ctx.index > 0 && grid.end_of(grid.start_of(ctx.index)) == ctx.index {
            Some(self.close_epoch(&mut txn, ctx, &mut raw)?)
        } else {
            None
        };
        Ok(ExecutedAnchor {
            ctx: ctx.clone(),
            txn,
            raw,
            index,
            calls: input.calls.len(),
            dropped,
            keys,
            applied,
            dropped_calls,
            consumed,
            committee,
        })
    }

    /// At the last anchor of an epoch: the provider's committee for the next one, checked and
    /// stored (docs/runtime-api.md §13). The provider's writes roll back if it fails.
    fn close_epoch(
        &self,
        txn: &mut StateTxn<'_>,
        ctx: &AnchorCtx,
        raw: &mut Vec<RawEvent>,
    ) -> Result<(Committee, Vec<u64>), RuntimeError> {
        let mut proposed = None;
        if let Some(m) = self.provider.map(|i| &self.modules[i]) {
            let mark = raw.len();
            txn.checkpoint();
            let mut backend = TxnBackend(&mut *txn);
            let mut state = ModuleState::new(m.desc.name, m.desc.depends_on, &mut backend, ctx.index);
            match m.module.next_committee(ctx, &mut state, &mut EventSink::new(m.desc.name, raw)) {
                Ok(p) => {
                    txn.release();
                    proposed = p;
                }
                Err(e @ (ModuleError::Fatal(_) | ModuleError::Storage(_))) => {
                    return Err(RuntimeError::Hook {
                        module: m.desc.name,
                        phase: "next_committee",
                        anchor: ctx.index,
                        source: e,
                    });
                }
                Err(e) => {
                    txn.rollback();
                    raw.truncate(mark);
                    tracing::warn!(target: "pc::runtime", module = m.desc.name, %e, "the committee provider failed; the committee stays");
                }
            }
        }
        let c = &self.spec.constants;
        let mut backend = TxnBackend(&mut *txn);
        let mut state = ModuleState::new(COMMITTEE_TARGET, &[], &mut backend, ctx.index);
        let mut events = EventSink::new(COMMITTEE_TARGET, raw);
        committee::close_epoch(
            &mut state,
            &mut events,
            ctx.index,
            c.windows.epoch_grid(),
            c.windows.slash_window,
            c.committee_size,
            proposed,
        )
        .map_err(|source| RuntimeError::Hook {
            module: COMMITTEE_TARGET,
            phase: "close_epoch",
            anchor: ctx.index,
            source,
        })
    }

    /// The second half of [`apply_anchor`](Self::apply_anchor): computes the state root and
    /// commits the anchor atomically.
    pub fn commit_anchor(&self, db: &StateDb, e: ExecutedAnchor<'_>) -> Result<AnchorOutcome, RuntimeError> {
        let (record, events) = self.commit(db, e.txn, &e.ctx, e.raw, &e.index, e.calls, e.dropped, false)?;
        if let Some((c, pruned)) = &e.committee {
            self.cache_committee(c);
            if let Ok(mut cache) = self.committees.write() {
                for epoch in pruned {
                    cache.remove(epoch);
                }
            }
        }
        Ok(AnchorOutcome {
            record,
            events,
            keys: e.keys,
            applied: e.applied,
            dropped: e.dropped_calls,
            consumed: e.consumed,
            committee: e.committee.map(|(c, _)| c),
        })
    }

    fn find(&self, name: &str) -> Option<&Loaded> {
        self.modules.iter().find(|m| m.desc.name == name)
    }

    fn run_phase(
        &self,
        txn: &mut StateTxn<'_>,
        ctx: &AnchorCtx,
        raw: &mut Vec<RawEvent>,
        phase: &'static str,
        f: Phase,
    ) -> Result<(), RuntimeError> {
        for m in &self.modules {
            let mut backend = TxnBackend(&mut *txn);
            let mut state = ModuleState::new(m.desc.name, m.desc.depends_on, &mut backend, ctx.index);
            f(m.module.as_ref(), ctx, &mut state, &mut EventSink::new(m.desc.name, raw))
                .map_err(|source| RuntimeError::Hook { module: m.desc.name, phase, anchor: ctx.index, source })?;
        }
        Ok(())
    }

    /// A call's key and its module's [`Module::precheck`] findings.
    fn precheck(&self, db: &StateDb, ctx: &AnchorCtx, call: &Call) -> (Hash32, Option<Prechecked>) {
        let Some(m) = self.find(&call.module) else { return (self.call_key(call), None) };
        let backend = CommittedBackend::new(db);
        let view = ModuleView::new(m.desc.name, m.desc.depends_on, &backend, ctx.index);
        let pre = m.module.precheck(ctx, &call.data, &view);
        let key = match pre.as_ref().map(Prechecked::key) {
            Some(Some(key)) => key,
            _ => self.call_key(call),
        };
        (key, pre)
    }

    fn apply_call(
        &self,
        txn: &mut StateTxn<'_>,
        ctx: &AnchorCtx,
        call: &Call,
        pre: Option<Prechecked>,
        raw: &mut Vec<RawEvent>,
    ) -> Result<(), ModuleError> {
        if call.module == EVIDENCE_TARGET {
            return self.apply_evidence(txn, ctx, &call.data, raw);
        }
        let m = self.find(&call.module).ok_or_else(|| {
            ModuleError::invalid("system.unknown-module", format!("no enabled module `{}`", call.module))
        })?;
        let mark = raw.len();
        txn.checkpoint();
        let mut backend = TxnBackend(&mut *txn);
        let mut state = ModuleState::new(m.desc.name, m.desc.depends_on, &mut backend, ctx.index);
        let result = m.module.apply_prechecked(ctx, &call.data, pre, &mut state, &mut EventSink::new(m.desc.name, raw));
        if result.is_ok() {
            txn.release();
        } else {
            txn.rollback();
            raw.truncate(mark);
        }
        result
    }

    /// Checks evidence again (a Byzantine seat may carry any bytes), records the fault once and
    /// hands it to the receiver; all of it rolls back together if any part fails.
    fn apply_evidence(
        &self,
        txn: &mut StateTxn<'_>,
        ctx: &AnchorCtx,
        data: &[u8],
        raw: &mut Vec<RawEvent>,
    ) -> Result<(), ModuleError> {
        let window = self.window(ctx.shard, ctx.index);
        let keys = self.evidence_keys(data, &TxnBackend(&mut *txn))?;
        let (evidence, fault) = {
            let mut backend = TxnBackend(&mut *txn);
            let state = ModuleState::new(EVIDENCE_TARGET, &[], &mut backend, ctx.index);
            evidence::check(data, &keys, &window, &state)?
        };
        // The receiver's part rolls back alone: a receiver that refuses the fault does not
        // make the chain forget it.
        let mut received = false;
        if let Some(m) = self.receiver.map(|i| &self.modules[i]) {
            let mark = raw.len();
            txn.checkpoint();
            let mut backend = TxnBackend(&mut *txn);
            let mut state = ModuleState::new(m.desc.name, m.desc.depends_on, &mut backend, ctx.index);
            match m.module.on_evidence(ctx, &evidence, &fault, &mut state, &mut EventSink::new(m.desc.name, raw)) {
                Ok(()) => {
                    txn.release();
                    received = true;
                }
                Err(e) => {
                    txn.rollback();
                    raw.truncate(mark);
                    if let ModuleError::Fatal(_) | ModuleError::Storage(_) = e {
                        return Err(e);
                    }
                    tracing::warn!(target: "pc::runtime", module = m.desc.name, %e, "the evidence receiver refused a fault; it is kept");
                }
            }
        }
        let mut backend = TxnBackend(&mut *txn);
        let mut state = ModuleState::new(EVIDENCE_TARGET, &[], &mut backend, ctx.index);
        evidence::record(&mut state, &mut EventSink::new(EVIDENCE_TARGET, raw), ctx.index, &evidence, fault, received);
        Ok(())
    }

    /// The evidence window seen from anchor `anchor` of `shard`.
    fn window(&self, shard: pc_codec::ShardId, anchor: u64) -> Window {
        let w = &self.spec.constants.windows;
        Window { shard, anchor, epoch_anchors: w.epoch_anchors, slash_window: w.slash_window }
    }

    /// The anchor the next finalized calls land in: the committed head + 1.
    fn next_anchor(db: &StateDb) -> Result<u64, RuntimeError> {
        Ok(db.head()?.map_or(0, |h| h.anchor) + 1)
    }

    #[allow(clippy::too_many_arguments)]
    fn commit(
        &self,
        db: &StateDb,
        txn: StateTxn<'_>,
        ctx: &AnchorCtx,
        raw: Vec<RawEvent>,
        index: &[(Hash32, CallRecord)],
        calls: usize,
        dropped: u32,
        genesis: bool,
    ) -> Result<(AnchorRecord, Vec<EventRecord>), RuntimeError> {
        let calls = u32::try_from(calls).unwrap_or(u32::MAX);
        let events: Vec<EventRecord> = raw
            .into_iter()
            .enumerate()
            .map(|(i, e)| EventRecord {
                anchor: ctx.index,
                index: u32::try_from(i).unwrap_or(u32::MAX),
                module: e.module,
                name: e.name,
                data: e.data,
            })
            .collect();
        let mut prepared = db.prepare(txn.into_writes(), ctx.index)?;
        let record = AnchorRecord {
            index: ctx.index,
            anchor_id: ctx.anchor_id,
            shard: ctx.shard,
            consensus_time: ctx.consensus_time,
            state_root: prepared.state_root(),
            events_root: events_root(&events),
            calls,
            dropped,
        };
        let batch = prepared.batch_mut();
        batch.put(Column::Anchors, AnchorRecord::key(ctx.index).to_vec(), record.encode());
        for e in &events {
            batch.put(Column::Events, EventRecord::key(e.anchor, e.index).to_vec(), e.encode());
        }
        for (key, rec) in index {
            batch.put(Column::Calls, key.0.to_vec(), rec.encode());
        }
        if genesis {
            prepared.set_genesis_hash(&self.genesis_hash);
        }
        prepared.commit(ctx.anchor_id)?;
        tracing::debug!(target: "pc::runtime", anchor = ctx.index, root = %record.state_root, events = events.len(), dropped, "anchor committed");
        Ok((record, events))
    }

    /// The key users know `call` by: its module's [`Module::call_key`], else the call's id.
    pub fn call_key(&self, call: &Call) -> Hash32 {
        if call.module == EVIDENCE_TARGET {
            let r = self.spec.constants.windows.epoch_anchors;
            let keys = evidence::grid_epoch(&call.data, r)
                .and_then(|e| self.committees.read().ok().and_then(|c| c.get(&e).cloned()))
                .unwrap_or_default();
            return evidence::key(&call.data, &keys, r).unwrap_or_else(|| call.id());
        }
        self.find(&call.module).and_then(|m| m.module.call_key(&call.data)).unwrap_or_else(|| call.id())
    }

    /// Where the finalized call with `key` landed, if it did.
    pub fn call_record(db: &StateDb, key: &Hash32) -> Result<Option<CallRecord>, RuntimeError> {
        let Some(bytes) = db.kv().get(Column::Calls, &key.0).map_err(pc_state::StateError::from)? else {
            return Ok(None);
        };
        pc_codec::decode_canonical(&bytes, 16 << 20)
            .map(Some)
            .map_err(|source| RuntimeError::State(pc_state::StateError::Corrupt { what: "call record", source }))
    }

    /// Validates a call against the committed state (mempool admission). Changes nothing.
    pub fn validate_call(&self, db: &StateDb, call: &Call) -> Result<Validity, RuntimeError> {
        let next = Self::next_anchor(db)?;
        if call.module == EVIDENCE_TARGET {
            let window = self.window(0, next);
            let backend = CommittedBackend::new(db);
            let keys = self.evidence_keys(&call.data, &backend).map_err(RuntimeError::InvalidCall)?;
            let view = ModuleView::new(EVIDENCE_TARGET, &[], &backend, next);
            return evidence::validate(&call.data, &keys, &window, &view).map_err(RuntimeError::InvalidCall);
        }
        let m = self.find(&call.module).ok_or_else(|| RuntimeError::UnknownModule(call.module.clone()))?;
        let backend = CommittedBackend::new(db);
        let view = ModuleView::new(m.desc.name, m.desc.depends_on, &backend, next);
        m.module.validate(&call.data, &view).map_err(RuntimeError::InvalidCall)
    }

    /// Re-checks a call admitted earlier against the committed state ([`Module::revalidate`]).
    pub fn revalidate_call(&self, db: &StateDb, call: &Call) -> Result<(), RuntimeError> {
        if call.module == EVIDENCE_TARGET {
            return self.validate_call(db, call).map(drop);
        }
        let m = self.find(&call.module).ok_or_else(|| RuntimeError::UnknownModule(call.module.clone()))?;
        let backend = CommittedBackend::new(db);
        let view = ModuleView::new(m.desc.name, m.desc.depends_on, &backend, Self::next_anchor(db)?);
        m.module.revalidate(&call.data, &view).map_err(RuntimeError::InvalidCall)
    }

    /// Every enabled module's RPC methods, with the module they belong to.
    pub fn rpc_methods(&self) -> Vec<(&'static str, RpcMethod)> {
        self.modules.iter().flat_map(|m| m.module.rpc_methods().into_iter().map(move |r| (m.desc.name, r))).collect()
    }

    /// Runs a module's RPC handler against the committed state.
    pub fn with_view<T>(
        &self,
        db: &StateDb,
        module: &str,
        f: impl FnOnce(&ModuleView<'_>) -> T,
    ) -> Result<T, RuntimeError> {
        let m = self.find(module).ok_or_else(|| RuntimeError::UnknownModule(module.to_string()))?;
        let backend = CommittedBackend::new(db);
        Ok(f(&ModuleView::new(m.desc.name, m.desc.depends_on, &backend, Self::next_anchor(db)?)))
    }

    /// The stored record of anchor `index`.
    pub fn anchor_record(db: &StateDb, index: u64) -> Result<Option<AnchorRecord>, RuntimeError> {
        let Some(bytes) =
            db.kv().get(Column::Anchors, &AnchorRecord::key(index)).map_err(pc_state::StateError::from)?
        else {
            return Ok(None);
        };
        pc_codec::decode_canonical(&bytes, 1024)
            .map(Some)
            .map_err(|source| RuntimeError::State(pc_state::StateError::Corrupt { what: "anchor record", source }))
    }

    /// The stored events of anchor `index`, in emission order.
    pub fn anchor_events(db: &StateDb, index: u64) -> Result<Vec<EventRecord>, RuntimeError> {
        let mut out = Vec::new();
        let mut bad = None;
        db.kv()
            .scan(Column::Events, &index.to_be_bytes(), &index.to_be_bytes(), &mut |_, v| {
                match pc_codec::decode_canonical(v, 16 << 20) {
                    Ok(e) => {
                        out.push(e);
                        pc_store::Scan::Continue
                    }
                    Err(e) => {
                        bad = Some(e);
                        pc_store::Scan::Stop
                    }
                }
            })
            .map_err(pc_state::StateError::from)?;
        match bad {
            Some(source) => Err(RuntimeError::State(pc_state::StateError::Corrupt { what: "event", source })),
            None => Ok(out),
        }
    }
}
