//! The bonding module through the real runtime (docs/spec/modules/bonding.md): a bond of an
//! allocation and an immature mint goes Pending → Active → Unbonding → Withdrawn with its
//! outputs coming back unchanged; a seated bond cannot leave while its slash window is open;
//! each bad call is refused with its own code and changes nothing; genesis bonds count against
//! the cap; and random bond / unbond / withdraw / transfer sequences keep the supply equation,
//! with the prechecked and sequential paths reaching the same roots.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "src/validators.rs"]
mod validators;

use pc_chainspec::{ChainSpec, DEV_JSON};
use pc_codec::{Decode, Encode, Hash32, decode_canonical};
use pc_integration_tests::{anchor_ctx, test_key};
use pc_module_bonding::{BondRecord, BondState, BondTerms, BondingCall, BondsView};
use pc_module_mint_pow::{MintHeader, TARGET, TIP};
use pc_module_utxo::{LedgerView, genesis_outpoint, module_outpoint};
use pc_runtime::{AnchorInput, CallDropped, Runtime, SYSTEM_EVENTS};
use pc_runtime_api::Call;
use pc_state::StateDb;
use pc_utxo_tx::{Address, Keypair, OutPoint, TxOut, Witness, XOnly, signed_transfer};
use proptest::prelude::*;
use std::sync::Arc;
use validators::{Validator, bonding};

const PC: u64 = 100_000_000;

/// A test-only slasher, as the slashing module will use bonding: it declares `bonding` and
/// `utxo`, slashes through `pc_module_bonding::Bonds` (which reaches the ledger with bonding's
/// own dependency) and pays out what it was handed.
#[derive(Debug)]
struct Slasher;

#[derive(Debug, Encode, Decode)]
enum SlasherCall {
    Slash { bond: Hash32, amount: u64 },
    Pay { to: [u8; 32], value: u64, nonce: u32 },
}

impl pc_runtime_api::Module for Slasher {
    fn apply(
        &self,
        ctx: &pc_runtime_api::AnchorCtx,
        call: &[u8],
        state: &mut pc_runtime_api::ModuleState<'_>,
        _e: &mut pc_runtime_api::EventSink<'_>,
    ) -> Result<(), pc_runtime_api::ModuleError> {
        let c = SlasherCall::decode(&mut &call[..])
            .map_err(|e| pc_runtime_api::ModuleError::invalid("slasher.decode", e.to_string()))?;
        match c {
            SlasherCall::Slash { bond, amount } => {
                pc_module_bonding::Bonds::open(state)?.slash(&bond, amount, ctx.index, "slasher").map(drop)
            }
            SlasherCall::Pay { to, value, nonce } => {
                let out = TxOut { value, predicate: pc_utxo_tx::Predicate::Key(XOnly(to)) };
                pc_module_utxo::Ledger::open(state)?
                    .pay_out(&Hash32([5; 32]), nonce, out, ctx.index, ctx.index)
                    .map(drop)
            }
        }
    }
}

pc_runtime_api::register_module!(pc_runtime_api::ModuleDescriptor {
    name: "slasher",
    feature: "test-only",
    order: 400,
    depends_on: &["utxo", "bonding"],
    build: |_| Ok(Box::new(Slasher)),
});

fn slasher(c: &SlasherCall) -> Call {
    Call { module: "slasher".into(), data: c.encode() }
}
/// Epochs of 5 anchors, slash window 10: the unbonding floor is 15.
const R: u64 = 5;
const SLASH: u64 = 10;
const UNBONDING: u64 = 20;
const BUFFER: u64 = 2;
const MIN_BOND: u64 = PC;

/// The dev chain (k = 1) with utxo allocations of 100 PC to each key, mint-pow with a long
/// top tier, bonding, and `genesis_bonds`.
fn spec(keys: &[Keypair], genesis_bonds: serde_json::Value) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(DEV_JSON).unwrap();
    v["constants"]["windows"] = serde_json::json!({ "slash_window": SLASH, "epoch_anchors": R });
    let allocations: Vec<_> = keys
        .iter()
        .map(|k| serde_json::json!({ "address": Address::Key(XOnly::of(k)).to_string(), "value": 100 * PC }))
        .collect();
    v["modules"]["utxo"]["allocations"] = allocations.into();
    v["modules"]["mint-pow"]["maturity_tiers"] = serde_json::json!([5, 10, 60]);
    // This binary links no committee provider: the genesis committee stays.
    v["modules"].as_object_mut().unwrap().remove("committee-vrf");
    v["modules"]["bonding"] = serde_json::json!({
        "min_bond": MIN_BOND, "activation_buffer": BUFFER, "unbonding": UNBONDING, "genesis_bonds": genesis_bonds,
    });
    v
}

