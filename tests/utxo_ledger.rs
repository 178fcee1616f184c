//! The UTXO module through the real runtime and state (in memory): spends, fees, conflicts in
//! finalized order, predicate failures with distinct codes, maturity, and value conservation
//! across random transaction sets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pc_codec::{Decode, Encode, Hash32};
use pc_integration_tests::{anchor_ctx, test_key, utxo_spec};
use pc_module_utxo::{Ledger, LedgerView, Utxo, genesis_outpoint};
use pc_runtime::{AnchorInput, CallOutcome, Runtime};
use pc_runtime_api::{
    AnchorCtx, Call, EventSink, Module, ModuleDescriptor, ModuleError, ModuleInit, ModuleState, register_module,
};
use pc_state::StateDb;
use pc_utxo_tx::{
    Address, Keypair, OutPoint, Predicate, Transaction, TxIn, TxOut, Witness, XOnly, hash_lock_digest, sighash,
    sign_sighash,
};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

const PC: u64 = 100_000_000;

/// A test module that issues immature outputs the way mint-pow will: through the utxo module's
/// own function, as a declared dependency.
#[derive(Debug)]
struct Faucet;

#[derive(Debug, Encode, Decode)]
struct FaucetCall {
    to: [u8; 32],
    value: u64,
    mature_at: u64,
}

impl Module for Faucet {
    fn apply(
        &self,
        ctx: &AnchorCtx,
        call: &[u8],
        state: &mut ModuleState<'_>,
        _e: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        let c = FaucetCall::decode(&mut &call[..]).map_err(|e| ModuleError::invalid("faucet.decode", e.to_string()))?;
        let out = TxOut { value: c.value, predicate: Predicate::Key(XOnly(c.to)) };
        Ledger::open(state)?
            .issue(&Hash32([7; 32]), u32::try_from(ctx.index).unwrap(), out, ctx.index, c.mature_at)
            .map(drop)
    }
}

register_module!(ModuleDescriptor {
    name: "faucet",
    feature: "test-only",
    order: 200,
    depends_on: &["utxo"],
    build: |_i: &ModuleInit<'_>| Ok(Box::new(Faucet)),
});

struct Chain {
    rt: Runtime,
    db: StateDb,
    next: u64,
    /// Apply through [`Runtime::apply_anchor_sequential`] (no prechecks).
    sequential: bool,
}

impl Chain {
    fn new(keys: &[Keypair], value: u64, faucet: bool) -> Chain {
        let mut spec = utxo_spec(keys, value);
        if faucet {
            spec.modules.insert("faucet".into(), serde_json::json!({}));
        }
        let rt = Runtime::new(spec).unwrap();
        let db = StateDb::new(Arc::new(pc_store::MemStore::new()));
        rt.init_genesis(&db).unwrap();
        Chain { rt, db, next: 1, sequential: false }
    }

    fn genesis(&self) -> Hash32 {
        self.rt.genesis_hash()
    }

    fn apply(&mut self, calls: Vec<Call>) -> pc_runtime::AnchorOutcome {
        let input = AnchorInput { ctx: anchor_ctx(self.next), calls };
        let out = if self.sequential {
            self.rt.apply_anchor_sequential(&self.db, &input)
        } else {
            self.rt.apply_anchor(&self.db, &input)
        };
        let out = out.unwrap();
        self.next += 1;
        out
    }

    fn validate(&self, tx: &Transaction) -> Result<u64, String> {
        self.rt.validate_call(&self.db, &call(tx)).map(|v| v.priority).map_err(|e| e.to_string())
    }

    fn utxo(&self, op: &OutPoint) -> Option<Utxo> {
        self.rt.with_view(&self.db, "utxo", |v| LedgerView::open(v).unwrap().output(op).unwrap()).unwrap()
    }

    fn unspent(&self) -> BTreeMap<OutPoint, u64> {
        self.rt
            .with_view(&self.db, "utxo", |v| {
                LedgerView::open(v)
                    .unwrap()
                    .outputs(None, 1_000_000)
                    .unwrap()
                    .into_iter()
                    .map(|(k, u)| (k, u.out.value))
                    .collect()
            })
            .unwrap()
    }

