//! `rotate`: a toy committee provider, written the way a module author writes one (the host
//! finds it through `inventory` only). It seats `committee_size` consecutive keys of its
//! candidate list, moving one place per epoch: the committee of grid epoch n (anchors
//! n·R + 1 ..= (n+1)·R) is `candidates[(n + i) mod len]` for seat i. With six candidates and
//! four seats, one seat changes per epoch and every key moves to another seat index, so a
//! node that mixes up seats across epochs fails at once.
//!
//! Its chainspec section: `{ "candidates": ["<x-only key hex>", ...], "refuse_at": n? }`; the
//! first `committee_size` candidates must be the genesis committee. With `refuse_at`, the
//! committee it proposes for epoch n has one seat too many (the host must refuse it and keep
//! the committee). It is included (`#[path]`) only by the binaries that need it: the
//! runtime test `tests/committee.rs`, and `node-bin/src/bin/pc-test-rotation-node.rs`, with
//! which the process test `node-bin/tests/rotation.rs` runs it in real nodes.

use pc_runtime_api::{
    AnchorCtx, CommitteeSeat, EventSink, Module, ModuleDescriptor, ModuleError, ModuleInit, ModuleState,
    register_module,
};

/// The toy provider.
#[derive(Debug)]
pub struct Rotate {
    candidates: Vec<[u8; 32]>,
    seats: usize,
    epoch_anchors: u64,
    refuse_at: Option<u64>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    candidates: Vec<String>,
    #[serde(default)]
    refuse_at: Option<u64>,
}

impl Rotate {
    /// Builds it from its chainspec section.
    pub fn build(init: &ModuleInit<'_>) -> Result<Box<dyn Module>, ModuleError> {
        let c: Config = init.parse_config()?;
        let mut candidates = Vec::with_capacity(c.candidates.len());
        for (i, k) in c.candidates.iter().enumerate() {
            let key = hex::decode(k).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()).ok_or_else(|| {
                ModuleError::Config { field: format!("candidates[{i}]"), reason: "a 32-byte key in hex".into() }
            })?;
            candidates.push(key);
        }
        let seats = usize::from(init.constants.committee_size);
        if candidates.len() < seats {
            return Err(ModuleError::Config {
                field: "candidates".into(),
                reason: format!("{} candidates for {seats} seats", candidates.len()),
            });
        }
        Ok(Box::new(Rotate {
            candidates,
            seats,
            epoch_anchors: init.constants.windows.epoch_anchors,
            refuse_at: c.refuse_at,
        }))
    }

    /// The committee the rule gives grid epoch number `n`.
    pub fn committee(&self, n: u64) -> Vec<[u8; 32]> {
        let len = self.candidates.len() as u64;
        (0..self.seats as u64).map(|i| self.candidates[((n + i) % len) as usize]).collect()
    }
}

impl Module for Rotate {
    fn provides_committee(&self) -> bool {
        true
    }

    fn next_committee(
        &self,
        ctx: &AnchorCtx,
        _state: &mut ModuleState<'_>,
        _events: &mut EventSink<'_>,
    ) -> Result<Option<Vec<CommitteeSeat>>, ModuleError> {
        let n = ctx.index / self.epoch_anchors.max(1);
        let mut keys = self.committee(n);
        if self.refuse_at == Some(n) {
            keys.push(keys[0]); // one seat too many
        }
        Ok(Some(keys.into_iter().map(|key| CommitteeSeat { key, meta: n.to_le_bytes().to_vec() }).collect()))
    }
}

register_module!(ModuleDescriptor {
    name: "rotate",
    feature: "test-only",
    order: 900,
    depends_on: &[],
    build: Rotate::build,
});