struct Chain {
    rt: Runtime,
    db: StateDb,
    next: u64,
    sequential: bool,
    /// How many of each bonding event this chain emitted (coverage of the property test).
    seen: std::collections::BTreeMap<String, u32>,
}

impl Chain {
    fn new(spec: serde_json::Value) -> Chain {
        let rt = Runtime::new(ChainSpec::from_json(&spec.to_string()).unwrap()).unwrap();
        let db = StateDb::new(Arc::new(pc_store::MemStore::new()));
        rt.init_genesis(&db).unwrap();
        Chain { rt, db, next: 1, sequential: false, seen: Default::default() }
    }

    fn g(&self) -> Hash32 {
        self.rt.genesis_hash()
    }

    /// Applies one anchor; returns the codes of the calls it dropped.
    fn apply(&mut self, calls: Vec<Call>) -> (pc_runtime::AnchorOutcome, Vec<String>) {
        let input = AnchorInput { ctx: anchor_ctx(self.next), calls };
        let out = if self.sequential {
            self.rt.apply_anchor_sequential(&self.db, &input)
        } else {
            self.rt.apply_anchor(&self.db, &input)
        }
        .unwrap();
        self.next += 1;
        for e in out.events.iter().filter(|e| e.module == "bonding") {
            *self.seen.entry(e.name.clone()).or_default() += 1;
        }
        let codes = out
            .events
            .iter()
            .filter(|e| e.module == SYSTEM_EVENTS && e.name == "CallDropped")
            .map(|e| decode_canonical::<CallDropped>(&e.data, 4096).unwrap().code)
            .collect();
        self.check_supply();
        (out, codes)
    }

    fn run_to(&mut self, anchor: u64) {
        while self.next <= anchor {
            self.apply(vec![]);
        }
    }

    fn code(&self, call: &Call) -> Option<String> {
        self.rt.validate_call(&self.db, call).err().map(|e| {
            let s = e.to_string();
            s.split(':').nth(1).unwrap_or_default().trim().to_string()
        })
    }

    fn bond(&self, id: &Hash32) -> Option<BondRecord> {
        self.rt.with_view(&self.db, "bonding", |v| BondsView::open(v).unwrap().bond(id).unwrap()).unwrap()
    }

