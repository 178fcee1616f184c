//! A validator's duties towards the committee provider (docs/operators.md, "Becoming a
//! validator"): once its seat key holds an Active bond, the node sends the bond's candidacy for
//! every next epoch, and while it is not seated, a heartbeat every half window, so that the
//! provider counts it as present. The calls come from phantom-signer (`candidacy`,
//! `heartbeat` on its socket) or, for a well-known development seat, from the dev key set.
//! The node submits them to its own pool, which gossips them like any transaction.
//!
//! Built only with both `module-bonding` and `module-committee-vrf`; the host knows neither.

use pc_chainspec::ChainSpec;
use pc_codec::{Encode, Hash32};
use pc_crypto::bls::BlsSecret;
use pc_crypto::vrf::{COMMITTEE, VrfKeypair};
use pc_crypto::{Keypair, XOnly};
use pc_module_bonding::{BondTerms, BondsView, GenesisBond};
use pc_module_committee_vrf::{CommitteeCall, CommitteeVrf, heartbeat_digest, vrf_input};
use pc_runtime_api::Call;
use pc_service::NodeCtx;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A well-known development validator's key set (public by design; never on a live chain).
pub struct DevValidator {
    /// Signs events and heartbeats.
    pub seat: Keypair,
    /// Signs unbond and withdraw; also the operator id.
    pub bond: Keypair,
    /// Receives payouts.
    pub payout: Keypair,
    /// Proves candidacies.
    pub vrf: VrfKeypair,
    /// Attests.
    pub bls: BlsSecret,
}

impl std::fmt::Debug for DevValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevValidator").field("seat", &XOnly::of(&self.seat)).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for DutySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DutySigner::Local(v) => f.debug_tuple("Local").field(v).finish(),
            DutySigner::Remote { index, .. } => f.debug_struct("Remote").field("index", index).finish_non_exhaustive(),
        }
    }
}

fn dev_err(what: &str) -> crate::error::NodeError {
    crate::error::NodeError::Usage(format!("no well-known {what} key on this chain (a live chain uses phantom-signer)"))
}

impl DevValidator {
    /// Seat `seat`'s key set on `spec`.
    pub fn new(spec: &ChainSpec, seat: u8) -> Result<DevValidator, crate::error::NodeError> {
        let secret = |purpose: &str| spec.dev_key_secret(seat, purpose).ok_or_else(|| dev_err(purpose));
        let key =
            |s: [u8; 32]| pc_crypto::keypair_from_seed(s).map_err(|e| crate::error::NodeError::Usage(e.to_string()));
        Ok(DevValidator {
            seat: key(spec.dev_seat_secret(seat).ok_or_else(|| dev_err("seat"))?)?,
            bond: key(secret("bond")?)?,
            payout: key(secret("payout")?)?,
            vrf: VrfKeypair::from_seed(secret("vrf")?).map_err(|e| crate::error::NodeError::Usage(e.to_string()))?,
            bls: BlsSecret::from_seed(secret("bls")?).map_err(|e| crate::error::NodeError::Usage(e.to_string()))?,
        })
    }

    /// Its `modules.bonding.genesis_bonds` entry bonding `value` units returned to `owner`.
    pub fn genesis_entry(&self, owner: &pc_utxo_tx::Address, value: u64) -> GenesisBond {
        GenesisBond::of(&self.terms(), owner, value)
    }

    /// What its bonds register (its bond key is also its operator id).
    pub fn terms(&self) -> BondTerms {
        let bond = XOnly::of(&self.bond).0;
        BondTerms {
            operator: bond,
            seat_key: XOnly::of(&self.seat).0,
            bond_key: bond,
            payout: pc_utxo_tx::Address::Key(XOnly::of(&self.payout)).to_bytes(),
            vrf_key: self.vrf.public(),
            bls_key: self.bls.public(),
            bls_pop: self.bls.prove_possession(),
        }
    }
}

