//! The committee-vrf module as the chain's committee provider, through the real runtime
//! (docs/spec/modules/committee-vrf.md): four genesis validators and three that bond later
//! (one of them a second bond of a genesis operator) send candidacies every epoch; new bonds are
//! selected by VRF once their seed allows it, at most ⌊k/3⌋ seats change per rotation, one
//! operator never holds two seats, a validator that stops is dropped for absence and cools
//! down, two nodes compute the same committees, and every bad candidacy or heartbeat is
//! refused with its own code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "src/validators.rs"]
mod validators;

use pc_chainspec::{ChainSpec, DEV_JSON};
use pc_codec::{ConsensusTime, Decode, Domain, Hash32, decode_canonical};
use pc_integration_tests::test_key;
use pc_module_bonding::BondsView;
use pc_module_committee_vrf::{CommitteeVrf, SeatAbsent, SeatMeta, Selected};
use pc_module_utxo::genesis_outpoint;
use pc_runtime::{AnchorInput, CallDropped, Runtime, SYSTEM_EVENTS};
use pc_runtime_api::{AnchorCtx, Call};
use pc_state::StateDb;
use pc_utxo_tx::Keypair;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use validators::Validator;

const PC: u64 = 100_000_000;
const R: u64 = 5;
const K: usize = 4;
const HEARTBEAT: u64 = 4;
const COOLDOWN: u64 = 12;

struct Net {
    rt: Runtime,
    db: StateDb,
    next: u64,
    vs: Vec<Validator>,
    /// Bond ids by validator index, once bonded.
    bonds: BTreeMap<usize, Hash32>,
    /// Validators that stopped (no events, no calls).
    stopped: BTreeSet<usize>,
    /// The module's events: (anchor, name, data).
    events: Vec<(u64, String, Vec<u8>)>,
    /// Whether seats create events (off: an anchor in which nobody is seen).
    quiet: bool,
    /// Validators whose nodes make no events but still send candidacies and heartbeats.
    zombies: BTreeSet<usize>,
}

/// k = 4, R = 5; validators 0..4 are genesis-bonded and the genesis committee; 4, 5, 6 hold
/// allocations to bond later (6 is operator 1's second validator).
fn spec(vs: &[Validator], owners: &[Keypair]) -> ChainSpec {
    let mut v: serde_json::Value = serde_json::from_str(DEV_JSON).unwrap();
    v["id"] = "vrf-test".into();
    v["constants"]["committee_size"] = (K as u64).into();
    v["constants"]["windows"] = serde_json::json!({ "slash_window": 10, "epoch_anchors": R });
    v["modules"] = serde_json::json!({ "genesis": v["modules"]["genesis"] });
    let allocations: Vec<_> = owners
        .iter()
        .map(|k| serde_json::json!({ "address": pc_utxo_tx::Address::Key(pc_utxo_tx::XOnly::of(k)).to_string(), "value": 100 * PC }))
        .collect();
    v["modules"]["utxo"] = serde_json::json!({ "allocations": allocations });
    let genesis: Vec<_> = vs[..K].iter().map(|x| x.genesis_entry(&owners[0], 10 * PC)).collect();
    v["modules"]["bonding"] =
        serde_json::json!({ "min_bond": PC, "activation_buffer": 1, "unbonding": 20, "genesis_bonds": genesis });
    v["modules"]["committee-vrf"] = serde_json::json!({ "heartbeat": HEARTBEAT, "cooldown": COOLDOWN });
    v["committee"] = vs[..K].iter().map(|x| hex::encode(x.seat_key())).collect::<Vec<_>>().into();
    ChainSpec::from_json(&v.to_string()).unwrap()
}

impl Net {
    fn new() -> Net {
        let vs: Vec<Validator> =
            (0..7u32).map(|i| Validator::new(100 + i, [1, 2, 3, 4, 5, 6, 1][i as usize])).collect();
        let owners: Vec<Keypair> = (0..4).map(|i| test_key(200 + i)).collect();
        let rt = Runtime::new(spec(&vs, &owners)).unwrap();
        let db = StateDb::new(Arc::new(pc_store::MemStore::new()));
        rt.init_genesis(&db).unwrap();
        let mut net = Net {
            rt,
            db,
            next: 1,
            vs,
            bonds: BTreeMap::new(),
            stopped: BTreeSet::new(),
            events: Vec::new(),
            quiet: false,
            zombies: BTreeSet::new(),
        };
        for i in 0..K {
            let id = net.bond_of_seat(&net.vs[i].seat_key()).unwrap();
            net.bonds.insert(i, id);
        }
        // Validators 4, 5, 6 bond allocations 1, 2, 3 in anchor 1 (owners 1..4).
        let g = net.rt.genesis_hash();
        let calls = (4..7)
            .map(|i| {
                let (id, call) =
                    net.vs[i].bond_call(&g, net.vs[i].terms(), &[(genesis_outpoint(i as u32 - 3), &owners[i - 3])]);
                net.bonds.insert(i, id);
                call
            })
            .collect();
        let dropped = net.apply(calls);
        assert!(dropped.is_empty(), "{dropped:?}");
        net
    }

