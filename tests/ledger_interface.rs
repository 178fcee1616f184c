//! The ledger's typed interface (docs/spec/utxo.md, "The ledger interface") from a module
//! outside host/ and utxo: a toy `bonder` locks outputs with the owner's signature over its own message, and unlocks,
//! seizes, takes fees and pays out through `pc_module_utxo::Ledger`, never through storage.
//! After every anchor Σ unspent + fees + locked + held = issued, and the totals match the
//! locked outputs and held balances one by one; nothing is burnt; a locked output cannot be
//! spent; a lock conflicts in the mempool with a pending transfer of it; one module cannot
//! touch another's lock, use a signature made for another module, replay a lock, or pay out
//! more than it holds or earlier than the value it holds matures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pc_codec::{Decode, Domain, Encode, Hash32, hash_encoded};
use pc_integration_tests::{anchor_ctx, test_key, utxo_spec};
use pc_mempool::{Mempool, MempoolConfig, SubmitError};
use pc_module_utxo::{Ledger, LedgerView, authorization_digest, genesis_outpoint, module_outpoint, outpoint_tag};
use pc_runtime::{AnchorInput, CallOutcome, Runtime, RuntimeError};
use pc_runtime_api::{
    AnchorCtx, Call, EventSink, Module, ModuleDescriptor, ModuleError, ModuleState, ModuleView, Validity,
    register_module,
};
use pc_state::StateDb;
use pc_utxo_tx::{Keypair, OutPoint, Predicate, TxOut, Witness, XOnly, sign_sighash, signed_transfer};
use std::sync::Arc;

const PC: u64 = 100_000_000;
const LOCK_MSG: Domain = Domain::new("phantomcoin/v1/test/bonder-lock");

#[derive(Debug, Clone, Encode, Decode)]
enum BondCall {
    Lock {
        lock: Hash32,
        inputs: Vec<(OutPoint, Witness)>,
    },
    Unlock {
        lock: Hash32,
        ops: Vec<OutPoint>,
    },
    Seize {
        lock: Hash32,
        ops: Vec<OutPoint>,
    },
    TakeFees {
        amount: u64,
    },
    PayOut {
        to: [u8; 32],
        value: u64,
        nonce: u32,
    },
    /// Held value back under `lock` at the bonder's outpoint (PAY_ID, nonce).
    Relock {
        lock: Hash32,
        to: [u8; 32],
        value: u64,
        nonce: u32,
    },
    /// Held value handed to module `to`.
    MoveHeld {
        to: String,
        amount: u64,
    },
    /// New value spendable from `spendable_from` (what mint-pow does for its rewards).
    Issue {
        to: [u8; 32],
        value: u64,
        nonce: u32,
        spendable_from: u64,
    },
}

/// The ids the toy bonder pays out and issues under.
const PAY_ID: Hash32 = Hash32([0xb0; 32]);
const ISSUE_ID: Hash32 = Hash32([0xa0; 32]);

/// The bonder's own part of what a lock's owners sign (the ledger adds the chain, the module,
/// the lock id and the outputs): here only its domain.
fn lock_msg() -> [u8; 32] {
    hash_encoded(LOCK_MSG, &()).0
}

struct Bonder;

impl Module for Bonder {
    fn validate(&self, call: &[u8], view: &ModuleView<'_>) -> Result<Validity, ModuleError> {
        let c = BondCall::decode(&mut &call[..]).map_err(|e| ModuleError::invalid("bonder.decode", e.to_string()))?;
        let mut v = Validity { priority: 1, ..Validity::default() };
        if let BondCall::Lock { lock, inputs } = &c {
            let ledger = LedgerView::open(view)?;
            ledger.authorize(inputs, lock, &lock_msg(), view.next_anchor())?;
            v.requires = inputs.iter().map(|(op, _)| outpoint_tag(op)).collect();
        }
        Ok(v)
    }