/// Who makes the duty calls.
pub enum DutySigner {
    /// A development seat's own keys.
    Local(Box<DevValidator>),
    /// phantom-signer's key set `index`.
    Remote {
        /// A second connection to the signing service.
        client: pc_signer_client::Client,
        /// Key set index.
        index: u32,
    },
}

impl DutySigner {
    fn candidacy(&mut self, g: &Hash32, bond: &Hash32, epoch: u64, seed: &Hash32) -> Result<Vec<u8>, String> {
        match self {
            DutySigner::Local(v) => {
                let (proof, _) = v.vrf.prove(COMMITTEE, &vrf_input(g, epoch, seed, bond));
                Ok(CommitteeCall::Candidacy { bond: *bond, epoch, proof }.encode())
            }
            DutySigner::Remote { client, index } => {
                client.candidacy(*index, g, bond, epoch, seed).map_err(|e| e.to_string())
            }
        }
    }

    fn heartbeat(&mut self, g: &Hash32, bond: &Hash32, anchor: u64) -> Result<Vec<u8>, String> {
        match self {
            DutySigner::Local(v) => {
                let sig = pc_crypto::sign_prehashed(&v.seat, &heartbeat_digest(g, bond, anchor));
                Ok(CommitteeCall::Heartbeat { bond: *bond, anchor, sig }.encode())
            }
            DutySigner::Remote { client, index } => {
                client.heartbeat(*index, g, bond, anchor).map_err(|e| e.to_string())
            }
        }
    }
}

/// What the loop needs to know of the chain, read from committed state.
struct Standing {
    head: u64,
    bond: Option<Hash32>,
    candidate: bool,
    seed: Option<Hash32>,
    seated: bool,
}

fn standing(ctx: &NodeCtx, key: &[u8; 32], epoch_of: impl Fn(u64) -> u64) -> Option<Standing> {
    let head = ctx.db.head().ok()??.anchor;
    let epoch = epoch_of(head + 1);
    let seated = ctx.rt.committee(&ctx.db, head + 1).ok()?.is_some_and(|c| c.seat_of(key).is_some());
    ctx.rt
        .with_view(&ctx.db, pc_module_committee_vrf::NAME, |v| {
            let bond =
                BondsView::open(v).ok()?.bond_by_seat(key).ok()?.filter(|(_, r)| r.is_active()).map(|(id, _)| id);
            let candidate = match &bond {
                Some(b) => CommitteeVrf::candidacy_of(v, epoch, b).ok()?.is_some(),
                None => false,
            };
            let seed = CommitteeVrf::seed(v, epoch).ok()?;
            Some(Standing { head, bond, candidate, seed, seated })
        })
        .ok()?
}

/// What became of a submitted duty call.
enum Submitted {
    /// In the pool (or already there).
    Pending,
    /// Refused with this code (or an empty one for the pool's own refusals).
    Refused(String),
}

fn submit(ctx: &NodeCtx, data: Vec<u8>, what: &str) -> Submitted {
    let call = Call { module: pc_module_committee_vrf::NAME.into(), data };
    match ctx.mempool.submit(&ctx.rt, &ctx.db, call) {
        Ok(key) => {
            ctx.note_new_tx(key);
            tracing::info!(target: "pc::validator", %key, "{what} submitted");
            Submitted::Pending
        }
        Err(pc_mempool::SubmitError::Duplicate) => Submitted::Pending,
        Err(e) => {
            tracing::debug!(target: "pc::validator", error = %e, "{what} not admitted");
            match e {
                pc_mempool::SubmitError::Invalid { code, .. } => Submitted::Refused(code),
                _ => Submitted::Refused(String::new()),
            }
        }
    }
}

/// How long the duties wait after the signer failed to answer.
const SIGNER_BACKOFF: Duration = Duration::from_secs(5);