    fn bond_of_seat(&self, key: &[u8; 32]) -> Option<Hash32> {
        self.rt
            .with_view(&self.db, "bonding", |v| {
                BondsView::open(v).unwrap().bond_by_seat(key).unwrap().map(|(id, _)| id)
            })
            .unwrap()
    }

    fn committee(&self, anchor: u64) -> Vec<[u8; 32]> {
        self.rt.committee(&self.db, anchor).unwrap().unwrap().keys()
    }

    fn who(&self, key: &[u8; 32]) -> usize {
        self.vs.iter().position(|v| v.seat_key() == *key).unwrap()
    }

    /// Applies anchor `next` with `calls`; every seated validator that runs creates events.
    fn apply(&mut self, calls: Vec<Call>) -> Vec<String> {
        let i = self.next;
        let seats = self.committee(i);
        let mut creators = 0u64;
        for (s, key) in seats.iter().enumerate() {
            let who = self.who(key);
            if !self.quiet && !self.stopped.contains(&who) && !self.zombies.contains(&who) {
                creators |= 1 << s;
            }
        }
        let id = Domain::new("phantomcoin/v1/test/vrf-anchor").hash(&i.to_le_bytes());
        let mut ctx = AnchorCtx::bare(0, i, id, ConsensusTime { anchor: i, lamport: i });
        ctx.epoch = (i - 1) / R * R + 1;
        ctx.creators = creators;
        let out = self.rt.apply_anchor(&self.db, &AnchorInput { ctx, calls }).unwrap();
        self.next += 1;
        self.events.extend(
            out.events.iter().filter(|e| e.module == "committee-vrf").map(|e| (i, e.name.clone(), e.data.clone())),
        );
        out.events
            .iter()
            .filter(|e| e.module == SYSTEM_EVENTS && e.name == "CallDropped")
            .map(|e| decode_canonical::<CallDropped>(&e.data, 4096).unwrap().code)
            .collect()
    }
}

impl Net {
    fn g(&self) -> Hash32 {
        self.rt.genesis_hash()
    }

    fn code(&self, call: &Call) -> Option<String> {
        self.rt
            .validate_call(&self.db, call)
            .err()
            .map(|e| e.to_string().split(':').nth(1).unwrap_or_default().trim().to_string())
    }

    fn seed(&self, epoch: u64) -> Hash32 {
        self.rt.with_view(&self.db, "committee-vrf", |v| CommitteeVrf::seed(v, epoch).unwrap().unwrap()).unwrap()
    }

    /// What each running validator's node sends in anchor `next`, admitted as the mempool would:
    /// a candidacy for the next epoch at the first anchor of each epoch, and a heartbeat every
    /// other anchor from those not seated.
    fn duties(&self) -> Vec<Call> {
        let i = self.next;
        let g = self.g();
        let seated = self.committee(i);
        let mut calls = Vec::new();
        for (&v, bond) in &self.bonds {
            if self.stopped.contains(&v) {
                continue;
            }
            if i % R == 1 {
                let epoch = i + R;
                let call = self.vs[v].candidacy_call(&g, bond, epoch, &self.seed(epoch));
                if self.code(&call).is_none() {
                    calls.push(call);
                }
            }
            let zombie = self.zombies.contains(&v);
            if i.is_multiple_of(2) && (zombie || !seated.contains(&self.vs[v].seat_key())) {
                let call = self.vs[v].heartbeat_call(&g, bond, i - 1);
                if self.code(&call).is_none() {
                    calls.push(call);
                }
            }
        }
        calls
    }

    fn run_to(&mut self, anchor: u64) {
        while self.next <= anchor {
            let calls = self.duties();
            let dropped = self.apply(calls);
            assert!(dropped.is_empty(), "anchor {}: {dropped:?}", self.next - 1);
        }
    }

    fn operator_of(&self, key: &[u8; 32]) -> [u8; 32] {
        pc_utxo_tx::XOnly::of(&self.vs[self.who(key)].operator).0
    }
}