    fn ledger<T>(&self, f: impl FnOnce(&LedgerView<'_>) -> T) -> T {
        self.rt.with_view(&self.db, "utxo", |v| f(&LedgerView::open(v).unwrap())).unwrap()
    }

    /// Σ unspent + fees + locked + held = issued, and the locked total is exactly the bonds
    /// that are not Withdrawn (the only locks on these chains are bonds).
    fn check_supply(&self) {
        let (totals, unspent, locked) = self.ledger(|l| {
            let unspent: u64 = l.outputs(None, usize::MAX).unwrap().iter().map(|(_, u)| u.out.value).sum();
            let locked: Vec<_> = l.locked_outputs(None, usize::MAX).unwrap();
            (l.totals().unwrap(), unspent, locked)
        });
        assert_eq!(unspent + totals.fees + totals.locked + totals.held, totals.issued, "supply equation");
        assert_eq!(locked.iter().map(|(_, l)| l.utxo.out.value).sum::<u64>(), totals.locked);
        assert!(locked.iter().all(|(_, l)| l.owner == "bonding"));
        let mut by_bond = std::collections::BTreeMap::<Hash32, u64>::new();
        for (_, l) in &locked {
            *by_bond.entry(l.lock).or_default() += l.utxo.out.value;
        }
        for (id, v) in by_bond {
            let rec = self.bond(&id).expect("a lock without its bond");
            assert!(!matches!(rec.state, BondState::Withdrawn { .. }));
            assert_eq!(rec.value, v, "bond {id}");
        }
    }

    /// A solved mint paying `to` at `tier`.
    fn mint(&self, to: &Keypair, tier: u8) -> (Call, Hash32) {
        let (tip, target) = self
            .rt
            .with_view(&self.db, "mint-pow", |v| (TIP.get(v).unwrap().unwrap(), TARGET.get(v).unwrap().unwrap()))
            .unwrap();
        let mut h = MintHeader {
            version: 0,
            genesis: self.g(),
            prev_mint: tip.id,
            height: tip.height + 1,
            target,
            tier,
            payout: Address::Key(XOnly::of(to)).to_bytes(),
            nonce: 0,
        };
        while !h.meets_target() {
            h.nonce += 1;
        }
        (Call { module: "mint-pow".into(), data: h.encode() }, h.id())
    }
}

#[test]
fn a_bond_of_an_allocation_and_an_immature_mint_lives_its_whole_life_and_gives_back_the_same_outputs() {
    let owner = test_key(1);
    let v = Validator::new(1, 1);
    let mut c = Chain::new(spec(std::slice::from_ref(&owner), serde_json::json!([])));
    let g = c.g();
    // Anchor 1: a mint at the 60-anchor tier.
    let (mint, mint_id) = c.mint(&owner, 2);
    c.apply(vec![mint]);
    let minted = module_outpoint("mint-pow", &mint_id, 0);
    let mint_utxo = c.ledger(|l| l.output(&minted).unwrap()).unwrap();
    assert_eq!(mint_utxo.spendable_from, 61);
    let alloc = genesis_outpoint(0);
    let alloc_utxo = c.ledger(|l| l.output(&alloc).unwrap()).unwrap();

    // Anchor 2: the bond; Pending until anchor 2 + BUFFER.
    let (id, call) = c.bond_call_of(&v, &[(alloc, &owner), (minted, &owner)]);
    assert_eq!(c.code(&call), None);
    let (out, dropped) = c.apply(vec![call]);
    assert!(dropped.is_empty(), "{dropped:?}");
    assert!(out.events.iter().any(|e| e.module == "bonding" && e.name == "Bonded"));
    let rec = c.bond(&id).unwrap();
    assert_eq!(rec.state, BondState::Pending { active_at: 2 + BUFFER });
    assert_eq!(rec.value, 100 * PC + mint_utxo.out.value);
    assert_eq!(rec.mature_from, 61, "the bond remembers the immature mint's maturity");
    assert!(c.ledger(|l| l.output(&alloc).unwrap()).is_none(), "bonded outputs leave the spendable set");
    // A transfer of a bonded output is refused.
    let spend = signed_transfer(
        &g,
        &owner,
        &[alloc],
        vec![TxOut { value: PC, predicate: pc_utxo_tx::Predicate::Key(XOnly::of(&owner)) }],
    );
    assert_eq!(c.code(&Call { module: "utxo".into(), data: spend.encode() }).as_deref(), Some("utxo.output-locked"));

    c.run_to(2 + BUFFER);
    assert_eq!(c.bond(&id).unwrap().state, BondState::Active { since: 2 + BUFFER });

    // Withdraw while Active: wrong state. Unbond: release at max(anchor + UNBONDING, 61).
    assert_eq!(c.code(&v.withdraw_call(&g, &id)).as_deref(), Some("bonding.state"));
    let at = c.next;
    let (out, dropped) = c.apply(vec![v.unbond_call(&g, &id)]);
    assert!(dropped.is_empty());
    let release_at = (at + UNBONDING).max(61);
    let ev = out.events.iter().find(|e| e.name == "Unbonding").unwrap();
    let ev = pc_module_bonding::Unbonding::decode(&mut &ev.data[..]).unwrap();
    assert_eq!(ev.release_at, release_at, "the event carries the release anchor");
    assert_eq!(c.code(&v.unbond_call(&g, &id)).as_deref(), Some("bonding.state"), "an unbond cannot be replayed");

    // One anchor early: refused, nothing changes.
    c.run_to(release_at - 2);
    assert_eq!(c.code(&v.withdraw_call(&g, &id)).as_deref(), Some("bonding.too-early"));
    let (_, dropped) = c.apply(vec![v.withdraw_call(&g, &id)]);
    assert_eq!(dropped, ["bonding.too-early"]);
    assert!(matches!(c.bond(&id).unwrap().state, BondState::Unbonding { .. }));

    // At release_at: the same outputs come back, the mint still with its own maturity.
    assert_eq!(c.next, release_at);
    let (out, dropped) = c.apply(vec![v.withdraw_call(&g, &id)]);
    assert!(dropped.is_empty(), "{dropped:?}");
    assert!(out.events.iter().any(|e| e.name == "Withdrawn"));
    assert_eq!(c.bond(&id).unwrap().state, BondState::Withdrawn { at: release_at });
    assert_eq!(c.ledger(|l| l.output(&alloc).unwrap()), Some(alloc_utxo));
    assert_eq!(c.ledger(|l| l.output(&minted).unwrap()), Some(mint_utxo));
    assert_eq!(c.code(&v.withdraw_call(&g, &id)).as_deref(), Some("bonding.state"), "a withdraw cannot be replayed");
    // The same terms and outputs again: the lock id is spent for good.
    let (_, again) = c.bond_call_of(&v, &[(alloc, &owner), (minted, &owner)]);
    assert_eq!(c.code(&again).as_deref(), Some("utxo.lock-reused"));
}

impl Chain {
    fn bond_call_of(&self, v: &Validator, inputs: &[(OutPoint, &Keypair)]) -> (Hash32, Call) {
        v.bond_call(&self.g(), v.terms(), inputs)
    }