    fn apply(
        &self,
        ctx: &AnchorCtx,
        call: &[u8],
        state: &mut ModuleState<'_>,
        _e: &mut EventSink<'_>,
    ) -> Result<(), ModuleError> {
        let c = BondCall::decode(&mut &call[..]).map_err(|e| ModuleError::invalid("bonder.decode", e.to_string()))?;
        let mut ledger = Ledger::open(state)?;
        match c {
            BondCall::Lock { lock, inputs } => ledger.lock(&inputs, lock, &lock_msg(), ctx.index).map(drop),
            BondCall::Unlock { lock, ops } => ledger.unlock(&ops, lock).map(drop),
            BondCall::Seize { lock, ops } => ledger.seize(&ops, lock).map(drop),
            BondCall::TakeFees { amount } => ledger.take_fees(amount),
            BondCall::PayOut { to, value, nonce } => {
                let out = TxOut { value, predicate: Predicate::Key(XOnly(to)) };
                ledger.pay_out(&PAY_ID, nonce, out, ctx.index, ctx.index + 5).map(drop)
            }
            BondCall::Relock { lock, to, value, nonce } => {
                let out = TxOut { value, predicate: Predicate::Key(XOnly(to)) };
                ledger.relock_held(&PAY_ID, nonce, out, ctx.index, lock).map(drop)
            }
            BondCall::MoveHeld { to, amount } => ledger.move_held(&to, amount),
            BondCall::Issue { to, value, nonce, spendable_from } => {
                let out = TxOut { value, predicate: Predicate::Key(XOnly(to)) };
                ledger.issue(&ISSUE_ID, nonce, out, ctx.index, spendable_from).map(drop)
            }
        }
    }
}

register_module!(ModuleDescriptor {
    name: "bonder",
    feature: "test-only",
    order: 300,
    depends_on: &["utxo"],
    build: |_| Ok(Box::new(Bonder)),
});
register_module!(ModuleDescriptor {
    name: "bonder-b",
    feature: "test-only",
    order: 301,
    depends_on: &["utxo"],
    build: |_| Ok(Box::new(Bonder)),
});

struct Chain {
    rt: Runtime,
    db: StateDb,
    next: u64,
}

impl Chain {
    fn new(keys: &[Keypair]) -> Chain {
        let mut spec = utxo_spec(keys, 10 * PC);
        spec.modules.insert("bonder".into(), serde_json::json!({}));
        spec.modules.insert("bonder-b".into(), serde_json::json!({}));
        let rt = Runtime::new(spec).unwrap();
        let db = StateDb::new(Arc::new(pc_store::MemStore::new()));
        rt.init_genesis(&db).unwrap();
        Chain { rt, db, next: 1 }
    }

    /// Applies an anchor and checks the supply equation after it; returns each call's code
    /// (`None`: applied).
    fn apply(&mut self, calls: Vec<Call>) -> Vec<Option<String>> {
        let out = self.rt.apply_anchor(&self.db, &AnchorInput { ctx: anchor_ctx(self.next), calls }).unwrap();
        self.next += 1;
        self.check_supply();
        out.keys
            .iter()
            .map(|k| match Runtime::call_record(&self.db, k).unwrap().unwrap().outcome {
                CallOutcome::Applied => None,
                CallOutcome::Dropped { code, .. } => Some(code),
            })
            .collect()
    }