#[test]
fn new_bonds_are_selected_by_vrf_within_the_churn_cap_and_an_absent_seat_is_dropped_and_cools_down() {
    let mut net = Net::new();
    let genesis_committee = net.committee(1);
    let mut ever_seated: BTreeSet<usize> = genesis_committee.iter().map(|k| net.who(k)).collect();
    let mut stopped_at = None;
    let mut prev = genesis_committee;
    for epoch_end in (R..=14 * R).step_by(R as usize) {
        net.run_to(epoch_end);
        let now = net.committee(epoch_end + 1);
        // Exactly k distinct keys, one seat per operator, at most f = ⌊(k−1)/3⌋ changed.
        assert_eq!(now.iter().collect::<BTreeSet<_>>().len(), K);
        let ops: BTreeSet<[u8; 32]> = now.iter().map(|k| net.operator_of(k)).collect();
        assert_eq!(ops.len(), K, "epoch {}: an operator holds two seats", epoch_end + 1);
        let changed = (0..K).filter(|&s| now[s] != prev[s]).count();
        assert!(changed <= (K - 1) / 3, "epoch {}: {changed} seats changed", epoch_end + 1);
        ever_seated.extend(now.iter().map(|k| net.who(k)));
        // Seats hold SeatMeta of their bond once the provider chose them.
        let c = net.rt.committee(&net.db, epoch_end + 1).unwrap().unwrap();
        for seat in c.seats.iter().filter(|s| !s.meta.is_empty()) {
            let meta = SeatMeta::decode(&mut &seat.meta[..]).unwrap();
            assert_eq!(Some(meta.bond), net.bond_of_seat(&seat.key));
        }
        prev = now.clone();
        // At anchor 35 a seated validator of a new operator stops.
        if epoch_end == 7 * R {
            let victim = now.iter().map(|k| net.who(k)).find(|&v| v >= 4).unwrap_or(net.who(&now[0]));
            net.stopped.insert(victim);
            stopped_at = Some((victim, epoch_end));
        }
        if let Some((victim, at)) = stopped_at {
            let key = net.vs[victim].seat_key();
            // Seen last at `at`; the first selection with at + HEARTBEAT <= a drops it.
            if epoch_end == at + R {
                assert!(!now.contains(&key), "epoch {}: the stopped validator still sits", epoch_end + 1);
            }
            // Cooling down until its drop + COOLDOWN: restarted at once, it is not selected.
            if epoch_end == at + R {
                net.stopped.remove(&victim);
            }
            if epoch_end > at + R && epoch_end <= at + R + COOLDOWN {
                assert!(!now.contains(&key), "epoch {}: selected while cooling down", epoch_end + 1);
            }
        }
    }
    assert!(ever_seated.contains(&4) && ever_seated.contains(&5), "new operators never seated: {ever_seated:?}");
    let (victim, at) = stopped_at.unwrap();
    let absent: Vec<(u64, SeatAbsent)> = net
        .events
        .iter()
        .filter(|(_, n, _)| n == "SeatAbsent")
        .map(|(a, _, d)| (*a, SeatAbsent::decode(&mut &d[..]).unwrap()))
        .collect();
    assert!(
        absent.contains(&(at + R, SeatAbsent { bond: net.bonds[&victim], cooldown_until: at + R + COOLDOWN })),
        "{absent:?}"
    );
    // Anchor 1 carried only the bonds, no candidacies for epoch 6: the committee stayed then.
    let kept: Vec<u64> = net.events.iter().filter(|(_, n, _)| n == "CommitteeKept").map(|(a, _, _)| *a).collect();
    assert_eq!(kept, [R]);
    let selected = net.events.iter().filter(|(_, n, _)| n == "Selected").count();
    assert_eq!(selected, 13, "one selection per later epoch end");
    let entered: usize = net
        .events
        .iter()
        .filter(|(_, n, _)| n == "Selected")
        .map(|(_, _, d)| Selected::decode(&mut &d[..]).unwrap().entered.len())
        .sum();
    assert!(entered >= 3, "rotations happened: {entered}");

    // A second node fed the same anchors computes the same committees and state.
    let mut twin = Net::new();
    let mut replay = Net::new();
    replay.run_to(7 * R);
    twin.run_to(7 * R);
    assert_eq!(replay.db.head().unwrap(), twin.db.head().unwrap());
}