    /// What a refused call must leave alone: the bonds and the ledger.
    fn snapshot(&self) -> (Vec<(OutPoint, u64)>, pc_module_utxo::Totals, pc_runtime_api::KvPairs) {
        let (outs, totals) = self.ledger(|l| {
            (
                l.outputs(None, usize::MAX).unwrap().into_iter().map(|(o, u)| (o, u.out.value)).collect(),
                l.totals().unwrap(),
            )
        });
        let bonds = self.rt.with_view(&self.db, "bonding", |v| v.entries()).unwrap();
        (outs, totals, bonds)
    }
}

/// The bonding namespace's entries (a refused call writes none).
trait Entries {
    fn entries(&self) -> pc_runtime_api::KvPairs;
}
impl Entries for pc_runtime_api::ModuleView<'_> {
    fn entries(&self) -> pc_runtime_api::KvPairs {
        use pc_runtime_api::StorageRead;
        self.raw_scan(b"", b"", usize::MAX).unwrap()
    }
}

#[test]
fn each_bad_bond_unbond_and_withdraw_is_refused_with_its_own_code_and_changes_nothing() {
    let (alice, mallory) = (test_key(1), test_key(2));
    let v = Validator::new(1, 1);
    let w = Validator::new(2, 2);
    let mut c = Chain::new(spec(&[alice, mallory], serde_json::json!([])));
    let g = c.g();
    let alloc = genesis_outpoint(0); // alice's
    let good = |t: BondTerms| v.bond_call(&g, t, &[(alloc, &alice)]).1;

    // A live bond of w's, to test the seat index and exits against.
    let (wid, wcall) = w.bond_call(&g, w.terms(), &[(genesis_outpoint(1), &mallory)]);
    c.apply(vec![wcall]);
    c.run_to(1 + BUFFER); // Active: no hook writes while the cases run.

    let mut cases: Vec<(&str, Call)> = Vec::new();
    cases.push(("bonding.decode", Call { module: "bonding".into(), data: vec![9, 9, 9] }));
    // Someone else's outputs: mallory signs for alice's allocation.
    cases.push(("utxo.bad-signature", v.bond_call(&g, v.terms(), &[(alloc, &mallory)]).1));
    // A replayed transaction signature: alice's witness from a transfer of the same output.
    let tx = signed_transfer(
        &g,
        &alice,
        &[alloc],
        vec![TxOut { value: PC, predicate: pc_utxo_tx::Predicate::Key(XOnly::of(&alice)) }],
    );
    let Witness::Sig(tx_sig) = tx.inputs[0].witness.clone() else { panic!() };
    let (_, call) = good_call_parts(&v, &g, alloc, &alice);
    let BondingCall::Bond { terms, mut inputs, seat_sig, operator_sig } = call else { panic!() };
    inputs[0].1 = Witness::Sig(tx_sig);
    cases.push(("utxo.bad-signature", bonding(&BondingCall::Bond { terms, inputs, seat_sig, operator_sig })));
    // Identity VRF key.
    let mut t = v.terms();
    t.vrf_key = pc_crypto::vrf::VrfPublic([0; 32]);
    cases.push(("bonding.vrf-key", good(t)));
    // A BLS key with another key's proof of possession.
    let mut t = v.terms();
    t.bls_pop = w.terms().bls_pop;
    cases.push(("bonding.bls-key", good(t)));
    // The seat key did not consent (another key's signature).
    let (_, call) = good_call_parts(&v, &g, alloc, &alice);
    let BondingCall::Bond { terms, inputs, operator_sig, .. } = call else { panic!() };
    cases.push(("bonding.seat-key", bonding(&BondingCall::Bond { terms, inputs, seat_sig: [7; 64], operator_sig })));
    // Someone else's operator id: w's operator key did not sign this bond.
    let mut t = v.terms();
    t.operator = w.terms().operator;
    let (_, call) = good_call_parts_with(&v, &g, t, alloc, &alice);
    cases.push(("bonding.operator", bonding(&call)));
    // w's VRF key, and w's BLS key with its proof, copied into v's bond.
    let mut t = v.terms();
    t.vrf_key = w.terms().vrf_key;
    cases.push(("bonding.key-taken", good(t)));
    let mut t = v.terms();
    (t.bls_key, t.bls_pop) = (w.terms().bls_key, w.terms().bls_pop);
    cases.push(("bonding.key-taken", good(t)));
    // Seat key equals bond key.
    let mut t = v.terms();
    t.bond_key = t.seat_key;
    cases.push(("bonding.shape", good(t)));
    // w's seat key is taken by w's live bond.
    cases.push(("bonding.seat-taken", w.bond_call(&g, w.terms(), &[(alloc, &alice)]).1));
    // Exits: unknown bond, wrong key, wrong state, and unbond twice later.
    cases.push(("bonding.unknown", v.unbond_call(&g, &Hash32([1; 32]))));
    cases.push(("bonding.signature", v.unbond_call(&g, &wid)));
    cases.push(("bonding.state", w.withdraw_call(&g, &wid)));

    for (code, call) in cases {
        assert_eq!(c.code(&call).as_deref(), Some(code), "admission of the `{code}` case");
        let before = c.snapshot();
        let (_, dropped) = c.apply(vec![call]);
        assert_eq!(dropped, [code], "application of the `{code}` case");
        assert_eq!(c.snapshot(), before, "`{code}` changed state");
    }

    // Below the minimum: a 1-unit output of alice's.
    let change = signed_transfer(
        &g,
        &alice,
        &[alloc],
        vec![
            TxOut { value: MIN_BOND - 1, predicate: pc_utxo_tx::Predicate::Key(XOnly::of(&alice)) },
            TxOut { value: 50 * PC, predicate: pc_utxo_tx::Predicate::Key(XOnly::of(&alice)) },
        ],
    );
    let (_, dropped) = c.apply(vec![Call { module: "utxo".into(), data: change.encode() }]);
    assert!(dropped.is_empty());
    let small = OutPoint { tx: change.txid(), index: 0 };
    let (_, call) = v.bond_call(&g, v.terms(), &[(small, &alice)]);
    assert_eq!(c.code(&call).as_deref(), Some("bonding.value"));
    let before = c.snapshot();
    assert_eq!(c.apply(vec![call]).1, ["bonding.value"]);
    assert_eq!(c.snapshot(), before, "a refused bond leaves its inputs unlocked");
}

