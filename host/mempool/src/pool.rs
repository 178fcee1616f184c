use pc_codec::{Encode, Hash32, Identified};
use pc_runtime::{Runtime, RuntimeError};
use pc_runtime_api::{Call, ModuleError, Validity};
use pc_state::StateDb;
use rayon::prelude::*;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Limits of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MempoolConfig {
    /// Most pending calls.
    pub max_calls: usize,
    /// Most pending bytes (encoded calls).
    pub max_bytes: usize,
    /// Rejections remembered for status queries.
    pub remember_rejected: usize,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig { max_calls: 50_000, max_bytes: 64 << 20, remember_rejected: 10_000 }
    }
}

/// Why a call was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The module refused it.
    #[error("{code}: {reason}")]
    Invalid {
        /// Stable code, e.g. `utxo.bad-signature`.
        code: String,
        /// Explanation.
        reason: String,
    },
    /// It spends what a pending call already spends.
    #[error("conflicts with pending call {with}")]
    Conflict {
        /// The pending call's key.
        with: Hash32,
    },
    /// Already pending.
    #[error("already pending")]
    Duplicate,
    /// Already finalized.
    #[error("already finalized at anchor {0}")]
    Finalized(u64),
    /// The pool is full of calls that pay at least as much (or that events in flight reserve:
    /// `lowest` = `u64::MAX`).
    #[error("mempool full: priority {priority} does not beat the lowest evictable pending call ({lowest})")]
    Full {
        /// The newcomer's priority.
        priority: u64,
        /// The lowest pending priority.
        lowest: u64,
    },
    /// The node could not read its state.
    #[error("internal: {0}")]
    Internal(String),
}

/// A call's standing in the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolStatus {
    /// Waiting to be finalized.
    Pending,
    /// Refused or dropped (evicted, invalidated by an anchor), with the reason.
    Rejected {
        /// Stable code.
        code: String,
        /// Explanation.
        reason: String,
    },
}

#[derive(Debug)]
struct Entry {
    call: Call,
    bytes: usize,
    priority: u64,
    seq: u64,
    requires: Vec<Hash32>,
    /// Valid until a finalized call consumes one of `requires` (`Validity::stable`): selection
    /// need not re-check it.
    stable: bool,
    /// Handed to an event that has not finalized yet: never selected again nor evicted (its
    /// spends must stay reserved until the anchor decides).
    in_event: bool,
    /// Selection rounds this call was passed over because another seat's share holds it.
    passed: u32,
}

/// Which pending calls one seat of a committee carries (see [`Mempool::select_share`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// This seat.
    pub seat: u8,
    /// Seats in the committee.
    pub seats: u8,
    /// Rounds a call waits for its seat before the next seat takes it over.
    pub patience: u32,
}

impl Share {
    /// Whether `key` is this seat's after it was passed over `passed` times: a key belongs to
    /// seat `key mod k`, and to the next seat after each `patience` rounds nobody carried it
    /// (its seat may be down), so every call is carried by one seat at a time.
    fn owns(&self, key: &Hash32, passed: u32) -> bool {
        let seats = u64::from(self.seats.max(1));
        let base = key.prefix_u64();
        let turn = u64::from(passed / self.patience.max(1));
        (base % seats + turn) % seats == u64::from(self.seat)
    }
}

#[derive(Debug, Default)]
struct Inner {
    entries: BTreeMap<Hash32, Entry>,
    /// (priority descending, arrival) → key.
    order: BTreeSet<(Reverse<u64>, u64, Hash32)>,
    /// Required tag → the pending call requiring it.
    spends: BTreeMap<Hash32, Hash32>,
    bytes: usize,
    seq: u64,
    /// Rejected key → (code, reason, remembered-at counter).
    rejected: BTreeMap<Hash32, (String, String, u64)>,
    /// (key, counter) in the order remembered; an entry whose counter no longer matches the
    /// map's is stale (the key was admitted or remembered again since).
    rejected_order: VecDeque<(Hash32, u64)>,
}

/// The pool. Cheap to share behind an `Arc`.
#[derive(Debug, Default)]
pub struct Mempool {
    cfg: MempoolConfig,
    inner: Mutex<Inner>,
    /// Bumped by every [`finalized`](Self::finalized). A call validated while an anchor was
    /// being finalized may have been checked against the state before it, after that anchor's
    /// consumed tags were already processed: it is admitted as not stable, so selection
    /// re-checks it.
    generation: AtomicU64,
}