#[test]
fn each_bad_candidacy_and_heartbeat_is_refused_with_its_own_code_and_changes_nothing() {
    let mut net = Net::new();
    net.run_to(2);
    let g = net.g();
    let (b0, b1, b4) = (net.bonds[&0], net.bonds[&1], net.bonds[&4]);
    let next = 1 + R;
    let seed = net.seed(next);
    let v = |i: usize| &net.vs[i];
    let mut cases: Vec<(&str, Call)> = vec![
        ("committee-vrf.decode", Call { module: "committee-vrf".into(), data: vec![7; 3] }),
        ("committee-vrf.epoch", v(0).candidacy_call(&g, &b0, next + R, &seed)),
        ("committee-vrf.epoch", v(0).candidacy_call(&g, &b0, 1, &seed)),
        ("committee-vrf.vrf", v(0).candidacy_call(&g, &b0, next, &Hash32([9; 32]))),
        ("committee-vrf.vrf", v(1).candidacy_call(&g, &b0, next, &seed)),
        // Bonded at anchor 1, after the seed of epoch 6 was fixed (genesis).
        ("committee-vrf.bond", v(4).candidacy_call(&g, &b4, next, &seed)),
        ("committee-vrf.bond", v(0).candidacy_call(&g, &Hash32([3; 32]), next, &seed)),
        ("committee-vrf.signature", v(1).heartbeat_call(&g, &b0, 1)),
        ("committee-vrf.bond", v(0).heartbeat_call(&g, &Hash32([3; 32]), 1)),
    ];
    // A good candidacy and heartbeat, then the same again.
    let good = vec![v(0).candidacy_call(&g, &b0, next, &seed), v(1).heartbeat_call(&g, &b1, 2)];
    assert!(good.iter().all(|c| net.code(c).is_none()));
    assert!(net.apply(good.clone()).is_empty());
    cases.push(("committee-vrf.duplicate", net.vs[0].candidacy_call(&g, &b0, next, &seed)));
    cases.push(("committee-vrf.stale", good[1].clone()));
    cases.push(("committee-vrf.stale", net.vs[0].heartbeat_call(&g, &b0, net.next)));

    // All refused in one quiet anchor (nobody seen, not an epoch end): nothing changes.
    net.quiet = true;
    assert_ne!(net.next % R, 0);
    for (code, call) in &cases {
        assert_eq!(net.code(call).as_deref(), Some(*code), "admission of `{code}`");
    }
    let scan = |net: &Net| {
        net.rt
            .with_view(&net.db, "committee-vrf", |v| {
                use pc_runtime_api::StorageRead;
                v.raw_scan(b"", b"", usize::MAX).unwrap()
            })
            .unwrap()
    };
    let before = scan(&net);
    let codes: Vec<&str> = cases.iter().map(|(c, _)| *c).collect();
    assert_eq!(net.apply(cases.into_iter().map(|(_, c)| c).collect()), codes);
    assert_eq!(scan(&net), before, "a refused call changed state");

    // Later: a heartbeat bound to an anchor older than the window.
    net.quiet = false;
    net.run_to(12);
    net.quiet = true;
    let old = net.vs[0].heartbeat_call(&g, &net.bonds[&0], net.next - 1 - HEARTBEAT);
    assert_eq!(net.code(&old).as_deref(), Some("committee-vrf.stale"));
    let before = scan(&net);
    assert_eq!(net.apply(vec![old]), ["committee-vrf.stale"]);
    assert_eq!(scan(&net), before);
}

/// A seat's presence is its own events: a node that stopped making events but keeps sending
/// heartbeats and candidacies is still dropped for absence at the next rotation. And a
/// `heartbeat` window of a whole epoch or more is refused.
#[test]
fn heartbeats_do_not_keep_a_seat_whose_events_stopped_and_the_window_must_fit_an_epoch() {
    let mut net = Net::new();
    net.run_to(3 * R);
    let seated = net.committee(3 * R + 1);
    let zombie = net.who(&seated[1]);
    net.zombies.insert(zombie);
    // From anchor 3R + 1 on: no events, but heartbeats every other anchor and a candidacy.
    net.run_to(4 * R);
    let absent: Vec<(u64, SeatAbsent)> = net
        .events
        .iter()
        .filter(|(_, n, _)| n == "SeatAbsent")
        .map(|(a, _, d)| (*a, SeatAbsent::decode(&mut &d[..]).unwrap()))
        .collect();
    assert_eq!(absent, [(4 * R, SeatAbsent { bond: net.bonds[&zombie], cooldown_until: 4 * R + COOLDOWN })]);
    assert!(!net.committee(4 * R + 1).contains(&seated[1]), "the zombie kept its seat");

    let vs: Vec<Validator> = (0..4u32).map(|i| Validator::new(300 + i, i as u8)).collect();
    let owners: Vec<Keypair> = (0..4).map(|i| test_key(400 + i)).collect();
    let mut v: serde_json::Value = serde_json::to_value(spec(&vs, &owners)).unwrap();
    v["modules"]["committee-vrf"]["heartbeat"] = R.into();
    let e = Runtime::new(serde_json::from_value(v).unwrap()).err().unwrap().to_string();
    assert!(e.contains("modules.committee-vrf.heartbeat"), "{e}");
}