    fn totals(&self) -> pc_module_utxo::Totals {
        self.rt.with_view(&self.db, "utxo", |v| LedgerView::open(v).unwrap().totals().unwrap()).unwrap()
    }
}

fn call(tx: &Transaction) -> Call {
    Call { module: "utxo".into(), data: tx.encode() }
}

fn pay(kp: &Keypair, value: u64) -> TxOut {
    TxOut { value, predicate: Predicate::Key(XOnly::of(kp)) }
}

use pc_utxo_tx::signed_transfer as spend;

/// The module keeps no anchor counter: an anchor without its calls leaves the state root alone,
/// and admission still counts maturity from the next anchor (the host's `next_anchor`).
#[test]
fn an_anchor_without_utxo_calls_writes_nothing_and_maturity_still_counts() {
    let a = test_key(0);
    let mut chain = Chain::new(&[a], 10 * PC, false);
    let root = chain.db.state_root().unwrap();
    chain.apply(vec![]);
    chain.apply(vec![]);
    assert_eq!(chain.db.state_root().unwrap(), root, "an empty anchor changed the state");
    let next = chain.rt.with_view(&chain.db, "utxo", |v| v.next_anchor()).unwrap();
    assert_eq!(next, 3);
}

#[test]
fn a_signed_spend_moves_value_and_pays_the_fee() {
    let (a, b) = (test_key(0), test_key(1));
    let mut chain = Chain::new(&[a], 10 * PC, false);
    let g = chain.genesis();
    let tx = spend(&g, &a, &[genesis_outpoint(0)], vec![pay(&b, 3 * PC), pay(&a, 7 * PC - 10_000)]);
    assert!(chain.validate(&tx).unwrap() > 0, "fee rate is the priority");
    let out = chain.apply(vec![call(&tx)]);
    assert_eq!(out.record.dropped, 0);
    assert!(out.events.iter().any(|e| e.name == "TxApplied"));
    let txid = tx.txid();
    assert!(chain.utxo(&genesis_outpoint(0)).is_none(), "the input is spent");
    let values: Vec<u64> = (0..2).map(|i| chain.utxo(&OutPoint { tx: txid, index: i }).unwrap().out.value).collect();
    assert_eq!(values.iter().sum::<u64>(), 10 * PC - 10_000);
    assert_eq!(chain.totals().fees, 10_000);
    let rec = Runtime::call_record(&chain.db, &txid).unwrap().unwrap();
    assert_eq!((rec.anchor, rec.outcome), (1, CallOutcome::Applied));
}

#[test]
fn conflicting_finalized_spends_first_wins_and_the_second_is_dropped_with_an_event() {
    let (a, b, c) = (test_key(0), test_key(1), test_key(2));
    let mut chain = Chain::new(&[a], 10 * PC, false);
    let g = chain.genesis();
    let first = spend(&g, &a, &[genesis_outpoint(0)], vec![pay(&b, 10 * PC - 10_000)]);
    let second = spend(&g, &a, &[genesis_outpoint(0)], vec![pay(&c, 10 * PC - 20_000)]);
    // Both are valid alone: the conflict only exists in the total order.
    chain.validate(&first).unwrap();
    chain.validate(&second).unwrap();
    let out = chain.apply(vec![call(&first), call(&second)]);
    assert_eq!(out.record.dropped, 1);
    let dropped = out.events.iter().find(|e| e.name == "CallDropped").expect("drop event");
    let ev = pc_runtime::CallDropped::decode(&mut &dropped.data[..]).unwrap();
    assert_eq!((ev.call_id, ev.code.as_str()), (second.txid(), "utxo.unknown-input"));
    assert!(chain.utxo(&OutPoint { tx: first.txid(), index: 0 }).is_some());
    assert!(chain.utxo(&OutPoint { tx: second.txid(), index: 0 }).is_none());
    match Runtime::call_record(&chain.db, &second.txid()).unwrap().unwrap().outcome {
        CallOutcome::Dropped { code, .. } => assert_eq!(code, "utxo.unknown-input"),
        other => panic!("second spend should be dropped, got {other:?}"),
    }
}