/// Runs the duties of seat key `key` until `stop`, on its own thread. At most one try per
/// duty and finalized anchor: a candidacy is retried at each new anchor while the chain has
/// none for the next epoch (a refusal for the bond's age ends the tries for that epoch), a
/// heartbeat is sent every half window while unseated; a signer that does not answer is left
/// alone for a while.
pub fn spawn(
    ctx: Arc<NodeCtx>,
    key: [u8; 32],
    mut signer: DutySigner,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let spec = ctx.rt.spec();
        let grid = spec.constants.windows.epoch_grid();
        let heartbeat = spec
            .modules
            .get(pc_module_committee_vrf::NAME)
            .and_then(|m| m.get("heartbeat"))
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(1);
        let spacing = heartbeat.div_ceil(2).max(1);
        let g = ctx.rt.genesis_hash();
        let epoch_of = |a: u64| grid.end_of(grid.start_of(a)).saturating_add(1);
        let (mut tried_at, mut given_up_for, mut beat_at) = (None::<u64>, 0u64, None::<u64>);
        let mut quiet_until = std::time::Instant::now();
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(250));
            if std::time::Instant::now() < quiet_until {
                continue;
            }
            let Some(s) = standing(&ctx, &key, epoch_of) else { continue };
            let Some(bond) = s.bond else { continue };
            let epoch = epoch_of(s.head + 1);
            if !s.candidate
                && given_up_for != epoch
                && tried_at != Some(s.head)
                && let Some(seed) = s.seed
            {
                tried_at = Some(s.head);
                match signer.candidacy(&g, &bond, epoch, &seed) {
                    Ok(call) => {
                        if let Submitted::Refused(code) = submit(&ctx, call, "candidacy")
                            && code == "committee-vrf.bond"
                        {
                            given_up_for = epoch; // made after this epoch's seed: the next one
                        }
                    }
                    Err(e) => {
                        tracing::warn!(target: "pc::validator", error = %e, "no candidacy from the signer");
                        quiet_until = std::time::Instant::now() + SIGNER_BACKOFF;
                        continue;
                    }
                }
            }
            if stop.load(Ordering::Relaxed) {
                break;
            }
            if !s.seated && s.head > 0 && beat_at.is_none_or(|b| s.head >= b + spacing) {
                match signer.heartbeat(&g, &bond, s.head) {
                    // Sent or refused, not again before `spacing` anchors: a refusal (the chain
                    // has a newer one, a full pool) is not worth a retry every 250 ms.
                    Ok(call) => {
                        submit(&ctx, call, "heartbeat");
                        beat_at = Some(s.head);
                    }
                    Err(e) => {
                        tracing::warn!(target: "pc::validator", error = %e, "no heartbeat from the signer");
                        quiet_until = std::time::Instant::now() + SIGNER_BACKOFF;
                    }
                }
            }
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// The shipped specs' genesis bonds are the well-known validators of their own seats (what
    /// `phantom-node dev-seats --genesis-bonds` prints), so `--seat n` nodes can serve them.
    #[test]
    fn shipped_genesis_bonds_are_the_well_known_validators_of_their_seats() {
        let mut checked = 0;
        for (name, _) in pc_chainspec::BUILT_IN {
            let spec = ChainSpec::load(name).unwrap();
            let Some(bonds) = spec.modules.get("bonding").and_then(|b| b.get("genesis_bonds")) else { continue };
            for (i, entry) in bonds.as_array().unwrap().iter().enumerate() {
                let v = DevValidator::new(&spec, u8::try_from(i).unwrap()).unwrap();
                let owner = entry["owner"].as_str().unwrap().parse().unwrap();
                let mine = serde_json::to_value(v.genesis_entry(&owner, entry["value"].as_u64().unwrap())).unwrap();
                assert_eq!(&mine, entry, "{name}: genesis bond {i}");
                checked += 1;
            }
            assert_eq!(spec.seat_keys().unwrap().len(), spec.constants.committee_size as usize);
        }
        assert_eq!(checked, 1 + 4 + 4, "dev, testnet-0 and local carry genesis bonds");
    }
}