    fn view<T>(&self, f: impl FnOnce(&LedgerView<'_>) -> T) -> T {
        self.rt.with_view(&self.db, "utxo", |v| f(&LedgerView::open(v).unwrap())).unwrap()
    }

    fn check_supply(&self) {
        self.view(|l| {
            let t = l.totals().unwrap();
            let unspent: u64 = l.outputs(None, usize::MAX).unwrap().iter().map(|(_, u)| u.out.value).sum();
            let held = l.held("bonder").unwrap().value + l.held("bonder-b").unwrap().value;
            assert_eq!(held, t.held, "held balances add up");
            let locked: u64 = l.locked_outputs(None, usize::MAX).unwrap().iter().map(|(_, o)| o.utxo.out.value).sum();
            assert_eq!(locked, t.locked, "locked outputs add up");
            assert_eq!(unspent + t.fees + t.locked + t.held, t.issued, "supply equation: {t:?}, unspent {unspent}");
        });
    }
}

fn bond(module: &str, c: &BondCall) -> Call {
    Call { module: module.into(), data: c.encode() }
}

/// A lock call for module `bonder`, signed by `signer`.
fn lock_call(chain: &Chain, signer: &Keypair, lock: Hash32, ops: &[OutPoint]) -> BondCall {
    lock_call_for(chain, "bonder", signer, lock, ops)
}

fn lock_call_for(chain: &Chain, module: &str, signer: &Keypair, lock: Hash32, ops: &[OutPoint]) -> BondCall {
    let g = chain.rt.genesis_hash();
    let digest = authorization_digest(&g, module, &lock, ops, &lock_msg());
    let inputs = ops.iter().map(|op| (*op, Witness::Sig(sign_sighash(signer, &digest)))).collect();
    BondCall::Lock { lock, inputs }
}

fn code(r: Result<Validity, RuntimeError>) -> String {
    match r {
        Err(RuntimeError::InvalidCall(ModuleError::Invalid { code, .. })) => code.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_locked_output_cannot_be_spent_and_comes_back_unchanged_when_unlocked() {
    let (a, b) = (test_key(0), test_key(1));
    let mut chain = Chain::new(&[a]);
    let g = chain.rt.genesis_hash();
    let op = genesis_outpoint(0);
    let before = chain.view(|l| l.output(&op).unwrap().unwrap());
    let lock = Hash32([1; 32]);

    assert_eq!(chain.apply(vec![bond("bonder", &lock_call(&chain, &a, lock, &[op]))]), [None]);
    chain.view(|l| {
        assert!(l.output(&op).unwrap().is_none(), "a locked output is not spendable");
        let held = l.locked(&op).unwrap().unwrap();
        assert_eq!((held.owner.as_str(), held.lock, &held.utxo), ("bonder", lock, &before));
        assert_eq!(l.totals().unwrap().locked, 10 * PC);
    });
    let transfer = signed_transfer(&g, &a, &[op], vec![TxOut { value: PC, predicate: Predicate::Key(XOnly::of(&b)) }]);
    let transfer = Call { module: "utxo".into(), data: transfer.encode() };
    assert_eq!(code(chain.rt.validate_call(&chain.db, &transfer)), "utxo.output-locked");
    assert_eq!(chain.apply(vec![transfer.clone()]), [Some("utxo.output-locked".to_string())]);

    // Only its owner, under its lock id, unlocks it.
    let unlock = BondCall::Unlock { lock, ops: vec![op] };
    let wrong = BondCall::Unlock { lock: Hash32([2; 32]), ops: vec![op] };
    assert_eq!(
        chain.apply(vec![bond("bonder-b", &unlock), bond("bonder", &wrong)]),
        [Some("utxo.not-locked".to_string()), Some("utxo.not-locked".to_string())]
    );
    assert_eq!(chain.apply(vec![bond("bonder", &unlock)]), [None]);
    assert_eq!(chain.view(|l| l.output(&op).unwrap()), Some(before), "same value, predicate and maturity");
    assert_eq!(chain.view(|l| l.totals().unwrap().locked), 0);
    chain.rt.validate_call(&chain.db, &transfer).unwrap();

    // The same signed lock, replayed after the unlock, is refused: a lock id is used once.
    let replay = bond("bonder", &lock_call(&chain, &a, lock, &[op]));
    let used = chain.rt.with_view(&chain.db, "bonder", |v| LedgerView::open(v).unwrap().lock_used(&lock).unwrap());
    assert!(used.unwrap(), "the bonder's lock id is spent");
    assert_eq!(code(chain.rt.validate_call(&chain.db, &replay)), "utxo.lock-reused");
    // Past admission (a byte-identical copy keeps its first record, so read the state).
    chain.apply(vec![replay]);
    chain.view(|l| assert!(l.output(&op).unwrap().is_some(), "the replay changed nothing"));
    // A new call under the used id, for another output, is refused by the ledger in apply.
    let c = BondCall::Issue { to: XOnly::of(&a).0, value: PC, nonce: 0, spendable_from: 0 };
    assert_eq!(chain.apply(vec![bond("bonder", &c)]), [None]);
    let other = module_outpoint("bonder", &ISSUE_ID, 0);
    assert_eq!(
        chain.apply(vec![bond("bonder", &lock_call(&chain, &a, lock, &[other]))]),
        [Some("utxo.lock-reused".to_string())]
    );
}

#[test]
fn a_module_issues_only_at_its_own_outpoints_each_once_and_within_the_cap() {
    let a = test_key(0);
    let mut chain = Chain::new(&[a]);
    let to = XOnly::of(&a).0;
    let issue = |value, nonce| bond("bonder", &BondCall::Issue { to, value, nonce, spendable_from: 0 });
    assert_eq!(chain.apply(vec![issue(PC, 0)]), [None]);
    let x = module_outpoint("bonder", &ISSUE_ID, 0);
    chain.view(|l| assert_eq!(l.output(&x).unwrap().map(|u| u.out.value), Some(PC)));
    // Another module with the same id gets another outpoint.
    assert_eq!(
        chain.apply(vec![bond("bonder-b", &BondCall::Issue { to, value: PC, nonce: 0, spendable_from: 0 })]),
        [None]
    );
    assert!(chain.view(|l| l.output(&module_outpoint("bonder-b", &ISSUE_ID, 0)).unwrap()).is_some());
    // The same outpoint again, while unspent and while locked: refused. (Other values, so that
    // each call is new: a byte-identical copy would only repeat the first call's record.)
    assert_eq!(chain.apply(vec![issue(2 * PC, 0)]), [Some("utxo.duplicate-output".to_string())]);
    assert_eq!(chain.apply(vec![bond("bonder", &lock_call(&chain, &a, Hash32([5; 32]), &[x]))]), [None]);
    assert_eq!(chain.apply(vec![issue(3 * PC, 0)]), [Some("utxo.duplicate-output".to_string())]);
    // Nothing of 0 units; nothing past the cap, whichever module asks.
    assert_eq!(chain.apply(vec![issue(0, 1)]), [Some("utxo.shape".to_string())]);
    let cap = chain.view(|l| l.supply_cap().unwrap());
    assert_eq!(chain.apply(vec![issue(cap, 2)]), [Some("utxo.supply-cap".to_string())]);
    chain.view(|l| assert_eq!(l.totals().unwrap().issued, 10 * PC + 2 * PC));
}

#[test]
fn a_failed_unlock_or_seize_changes_nothing() {
    let (a, b) = (test_key(0), test_key(1));
    let mut chain = Chain::new(&[a, b]);
    let (op_a, op_b) = (genesis_outpoint(0), genesis_outpoint(1));
    let (la, lb) = (Hash32([1; 32]), Hash32([2; 32]));
    assert_eq!(
        chain.apply(vec![
            bond("bonder", &lock_call(&chain, &a, la, &[op_a])),
            bond("bonder", &lock_call(&chain, &b, lb, &[op_b])),
        ]),
        [None, None]
    );
    // The first output is under the lock, the second is not: all or nothing.
    for c in [BondCall::Unlock { lock: la, ops: vec![op_a, op_b] }, BondCall::Seize { lock: la, ops: vec![op_a, op_b] }]
    {
        assert_eq!(chain.apply(vec![bond("bonder", &c)]), [Some("utxo.not-locked".to_string())]);
    }
    // An output named twice is refused too, rather than counted twice.
    let twice = BondCall::Seize { lock: la, ops: vec![op_a, op_a] };
    assert_eq!(chain.apply(vec![bond("bonder", &twice)]), [Some("utxo.not-locked".to_string())]);
    chain.view(|l| {
        assert_eq!(l.locked(&op_a).unwrap().map(|o| o.lock), Some(la));
        assert_eq!(l.totals().unwrap().locked, 20 * PC);
        assert_eq!(l.held("bonder").unwrap().value, 0);
    });
}

#[test]
fn a_signature_that_authorizes_one_module_does_not_authorize_another() {
    let a = test_key(0);
    let mut chain = Chain::new(&[a]);
    let op = genesis_outpoint(0);
    let lock = Hash32([1; 32]);
    // Signed for `bonder`, sent to `bonder-b` (same message format, same lock id).
    let for_a = lock_call_for(&chain, "bonder", &a, lock, &[op]);
    assert_eq!(code(chain.rt.validate_call(&chain.db, &bond("bonder-b", &for_a))), "utxo.bad-signature");
    assert_eq!(chain.apply(vec![bond("bonder-b", &for_a)]), [Some("utxo.bad-signature".to_string())]);
    assert_eq!(chain.apply(vec![bond("bonder-b", &lock_call_for(&chain, "bonder-b", &a, lock, &[op]))]), [None]);
}

#[test]
fn a_lock_needs_the_owners_signature_over_the_lockers_own_message() {
    let (a, b) = (test_key(0), test_key(1));
    let chain = Chain::new(&[a, b]);
    let g = chain.rt.genesis_hash();
    let (op_a, op_b) = (genesis_outpoint(0), genesis_outpoint(1));
    let lock = Hash32([1; 32]);
    // b's key cannot lock a's output.
    assert_eq!(
        code(chain.rt.validate_call(&chain.db, &bond("bonder", &lock_call(&chain, &b, lock, &[op_a])))),
        "utxo.bad-signature"
    );
    // a transaction's signature does not authorize a lock of the same output.
    let tx = signed_transfer(&g, &a, &[op_a], vec![TxOut { value: PC, predicate: Predicate::Key(XOnly::of(&b)) }]);
    let replayed = BondCall::Lock { lock, inputs: vec![(op_a, tx.inputs[0].witness.clone())] };
    assert_eq!(code(chain.rt.validate_call(&chain.db, &bond("bonder", &replayed))), "utxo.bad-signature");
    // An output named twice, or one that does not exist.
    let twice = lock_call(&chain, &a, lock, &[op_a, op_a]);
    assert_eq!(code(chain.rt.validate_call(&chain.db, &bond("bonder", &twice))), "utxo.double-spend");
    let missing = OutPoint { tx: Hash32([9; 32]), index: 0 };
    assert_eq!(
        code(chain.rt.validate_call(&chain.db, &bond("bonder", &lock_call(&chain, &a, lock, &[missing])))),
        "utxo.unknown-input"
    );
    chain.rt.validate_call(&chain.db, &bond("bonder", &lock_call(&chain, &b, lock, &[op_b]))).unwrap();
}

#[test]
fn seized_value_is_held_and_paid_out_never_burnt() {
    let (a, b) = (test_key(0), test_key(1));
    let mut chain = Chain::new(&[a, b]);
    let g = chain.rt.genesis_hash();
    let lock = Hash32([3; 32]);
    let op = genesis_outpoint(0);
    // b pays a fee, so the ledger has collected fees to hand over.
    let tx = signed_transfer(
        &g,
        &b,
        &[genesis_outpoint(1)],
        vec![TxOut { value: 10 * PC - 50_000, predicate: Predicate::Key(XOnly::of(&b)) }],
    );
    let fee_tx = Call { module: "utxo".into(), data: tx.encode() };
    assert_eq!(chain.apply(vec![bond("bonder", &lock_call(&chain, &a, lock, &[op])), fee_tx]), [None, None]);

    let seize = BondCall::Seize { lock, ops: vec![op] };
    assert_eq!(chain.apply(vec![bond("bonder-b", &seize)]), [Some("utxo.not-locked".to_string())], "not its lock");
    assert_eq!(
        chain.apply(vec![bond("bonder", &seize), bond("bonder", &BondCall::TakeFees { amount: 60_000 })]),
        [None, Some("utxo.insufficient".to_string())]
    );
    assert_eq!(chain.apply(vec![bond("bonder", &BondCall::TakeFees { amount: 50_000 })]), [None]);
    chain.view(|l| {
        let t = l.totals().unwrap();
        assert_eq!((t.locked, t.held, t.fees), (0, 10 * PC + 50_000, 0));
        assert_eq!(l.held("bonder").unwrap().value, 10 * PC + 50_000);
    });

    let to = XOnly::of(&b).0;
    let pay = |value, nonce| bond("bonder", &BondCall::PayOut { to, value, nonce });
    let b_pays = bond("bonder-b", &BondCall::PayOut { to, value: 1, nonce: 9 });
    assert_eq!(
        chain.apply(vec![pay(6 * PC, 0), pay(5 * PC, 1), b_pays, pay(1, 0), pay(4 * PC + 50_000, 2)]),
        [
            None,
            Some("utxo.insufficient".to_string()),
            Some("utxo.insufficient".to_string()),
            Some("utxo.duplicate-output".to_string()),
            None
        ],
        "beyond the balance, from another module's balance, or at an outpoint paid before: refused"
    );
    chain.view(|l| {
        assert_eq!(l.held("bonder").unwrap().value, 0);
        assert_eq!(l.totals().unwrap().held, 0);
        let paid = l.output(&module_outpoint("bonder", &PAY_ID, 0)).unwrap().unwrap();
        assert_eq!((paid.out.value, paid.spendable_from), (6 * PC, chain.next - 1 + 5), "the maturity the payer gave");
    });
    assert_eq!(chain.apply(vec![pay(0, 3)]), [Some("utxo.shape".to_string())], "no output of 0 units");
}

#[test]
fn a_payout_of_seized_immature_value_keeps_its_maturity() {
    let a = test_key(0);
    let mut chain = Chain::new(&[a]);
    let to = XOnly::of(&a).0;
    let mint = module_outpoint("bonder", &ISSUE_ID, 0);
    let issue = BondCall::Issue { to, value: 3 * PC, nonce: 0, spendable_from: 1_000 };
    assert_eq!(chain.apply(vec![bond("bonder", &issue)]), [None]);
    let lock = Hash32([4; 32]);
    // An immature mint may be locked (a bond), and seized with its maturity.
    assert_eq!(chain.apply(vec![bond("bonder", &lock_call(&chain, &a, lock, &[mint]))]), [None]);
    assert_eq!(chain.apply(vec![bond("bonder", &BondCall::Seize { lock, ops: vec![mint] })]), [None]);
    assert_eq!(chain.view(|l| l.held("bonder").unwrap()).mature_from, 1_000);
    let pay = |value, nonce| bond("bonder", &BondCall::PayOut { to, value, nonce });
    assert_eq!(chain.apply(vec![pay(PC, 0), pay(2 * PC, 1)]), [None, None]);
    chain.view(|l| {
        for i in 0..2 {
            let paid = l.output(&module_outpoint("bonder", &PAY_ID, i)).unwrap().unwrap();
            assert_eq!(paid.spendable_from, 1_000, "a payout is not spendable before the seized mint");
        }
        assert_eq!(l.held("bonder").unwrap(), pc_module_utxo::Held::default(), "an empty balance forgets its maturity");
    });
}

#[test]
fn a_lock_conflicts_in_the_mempool_with_a_pending_transfer_of_the_same_output() {
    let (a, b) = (test_key(0), test_key(1));
    let chain = Chain::new(&[a]);
    let g = chain.rt.genesis_hash();
    let op = genesis_outpoint(0);
    let pool = Mempool::new(MempoolConfig::default());
    let tx = signed_transfer(&g, &a, &[op], vec![TxOut { value: 9 * PC, predicate: Predicate::Key(XOnly::of(&b)) }]);
    pool.submit(&chain.rt, &chain.db, Call { module: "utxo".into(), data: tx.encode() }).unwrap();
    match pool.submit(&chain.rt, &chain.db, bond("bonder", &lock_call(&chain, &a, Hash32([1; 32]), &[op]))) {
        Err(SubmitError::Conflict { with }) => assert_eq!(with, tx.txid()),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// A partial slash: the whole bond is seized, the rest goes back under the same lock with the
/// bond's maturity, the slashed part is handed to another module, which pays it out; every step
/// keeps the supply equation, and each refusal changes nothing.
#[test]
fn held_value_goes_back_under_its_lock_or_to_another_module_with_its_maturity() {
    let a = test_key(0);
    let mut chain = Chain::new(&[a]);
    let to = XOnly::of(&a).0;
    let mint = module_outpoint("bonder", &ISSUE_ID, 0);
    let issue = BondCall::Issue { to, value: 4 * PC, nonce: 0, spendable_from: 500 };
    assert_eq!(chain.apply(vec![bond("bonder", &issue)]), [None]);
    let lock = Hash32([6; 32]);
    assert_eq!(chain.apply(vec![bond("bonder", &lock_call(&chain, &a, lock, &[mint]))]), [None]);
    assert_eq!(chain.apply(vec![bond("bonder", &BondCall::Seize { lock, ops: vec![mint] })]), [None]);

    // Refusals first: more than held, a lock id never used, 0 units; nothing moves.
    let relock = |lock, value, nonce| bond("bonder", &BondCall::Relock { lock, to, value, nonce });
    let before = chain.view(|l| (l.totals().unwrap(), l.held("bonder").unwrap()));
    assert_eq!(chain.apply(vec![relock(lock, 5 * PC, 0)]), [Some("utxo.insufficient".into())]);
    assert_eq!(chain.apply(vec![relock(Hash32([9; 32]), PC, 0)]), [Some("utxo.not-locked".into())]);
    assert_eq!(chain.apply(vec![relock(lock, 0, 0)]), [Some("utxo.shape".into())]);
    let give = |to: &str, amount| bond("bonder", &BondCall::MoveHeld { to: to.into(), amount });
    assert_eq!(chain.apply(vec![give("bonder-b", 5 * PC)]), [Some("utxo.insufficient".into())]);
    assert_eq!(chain.view(|l| (l.totals().unwrap(), l.held("bonder").unwrap())), before);

    // Half back under the lock, half to bonder-b; both keep the mint's maturity.
    assert_eq!(chain.apply(vec![relock(lock, 2 * PC, 0), give("bonder-b", 2 * PC)]), [None, None]);
    let back = module_outpoint("bonder", &PAY_ID, 0);
    chain.view(|l| {
        let locked = l.locked(&back).unwrap().unwrap();
        assert_eq!((locked.lock, locked.utxo.out.value, locked.utxo.spendable_from), (lock, 2 * PC, 500));
        assert_eq!(l.held("bonder").unwrap(), pc_module_utxo::Held::default());
        assert_eq!(l.held("bonder-b").unwrap(), pc_module_utxo::Held { value: 2 * PC, mature_from: 500 });
    });
    assert_eq!(chain.apply(vec![relock(lock, PC, 0)]), [Some("utxo.insufficient".into())]);
    // The relocked output unlocks like any locked output; bonder-b pays out at the maturity.
    assert_eq!(chain.apply(vec![bond("bonder", &BondCall::Unlock { lock, ops: vec![back] })]), [None]);
    assert_eq!(chain.view(|l| l.output(&back).unwrap().unwrap().spendable_from), 500);
    let pay = bond("bonder-b", &BondCall::PayOut { to, value: 2 * PC, nonce: 0 });
    assert_eq!(chain.apply(vec![pay]), [None]);
    let paid = chain.view(|l| l.output(&module_outpoint("bonder-b", &PAY_ID, 0)).unwrap().unwrap());
    assert_eq!(paid.spendable_from, 500);
}