fn code_of(r: Result<u64, String>) -> String {
    r.expect_err("must be refused").split(':').nth(1).unwrap_or_default().trim().to_string()
}

#[test]
fn each_kind_of_bad_spend_gets_its_own_code_and_changes_nothing() {
    let (a, b) = (test_key(0), test_key(1));
    let mut chain = Chain::new(&[a, b], 10 * PC, true);
    let g = chain.genesis();
    let before = chain.db.head().unwrap();

    // Signed by the wrong key.
    let wrong_key = spend(&g, &b, &[genesis_outpoint(0)], vec![pay(&b, PC)]);
    assert_eq!(code_of(chain.validate(&wrong_key)), "utxo.bad-signature");
    // Signed for another network.
    let other_net = spend(&Hash32([9; 32]), &a, &[genesis_outpoint(0)], vec![pay(&b, PC)]);
    assert_eq!(code_of(chain.validate(&other_net)), "utxo.bad-signature");
    // An input that never existed.
    let ghost = spend(&g, &a, &[OutPoint { tx: Hash32([1; 32]), index: 0 }], vec![pay(&b, PC)]);
    assert_eq!(code_of(chain.validate(&ghost)), "utxo.unknown-input");
    // The same input twice.
    let mut twice = spend(&g, &a, &[genesis_outpoint(0)], vec![pay(&b, PC)]);
    twice.inputs.push(twice.inputs[0].clone());
    assert_eq!(code_of(chain.validate(&twice)), "utxo.double-spend");
    // More out than in, and a fee below the minimum.
    assert_eq!(code_of(chain.validate(&spend(&g, &a, &[genesis_outpoint(0)], vec![pay(&b, 11 * PC)]))), "utxo.value");
    assert_eq!(code_of(chain.validate(&spend(&g, &a, &[genesis_outpoint(0)], vec![pay(&b, 10 * PC)]))), "utxo.fee");
    // Nothing changed.
    assert_eq!(chain.db.head().unwrap(), before);

    // An anchor-index lock and an immature issued output.
    let lock = TxOut {
        value: PC,
        predicate: Predicate::Any(vec![Predicate::After(50), Predicate::HashLock(hash_lock_digest(b"secret"))]),
    };
    let fund = spend(&g, &a, &[genesis_outpoint(0)], vec![lock, pay(&a, 9 * PC - 10_000)]);
    let faucet = FaucetCall { to: XOnly::of(&b).0, value: 5 * PC, mature_at: 40 };
    chain.apply(vec![call(&fund), Call { module: "faucet".into(), data: faucet.encode() }]);
    let locked = OutPoint { tx: fund.txid(), index: fund.outputs.iter().position(|o| o.value == PC).unwrap() as u32 };
    let take = |w: Witness| {
        let mut tx = Transaction {
            version: 0,
            inputs: vec![TxIn { prev: locked, witness: w }],
            outputs: vec![pay(&b, PC - 10_000)],
        };
        tx.sort_canonical();
        tx
    };
    let early = take(Witness::Any { branch: 0, witness: Box::new(Witness::Empty) });
    assert_eq!(code_of(chain.validate(&early)), "utxo.locked");
    let wrong = take(Witness::Any { branch: 1, witness: Box::new(Witness::Preimage(b"guess".to_vec())) });
    assert_eq!(code_of(chain.validate(&wrong)), "utxo.wrong-preimage");
    let shape = take(Witness::Sig([0; 64]));
    assert_eq!(code_of(chain.validate(&shape)), "utxo.witness-mismatch");
    let right = take(Witness::Any { branch: 1, witness: Box::new(Witness::Preimage(b"secret".to_vec())) });
    chain.validate(&right).unwrap();

    let minted = pc_module_utxo::module_outpoint("faucet", &Hash32([7; 32]), 1);
    assert_eq!(chain.utxo(&minted).unwrap().spendable_from, 40);
    let immature = spend(&g, &b, &[minted], vec![pay(&a, 5 * PC - 10_000)]);
    assert_eq!(code_of(chain.validate(&immature)), "utxo.immature");
    while chain.next < 40 {
        chain.apply(vec![]);
    }
    chain.validate(&immature).unwrap();
    let out = chain.apply(vec![call(&immature), call(&right)]);
    assert_eq!(out.record.dropped, 0);
}