/// A `Bond` with terms `t`, signed by `v`'s keys, decoded.
fn good_call_parts_with(
    v: &Validator,
    g: &Hash32,
    t: BondTerms,
    op: OutPoint,
    owner: &Keypair,
) -> (Hash32, BondingCall) {
    let (id, call) = v.bond_call(g, t, &[(op, owner)]);
    (id, BondingCall::decode(&mut &call.data[..]).unwrap())
}

/// A valid `Bond` of `op` by `v`, decoded, to tamper with.
fn good_call_parts(v: &Validator, g: &Hash32, op: OutPoint, owner: &Keypair) -> (Hash32, BondingCall) {
    let (id, call) = v.bond_call(g, v.terms(), &[(op, owner)]);
    (id, BondingCall::decode(&mut &call.data[..]).unwrap())
}

#[test]
fn genesis_bonds_are_active_locked_and_issued_within_the_cap_and_a_bad_one_names_its_field() {
    let owner = test_key(3);
    let vs = [Validator::new(10, 1), Validator::new(11, 2)];
    let entries: Vec<_> = vs.iter().map(|v| v.genesis_entry(&owner, 5 * PC)).collect();
    let c = Chain::new(spec(std::slice::from_ref(&owner), entries.clone().into()));
    let totals = c.ledger(|l| l.totals().unwrap());
    assert_eq!(totals.locked, 10 * PC);
    assert_eq!(totals.issued, 100 * PC + 10 * PC, "genesis bonds are issued like allocations");
    for v in &vs {
        let (_, rec) = c
            .rt
            .with_view(&c.db, "bonding", |view| BondsView::open(view).unwrap().bond_by_seat(&v.seat_key()).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(rec.state, BondState::Active { since: 0 });
        assert_eq!(rec.value, 5 * PC);
    }
    c.check_supply();

    let refused = |mutate: &dyn Fn(&mut serde_json::Value)| {
        let mut v = spec(std::slice::from_ref(&owner), entries.clone().into());
        mutate(&mut v);
        let spec = ChainSpec::from_json(&v.to_string()).unwrap();
        Runtime::new(spec).err().map(|e| e.to_string()).unwrap_or_default()
    };
    let e = refused(&|v| v["modules"]["bonding"]["genesis_bonds"][1]["bls_pop"] = entries[0]["bls_pop"].clone());
    assert!(e.contains("modules.bonding.genesis_bonds[1].bls_key"), "{e}");
    let e = refused(&|v| v["modules"]["bonding"]["genesis_bonds"][1]["seat_key"] = entries[0]["seat_key"].clone());
    assert!(e.contains("modules.bonding.genesis_bonds[1].seat_key"), "{e}");
    let e = refused(&|v| v["modules"]["bonding"]["unbonding"] = (SLASH + R - 1).into());
    assert!(e.contains("modules.bonding.unbonding"), "{e}");
    let e = refused(&|v| v["modules"]["bonding"]["genesis_bonds"][0]["value"] = (MIN_BOND - 1).into());
    assert!(e.contains("modules.bonding.genesis_bonds[0].value"), "{e}");
}

/// The guard of §4: a bond whose seat sits in the committee cannot be withdrawn, whatever its
/// release anchor says, until `slash_window` anchors after the last epoch it served.
#[test]
fn a_seated_bond_cannot_be_withdrawn_until_the_slash_window_of_its_last_epoch_has_passed() {
    let owner = test_key(4);
    let v = Validator::new(20, 1);
    let mut s = spec(std::slice::from_ref(&owner), serde_json::json!([v.genesis_entry(&owner, 5 * PC)]));
    s["committee"] = serde_json::json!([hex::encode(v.seat_key())]);
    let mut c = Chain::new(s);
    let g = c.g();
    let id =
        c.rt.with_view(&c.db, "bonding", |view| BondsView::open(view).unwrap().bond_by_seat(&v.seat_key()).unwrap())
            .unwrap()
            .unwrap()
            .0;
    c.run_to(3);
    assert_eq!(c.bond(&id).unwrap().served_until, R, "the seat serves epoch 1..=5");
    c.apply(vec![v.unbond_call(&g, &id)]);
    let BondState::Unbonding { release_at, .. } = c.bond(&id).unwrap().state else { panic!() };
    assert_eq!(release_at, 4 + UNBONDING);
    // No provider: the seat stays seated epoch after epoch, so the guard keeps moving.
    c.run_to(release_at + 3 * R);
    let rec = c.bond(&id).unwrap();
    assert!(rec.served_until >= release_at + 3 * R);
    assert_eq!(c.code(&v.withdraw_call(&g, &id)).as_deref(), Some("bonding.too-early"));
    assert_eq!(c.apply(vec![v.withdraw_call(&g, &id)]).1, ["bonding.too-early"]);
}

#[derive(Debug, Clone)]
enum Step {
    Bond { v: u8, picks: Vec<u8> },
    Unbond { v: u8 },
    Withdraw { v: u8 },
    Transfer { from: u8, to: u8, pick: u8 },
    Wait,
}

fn steps() -> impl Strategy<Value = Vec<Vec<Step>>> {
    let step = prop_oneof![
        3 => (0u8..3, proptest::collection::vec(0u8..16, 1..3)).prop_map(|(v, picks)| Step::Bond { v, picks }),
        2 => (0u8..3).prop_map(|v| Step::Unbond { v }),
        3 => (0u8..3).prop_map(|v| Step::Withdraw { v }),
        2 => (0u8..3, 0u8..3, 0u8..16).prop_map(|(from, to, pick)| Step::Transfer { from, to, pick }),
        1 => Just(Step::Wait),
    ];
    proptest::collection::vec(proptest::collection::vec(step, 0..5), 6..16)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, .. ProptestConfig::default() })]

    /// Random bonds (of outputs whoever owns them, possibly spent or locked), unbonds,
    /// withdraws (early and late) and transfers, several per anchor: after every anchor the
    /// supply equation holds with the bonds' values exactly the locked total, and the prechecked
    /// path gives the same records and events as the sequential one.
    #[test]
    fn random_bond_life_cycles_and_transfers_keep_the_supply_equation_on_both_paths(anchors in steps()) {
        let keys: Vec<Keypair> = (0..3).map(|i| test_key(30 + i)).collect();
        let vs: Vec<Validator> = (0..3).map(|i| Validator::new(40 + i, i as u8)).collect();
        let mut fast = Chain::new(spec(&keys, serde_json::json!([])));
        let mut slow = Chain::new(spec(&keys, serde_json::json!([])));
        slow.sequential = true;
        let g = fast.g();
        // Known outputs with their owners; the last bond id of each validator.
        let mut known: Vec<(OutPoint, usize)> = (0..3).map(|i| (genesis_outpoint(i as u32), i)).collect();
        let mut bonds: [Option<Hash32>; 3] = [None; 3];
        for (n, anchor) in anchors.into_iter().enumerate() {
            let mut calls = Vec::new();
            let mut made = Vec::new();
            for step in anchor {
                match step {
                    Step::Bond { v, picks } => {
                        let v = usize::from(v);
                        let owner = known[usize::from(picks[0]) % known.len()].1;
                        let mut ins: Vec<OutPoint> = picks.iter().map(|p| known[usize::from(*p) % known.len()]).filter(|(_, o)| *o == owner).map(|(op, _)| op).collect();
                        ins.sort();
                        ins.dedup();
                        let signed: Vec<(OutPoint, &Keypair)> = ins.iter().map(|op| (*op, &keys[owner])).collect();
                        let (id, call) = vs[v].bond_call(&g, vs[v].terms(), &signed);
                        made.push((v, id));
                        calls.push(call);
                    }
                    Step::Unbond { v } => if let Some(id) = bonds[usize::from(v)] { calls.push(vs[usize::from(v)].unbond_call(&g, &id)) },
                    Step::Withdraw { v } => if let Some(id) = bonds[usize::from(v)] { calls.push(vs[usize::from(v)].withdraw_call(&g, &id)) },
                    Step::Transfer { from, to, pick } => {
                        let mine: Vec<OutPoint> = known.iter().filter(|(_, o)| *o == usize::from(from)).map(|(op, _)| *op).collect();
                        if mine.is_empty() { continue; }
                        let op = mine[usize::from(pick) % mine.len()];
                        let Some(u) = fast.ledger(|l| l.output(&op).unwrap()) else { continue };
                        if u.out.value < 2 * PC { continue; }
                        let outs = vec![TxOut { value: u.out.value - 100_000, predicate: pc_utxo_tx::Predicate::Key(XOnly::of(&keys[usize::from(to)])) }];
                        let tx = signed_transfer(&g, &keys[usize::from(from)], &[op], outs);
                        known.push((OutPoint { tx: tx.txid(), index: 0 }, usize::from(to)));
                        calls.push(Call { module: "utxo".into(), data: tx.encode() });
                    }
                    Step::Wait => {}
                }
            }
            let (a, _) = fast.apply(calls.clone());
            let (b, _) = slow.apply(calls);
            prop_assert_eq!(&a.record, &b.record, "anchor {}: prechecked and sequential differ", n + 1);
            prop_assert_eq!(a.events, b.events);
            // Unbond and withdraw the bonds that were made (a refused one is not tracked).
            for (v, id) in made {
                if fast.bond(&id).is_some() {
                    bonds[v] = Some(id);
                }
            }
            // Jump ahead now and then so that withdraws become due.
            if n % 3 == 2 {
                let to = fast.next + UNBONDING + BUFFER;
                fast.run_to(to);
                slow.run_to(to);
            }
        }
        if std::env::var_os("PC_SHOW_COVERAGE").is_some() {
            eprintln!("bonding events: {:?}", fast.seen);
        }
    }
}

