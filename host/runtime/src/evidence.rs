//! The host's side of evidence calls: the same checks at admission and at apply, one record
//! per fault, and the hand-over to the evidence receiver (docs/runtime-api.md §12).

use pc_codec::{Decode, Encode, Hash32, ShardId};
use pc_runtime_api::{
    EpochGrid, EventSink, Evidence, EvidenceError, Fault, ModuleError, ModuleEvent, ModuleState, StorageMap,
    StorageRead, Validity,
};

/// A fault the chain knows, with the anchor that recorded it and the evidence that proved it.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct KnownFault {
    /// The fault.
    pub fault: Fault,
    /// The anchor whose batch carried the first valid evidence of it.
    pub anchor: u64,
    /// That evidence.
    pub evidence: Evidence,
}

/// Emitted by the host (module `host.evidence`) when a fault is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct FaultRecorded {
    /// The fault.
    pub fault: Fault,
    /// Whether a module took it (`false`: kept and served, nothing else happens).
    pub received: bool,
}

impl ModuleEvent for FaultRecorded {
    const NAME: &'static str = "FaultRecorded";
}

/// Faults by key, in the state root: every node holds the same record.
pub(crate) const FAULTS: StorageMap<Hash32, KnownFault> = StorageMap::new("faults");

fn invalid(e: &EvidenceError) -> ModuleError {
    ModuleError::invalid(e.code(), e.to_string())
}

/// Where evidence may come from, seen from the anchor that would apply it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    /// The chain's shard.
    pub shard: ShardId,
    /// The anchor being applied (at admission: the next one).
    pub anchor: u64,
    /// R, anchors per consensus epoch.
    pub epoch_anchors: u64,
    /// How long after its epoch's end an offence can still be proven.
    pub slash_window: u64,
}

impl Window {
    /// Refuses a fault of another shard, of an epoch not reached yet, or past its window: the
    /// epoch that starts at `e` ends at the first multiple of R at or after `e` (consensus.md
    /// §11), and evidence is taken up to `slash_window` anchors after that.
    fn admits(&self, f: &Fault) -> Result<(), EvidenceError> {
        if f.shard != self.shard {
            return Err(EvidenceError::OutOfWindow(format!("shard {} is not this chain's", f.shard)));
        }
        if f.epoch == 0 || f.epoch > self.anchor {
            return Err(EvidenceError::OutOfWindow(format!("epoch {} has not started", f.epoch)));
        }
        let end = EpochGrid { r: self.epoch_anchors }.end_of(f.epoch);
        if self.anchor > end.saturating_add(self.slash_window) {
            return Err(EvidenceError::OutOfWindow(format!("epoch {} ended at anchor {end}", f.epoch)));
        }
        Ok(())
    }
}

/// Decodes evidence and checks it, cheapest first: its encoding, a conflict within one slot,
/// the window, that the fault is not recorded yet (in `state`, the host's namespace), and
/// last the two signatures against the committee `keys`. The same at admission and at apply.
pub(crate) fn check(
    bytes: &[u8],
    keys: &[[u8; 32]],
    window: &Window,
    state: &impl StorageRead,
) -> Result<(Evidence, Fault), ModuleError> {
    let evidence = Evidence::decode_call(bytes).map_err(|e| invalid(&e))?;
    let mut fault = evidence.fault().map_err(|e| invalid(&e))?;
    window.admits(&fault).map_err(|e| invalid(&e))?;
    // Recorded under the grid epoch that holds the events' epoch (consensus.md §11): events
    // name their epoch themselves, and without this a seat could sign throw-away pairs for
    // every epoch number in the window and get a free record for each.
    fault.epoch = EpochGrid { r: window.epoch_anchors }.start_of(fault.epoch);
    if FAULTS.contains(state, &fault.key())? {
        return Err(ModuleError::invalid("evidence.known", "this seat's fault in this epoch is already recorded"));
    }
    evidence.verify(keys, bip340).map_err(|e| invalid(&e))?;
    Ok((evidence, fault))
}

/// Mempool admission. Evidence goes first and needs no fee: it costs a cheater's signatures
/// to make and two checks to refuse, and there is at most one per seat and epoch.
pub(crate) fn validate(
    bytes: &[u8],
    keys: &[[u8; 32]],
    window: &Window,
    state: &impl StorageRead,
) -> Result<Validity, ModuleError> {
    let (_, fault) = check(bytes, keys, window, state)?;
    Ok(Validity { priority: u64::MAX, key: Some(fault.key()), ..Validity::default() })
}

/// The grid epoch whose committee checks the evidence in `bytes`, if it decodes.
pub(crate) fn grid_epoch(bytes: &[u8], epoch_anchors: u64) -> Option<u64> {
    let fault = Evidence::decode_call(bytes).ok()?.fault().ok()?;
    Some(EpochGrid { r: epoch_anchors }.start_of(fault.epoch))
}

fn bip340(key: &[u8; 32], msg: &[u8; 32], sig: &[u8; 64]) -> bool {
    pc_crypto::Bip340::verify(&pc_crypto::XOnly(*key), msg, sig)
}

/// The call key of evidence whose signatures verify: the fault's key, so two proofs of one
/// fault are one call. A forgery keeps its own call id, so it never stands for a real proof.
pub(crate) fn key(bytes: &[u8], keys: &[[u8; 32]], epoch_anchors: u64) -> Option<Hash32> {
    let mut fault = Evidence::decode_call(bytes).ok()?.verify(keys, bip340).ok()?;
    fault.epoch = EpochGrid { r: epoch_anchors }.start_of(fault.epoch);
    Some(fault.key())
}

/// Every known fault in key order, starting after `after`, at most `limit`.
pub(crate) fn known(
    state: &impl StorageRead,
    after: Option<&Hash32>,
    limit: usize,
) -> Result<Vec<KnownFault>, ModuleError> {
    let mut out: Vec<KnownFault> =
        FAULTS.iter(state, after, limit.saturating_add(1))?.into_iter().map(|(_, v)| v).collect();
    if let Some(a) = after {
        out.retain(|k| k.fault.key() != *a);
    }
    out.truncate(limit);
    Ok(out)
}

/// Records a checked fault in the host's namespace (`host.evidence`).
pub(crate) fn record(
    state: &mut ModuleState<'_>,
    events: &mut EventSink<'_>,
    anchor: u64,
    evidence: &Evidence,
    fault: Fault,
    received: bool,
) {
    FAULTS.insert(state, &fault.key(), &KnownFault { fault, anchor, evidence: evidence.clone() });
    events.emit(&FaultRecorded { fault, received });
}