#[test]
fn a_two_of_three_output_needs_two_distinct_listed_signatures() {
    let keys: Vec<Keypair> = (0..3).map(test_key).collect();
    let mut chain = Chain::new(&keys[..1], 10 * PC, false);
    let g = chain.genesis();
    let mut xs: Vec<XOnly> = keys.iter().map(XOnly::of).collect();
    xs.sort();
    let multi = TxOut { value: 5 * PC, predicate: Predicate::Threshold { k: 2, keys: xs.clone() } };
    let fund = spend(&g, &keys[0], &[genesis_outpoint(0)], vec![multi, pay(&keys[0], 5 * PC - 10_000)]);
    chain.apply(vec![call(&fund)]);
    let op = OutPoint {
        tx: fund.txid(),
        index: fund.outputs.iter().position(|o| matches!(o.predicate, Predicate::Threshold { .. })).unwrap() as u32,
    };
    let mut tx = Transaction {
        version: 0,
        inputs: vec![TxIn { prev: op, witness: Witness::Empty }],
        outputs: vec![pay(&keys[1], 5 * PC - 10_000)],
    };
    let msg = sighash(&g, &tx.txid());
    let signer = |x: &XOnly| keys.iter().find(|k| XOnly::of(k) == *x).unwrap();
    let sig = |i: usize| (i as u8, sign_sighash(signer(&xs[i]), &msg));
    tx.inputs[0].witness = Witness::Sigs(vec![sig(0)]);
    assert_eq!(code_of(chain.validate(&tx)), "utxo.bad-signature");
    tx.inputs[0].witness = Witness::Sigs(vec![sig(2), sig(0)]);
    assert_eq!(code_of(chain.validate(&tx)), "utxo.bad-signature");
    tx.inputs[0].witness = Witness::Sigs(vec![sig(0), sig(2)]);
    chain.validate(&tx).unwrap();
    assert_eq!(chain.apply(vec![call(&tx)]).record.dropped, 0);
}

#[test]
fn a_version_one_address_pays_to_a_predicate_revealed_at_spend() {
    let (a, b) = (test_key(0), test_key(1));
    let mut chain = Chain::new(&[a], 10 * PC, false);
    let g = chain.genesis();
    let inner = Predicate::All(vec![Predicate::Key(XOnly::of(&b)), Predicate::After(3)]);
    let addr = Address::for_predicate(&inner);
    let parsed: Address = addr.to_string().parse().unwrap();
    let fund = spend(
        &g,
        &a,
        &[genesis_outpoint(0)],
        vec![TxOut { value: 4 * PC, predicate: parsed.predicate() }, pay(&a, 6 * PC - 10_000)],
    );
    chain.apply(vec![call(&fund)]);
    let op = OutPoint { tx: fund.txid(), index: fund.outputs.iter().position(|o| o.value == 4 * PC).unwrap() as u32 };
    let mut tx = Transaction {
        version: 0,
        inputs: vec![TxIn { prev: op, witness: Witness::Empty }],
        outputs: vec![pay(&b, 4 * PC - 10_000)],
    };
    let sig = sign_sighash(&b, &sighash(&g, &tx.txid()));
    tx.inputs[0].witness = Witness::Reveal {
        predicate: Box::new(inner.clone()),
        witness: Box::new(Witness::All(vec![Witness::Sig(sig), Witness::Empty])),
    };
    assert_eq!(code_of(chain.validate(&tx)), "utxo.locked", "After(3) holds at anchor 2");
    chain.apply(vec![]);
    chain.validate(&tx).unwrap();
    let mut lie = tx.clone();
    lie.inputs[0].witness =
        Witness::Reveal { predicate: Box::new(Predicate::Key(XOnly::of(&b))), witness: Box::new(Witness::Sig(sig)) };
    assert_eq!(code_of(chain.validate(&lie)), "utxo.witness-mismatch");
    assert_eq!(chain.apply(vec![call(&tx)]).record.dropped, 0);
}