/// A partial slash seizes the bond's outputs, locks the rest again under the bond with its
/// maturity and hands the slashed units to the slashing module, which pays them out; a full
/// slash leaves a bond of 0 that still withdraws; nothing is burnt at any step.
#[test]
fn a_slash_keeps_the_rest_bonded_with_its_maturity_and_hands_the_slashed_units_on() {
    let owner = test_key(5);
    let v = Validator::new(50, 1);
    let mut s = spec(std::slice::from_ref(&owner), serde_json::json!([]));
    s["modules"]["slasher"] = serde_json::json!({});
    let mut c = Chain::new(s);
    let g = c.g();
    let (mint, mint_id) = c.mint(&owner, 2);
    c.apply(vec![mint]);
    let minted = module_outpoint("mint-pow", &mint_id, 0);
    let (id, call) = c.bond_call_of(&v, &[(genesis_outpoint(0), &owner), (minted, &owner)]);
    assert!(c.apply(vec![call]).1.is_empty());
    let value = c.bond(&id).unwrap().value;

    let (_, dropped) = c.apply(vec![slasher(&SlasherCall::Slash { bond: id, amount: value / 4 })]);
    assert!(dropped.is_empty(), "{dropped:?}");
    let rec = c.bond(&id).unwrap();
    assert_eq!((rec.value, rec.slashed), (value - value / 4, value / 4));
    let rest = module_outpoint("bonding", &id, 0);
    assert_eq!(rec.outpoints, vec![rest]);
    let locked = c.ledger(|l| l.locked(&rest).unwrap()).unwrap();
    assert_eq!((locked.lock, locked.utxo.spendable_from), (id, 61), "the rest keeps the mint's maturity");
    assert_eq!(locked.utxo.out.predicate, pc_utxo_tx::Predicate::Key(XOnly::of(&owner)));
    let held = c.ledger(|l| l.held("slasher").unwrap());
    assert_eq!((held.value, held.mature_from), (value / 4, 61));

    // Paid out, never before the seized mint's maturity.
    let to = XOnly::of(&test_key(6)).0;
    assert!(c.apply(vec![slasher(&SlasherCall::Pay { to, value: value / 4, nonce: 0 })]).1.is_empty());
    let paid = c.ledger(|l| l.output(&module_outpoint("slasher", &Hash32([5; 32]), 0)).unwrap()).unwrap();
    assert_eq!(paid.spendable_from, 61);

    // The rest, slashed fully: a bond of 0 with no outputs, which still unbonds and withdraws.
    assert!(c.apply(vec![slasher(&SlasherCall::Slash { bond: id, amount: u64::MAX })]).1.is_empty());
    let rec = c.bond(&id).unwrap();
    assert_eq!((rec.value, rec.slashed, rec.outpoints.len()), (0, value, 0));
    assert_eq!(c.ledger(|l| l.held("slasher").unwrap()).value, value - value / 4);
    c.apply(vec![v.unbond_call(&g, &id)]);
    let BondState::Unbonding { release_at, .. } = c.bond(&id).unwrap().state else { panic!() };
    c.run_to(release_at - 1);
    assert!(c.apply(vec![v.withdraw_call(&g, &id)]).1.is_empty());
    assert_eq!(c.apply(vec![slasher(&SlasherCall::Slash { bond: id, amount: 1 })]).1, ["bonding.state"]);
}