fn invalid(e: RuntimeError) -> SubmitError {
    match e {
        RuntimeError::InvalidCall(ModuleError::Invalid { code, reason }) => {
            SubmitError::Invalid { code: code.to_string(), reason }
        }
        RuntimeError::InvalidCall(ModuleError::Codec(e)) => {
            SubmitError::Invalid { code: "system.decode".into(), reason: e.to_string() }
        }
        RuntimeError::InvalidCall(other @ ModuleError::NoCalls) => {
            SubmitError::Invalid { code: "system.no-calls".into(), reason: other.to_string() }
        }
        RuntimeError::UnknownModule(m) => {
            SubmitError::Invalid { code: "system.unknown-module".into(), reason: format!("no enabled module `{m}`") }
        }
        other => SubmitError::Internal(other.to_string()),
    }
}

impl Mempool {
    /// An empty pool.
    pub fn new(cfg: MempoolConfig) -> Self {
        Mempool { cfg, inner: Mutex::new(Inner::default()), generation: AtomicU64::new(0) }
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, SubmitError> {
        self.inner.lock().map_err(|_| SubmitError::Internal("mempool lock poisoned".into()))
    }

    /// Validates and admits one call; returns its key.
    ///
    /// Validation runs first, outside the lock, and usually yields the key too; a duplicate is
    /// refused at admission, and costs a validation whose signatures the cache answers.
    pub fn submit(&self, rt: &Runtime, db: &StateDb, call: Call) -> Result<Hash32, SubmitError> {
        let seen = self.generation.load(Ordering::Acquire);
        let validity = match rt.validate_call(db, &call) {
            Ok(v) => v,
            Err(e) => {
                let key = rt.call_key(&call);
                // A call applied before is invalid now (a module never accepts a call twice):
                // only then is the call index worth a read, to say where it went.
                if let Some(rec) = Runtime::call_record(db, &key).map_err(|e| SubmitError::Internal(e.to_string()))?
                    && rec.outcome == pc_runtime::CallOutcome::Applied
                {
                    return Err(SubmitError::Finalized(rec.anchor));
                }
                let err = invalid(e);
                if let SubmitError::Invalid { code, reason } = &err {
                    self.lock()?.remember(key, code.clone(), reason.clone(), self.cfg.remember_rejected);
                }
                return Err(err);
            }
        };
        let key = validity.key.unwrap_or_else(|| rt.call_key(&call));
        let bytes = call.encoded_size();
        let mut inner = self.lock()?;
        // Read under the lock `finalized` bumps it under: unchanged means no anchor finalized
        // since validation began, so no consumed tag was missed.
        let stable = validity.stable && self.generation.load(Ordering::Acquire) == seen;
        inner.admit(&self.cfg, key, call, bytes, &validity, stable)?;
        Ok(key)
    }

    /// Admits many calls, validating them in parallel on all cores.
    pub fn submit_batch(&self, rt: &Runtime, db: &StateDb, calls: Vec<Call>) -> Vec<Result<Hash32, SubmitError>> {
        calls.into_par_iter().map(|c| self.submit(rt, db, c)).collect()
    }

    /// Up to `max_calls` calls and `max_bytes` bytes for the next event, highest priority
    /// first, skipping calls already in an event that has not finalized; the chosen ones are
    /// marked as in an event until [`finalized`](Self::finalized). A candidate that is not
    /// stable (its module says so, or it was validated while an anchor finalized) is re-checked
    /// first, in parallel, through the module's cheap `revalidate`: one that became invalid is
    /// dropped here with its reason, so no event carries it. Stable candidates need no check:
    /// `finalized` already dropped every pending call that lost an input to a finalized one.
    pub fn select(&self, rt: &Runtime, db: &StateDb, max_calls: usize, max_bytes: usize) -> Vec<(Hash32, Call)> {
        self.select_share(rt, db, max_calls, max_bytes, None)
    }

    /// [`select`](Self::select) for one seat of a committee: the calls submitted to this node
    /// (`local`: no relay hop, and a client submits to one node) and, of those heard from
    /// peers, only its [`Share`], so validators who all hear of a call do not all carry it
    /// (every copy after the first would be dropped at execution, wasting room in events).
    pub fn select_share(
        &self,
        rt: &Runtime,
        db: &StateDb,
        max_calls: usize,
        max_bytes: usize,
        share: Option<(Share, &std::collections::BTreeSet<Hash32>)>,
    ) -> Vec<(Hash32, Call)> {
        let candidates: Vec<(Hash32, Call, bool)> = {
            let Ok(mut inner) = self.lock() else { return Vec::new() };
            let inner = &mut *inner;
            let mut out = Vec::new();
            let mut bytes = 0;
            for (_, _, key) in &inner.order {
                if out.len() >= max_calls {
                    break;
                }
                if let Some(e) = inner.entries.get_mut(key) {
                    if e.in_event || bytes + e.bytes > max_bytes {
                        continue;
                    }
                    if let Some((sh, local)) = share
                        && !local.contains(key)
                        && !sh.owns(key, e.passed)
                    {
                        e.passed = e.passed.saturating_add(1);
                        continue;
                    }
                    bytes += e.bytes;
                    out.push((*key, e.call.clone(), e.stable));
                }
            }
            out
        };
        let recheck = |(k, c, stable): (Hash32, Call, bool)| {
            let bad = if stable { None } else { rt.revalidate_call(db, &c).err().map(invalid) };
            (k, c, bad)
        };
        // Waking the pool's threads costs more than it saves when no candidate needs a check.
        let checked: Vec<(Hash32, Call, Option<SubmitError>)> = if candidates.iter().all(|c| c.2) {
            candidates.into_iter().map(recheck).collect()
        } else {
            candidates.into_par_iter().map(recheck).collect()
        };
        let mut out = Vec::with_capacity(checked.len());
        let mut gone = Vec::new();
        let Ok(mut inner) = self.lock() else { return Vec::new() };
        for (k, c, bad) in checked {
            match bad {
                // Only calls still pending go into the event (a concurrent submit may have
                // evicted one since the snapshot); they are reserved from now on.
                None => {
                    if let Some(e) = inner.entries.get_mut(&k) {
                        e.in_event = true;
                        out.push((k, c));
                    }
                }
                Some(e) => gone.push((k, e)),
            }
        }
        for (k, e) in gone {
            inner.remove(&k);
            let (code, reason) = match e {
                SubmitError::Invalid { code, reason } => (code, reason),
                other => ("system.internal".into(), other.to_string()),
            };
            tracing::debug!(target: "pc::mempool", key = %k, %code, "pending call became invalid");
            inner.remember(k, code, reason, self.cfg.remember_rejected);
        }
        out
    }

    /// Up to `max` pending keys not yet carried by an event, best priority first: what a node
    /// announces again to peers that may have missed them.
    pub fn pending_keys(&self, max: usize) -> Vec<Hash32> {
        let Ok(inner) = self.lock() else { return Vec::new() };
        inner
            .order
            .iter()
            .map(|(_, _, k)| *k)
            .filter(|k| inner.entries.get(k).is_some_and(|e| !e.in_event))
            .take(max)
            .collect()
    }

    /// After an anchor: removes the calls it applied (`applied`, by key) and those it dropped
    /// (`dropped`: key and call id), then every pending call that requires a tag an applied call
    /// consumed (`consumed`: tag, key of the consumer), remembering why. A dropped call removes
    /// only a pending call with the same bytes: a broken copy under a valid call's key (a
    /// witness swapped by a Byzantine seat) leaves the valid one pending.
    pub fn finalized(&self, applied: &[Hash32], dropped: &[(Hash32, Hash32)], consumed: &[(Hash32, Hash32)]) {
        let Ok(mut inner) = self.lock() else { return };
        self.generation.fetch_add(1, Ordering::AcqRel);
        for k in applied {
            inner.remove(k);
        }
        for (k, id) in dropped {
            if inner.entries.get(k).is_some_and(|e| e.call.id() == *id) {
                inner.remove(k);
            }
        }
        for (tag, by) in consumed {
            let Some(loser) = inner.spends.get(tag).copied() else { continue };
            inner.remove(&loser);
            tracing::debug!(target: "pc::mempool", key = %loser, %by, "pending call lost to a finalized one");
            let reason = format!("finalized call {by} spent what this call spends");
            inner.remember(loser, "mempool.conflict".into(), reason, self.cfg.remember_rejected);
        }
    }

    /// Makes every call reserved by an own event selectable again. At a consensus epoch switch
    /// no event of the old DAG will ever finalize again, so what they carried must go into the
    /// next epoch's events.
    pub fn release_reserved(&self) {
        let Ok(mut inner) = self.lock() else { return };
        for e in inner.entries.values_mut() {
            e.in_event = false;
        }
    }

    /// Makes `keys`, selected for an event that was not built after all, selectable again.
    pub fn release(&self, keys: &[Hash32]) {
        let Ok(mut inner) = self.lock() else { return };
        for k in keys {
            if let Some(e) = inner.entries.get_mut(k) {
                e.in_event = false;
            }
        }
    }

    /// The status of `key` in the pool, if it is pending or was recently rejected.
    pub fn status(&self, key: &Hash32) -> Option<PoolStatus> {
        let inner = self.lock().ok()?;
        if inner.entries.contains_key(key) {
            return Some(PoolStatus::Pending);
        }
        inner
            .rejected
            .get(key)
            .map(|(code, reason, _)| PoolStatus::Rejected { code: code.clone(), reason: reason.clone() })
    }

    /// A pending call by key.
    pub fn get(&self, key: &Hash32) -> Option<Call> {
        self.lock().ok()?.entries.get(key).map(|e| e.call.clone())
    }

    /// Pending calls and bytes.
    pub fn size(&self) -> (usize, usize) {
        self.lock().map(|i| (i.entries.len(), i.bytes)).unwrap_or_default()
    }
}

impl Inner {
    fn admit(
        &mut self,
        cfg: &MempoolConfig,
        key: Hash32,
        call: Call,
        bytes: usize,
        validity: &Validity,
        stable: bool,
    ) -> Result<(), SubmitError> {
        let (priority, requires) = (validity.priority, validity.requires.clone());
        if self.entries.contains_key(&key) {
            return Err(SubmitError::Duplicate);
        }
        if let Some(with) = requires.iter().find_map(|t| self.spends.get(t)) {
            return Err(SubmitError::Conflict { with: *with });
        }
        // Make room by evicting cheaper calls (never one already in an event), or refuse
        // without evicting anything.
        let mut victims = Vec::new();
        let (mut calls, mut total) = (self.entries.len() + 1, self.bytes + bytes);
        for &(Reverse(p), _, victim) in self.order.iter().rev() {
            if calls <= cfg.max_calls && total <= cfg.max_bytes {
                break;
            }
            let Some(e) = self.entries.get(&victim) else { continue };
            if e.in_event {
                continue;
            }
            if p >= priority {
                return Err(SubmitError::Full { priority, lowest: p });
            }
            victims.push(victim);
            calls -= 1;
            total -= e.bytes;
        }
        if calls > cfg.max_calls || total > cfg.max_bytes {
            // Everything left is reserved by events in flight.
            return Err(SubmitError::Full { priority, lowest: u64::MAX });
        }
        for v in victims {
            self.remove(&v);
            self.remember(v, "mempool.evicted".into(), "evicted by a call paying more".into(), cfg.remember_rejected);
        }
        self.seq += 1;
        for t in &requires {
            self.spends.insert(*t, key);
        }
        self.order.insert((Reverse(priority), self.seq, key));
        self.bytes += bytes;
        self.rejected.remove(&key);
        self.entries
            .insert(key, Entry { call, bytes, priority, seq: self.seq, requires, stable, in_event: false, passed: 0 });
        Ok(())
    }

    fn remove(&mut self, key: &Hash32) {
        if let Some(e) = self.entries.remove(key) {
            self.order.remove(&(Reverse(e.priority), e.seq, *key));
            for t in &e.requires {
                if self.spends.get(t) == Some(key) {
                    self.spends.remove(t);
                }
            }
            self.bytes -= e.bytes;
        }
    }

    fn remember(&mut self, key: Hash32, code: String, reason: String, cap: usize) {
        self.seq += 1;
        self.rejected.insert(key, (code, reason, self.seq));
        self.rejected_order.push_back((key, self.seq));
        while self.rejected.len() > cap || self.rejected_order.len() > 2 * cap.max(1) {
            let Some((old, at)) = self.rejected_order.pop_front() else { break };
            if self.rejected.get(&old).is_some_and(|r| r.2 == at) {
                self.rejected.remove(&old);
            }
        }
    }
}