/// One randomly generated spend: which known outputs to spend (possibly already spent), into
/// how many outputs, by which key.
#[derive(Debug, Clone)]
struct Plan {
    picks: Vec<usize>,
    splits: u8,
    to: u8,
}

fn plans() -> impl Strategy<Value = Vec<Vec<Plan>>> {
    let plan = (proptest::collection::vec(0usize..64, 1..4), 1u8..4, 0u8..4).prop_map(|(picks, splits, to)| Plan {
        picks,
        splits,
        to,
    });
    proptest::collection::vec(proptest::collection::vec(plan, 0..6), 1..6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]

    /// Across random anchors of random spends (including double spends inside an anchor, spends
    /// of outputs created earlier in the same anchor and of already spent outputs), value is
    /// conserved and no output is ever spent twice; and the prechecked path reaches exactly the
    /// state root, events and drops of the plain sequential one.
    #[test]
    fn value_is_conserved_and_nothing_is_spent_twice(anchors in plans()) {
        let keys: Vec<Keypair> = (0..4).map(test_key).collect();
        let mut chain = Chain::new(&keys, 50 * PC, false);
        let mut reference = Chain::new(&keys, 50 * PC, false);
        reference.sequential = true;
        let g = chain.genesis();
        let issued = chain.totals().issued;
        // Every output ever created, with its owner, in creation order.
        let mut known: Vec<(OutPoint, usize)> = (0..4).map(|i| (genesis_outpoint(i as u32), i)).collect();
        let mut spent_ever: BTreeMap<OutPoint, u64> = BTreeMap::new();
        for anchor in anchors {
            let before = chain.unspent();
            let mut calls = Vec::new();
            for p in &anchor {
                let owner = known[p.picks[0] % known.len()].1;
                let mut ins: Vec<OutPoint> = p.picks.iter().map(|i| known[i % known.len()]).filter(|(_, o)| *o == owner).map(|(op, _)| op).collect();
                ins.sort();
                ins.dedup();
                let total: u64 = ins.iter().map(|op| before.get(op).copied().unwrap_or(PC)).sum();
                let fee = 20_000;
                let n = u64::from(p.splits);
                if total < fee + n * 2_000 { continue; }
                let each = (total - fee) / n;
                let mut outs: Vec<TxOut> = (0..n).map(|_| pay(&keys[usize::from(p.to)], each)).collect();
                outs[0].value += (total - fee) - each * n;
                let tx = spend(&g, &keys[owner], &ins, outs);
                for i in 0..tx.outputs.len() { known.push((OutPoint { tx: tx.txid(), index: i as u32 }, usize::from(p.to))); }
                calls.push(call(&tx));
            }
            let fast = chain.apply(calls.clone());
            let slow = reference.apply(calls);
            prop_assert_eq!(fast.record, slow.record, "prechecked and sequential anchors differ");
            prop_assert_eq!(fast.events, slow.events);
            let after = chain.unspent();
            for op in before.keys().filter(|op| !after.contains_key(op)) {
                prop_assert!(spent_ever.insert(*op, chain.next).is_none(), "{op:?} spent twice");
            }
            for op in after.keys() {
                prop_assert!(!spent_ever.contains_key(op), "a spent output came back");
            }
            let totals = chain.totals();
            // The whole equation; no module locks or holds value here, so those terms stay 0.
            prop_assert_eq!((totals.locked, totals.held, totals.issued), (0, 0, issued));
            prop_assert_eq!(after.values().sum::<u64>() + totals.fees + totals.locked + totals.held, totals.issued);
        }
    }
}
