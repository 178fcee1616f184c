//! Mint-pow through the real runtime: the emission curve against the cap, retargets, and a
//! mined output that is immature, then spendable, with a distinct error for each bad mint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pc_chainspec::{ChainSpec, DEV_JSON};
use pc_codec::{Encode, Hash32};
use pc_integration_tests::{anchor_ctx, test_key};
use pc_module_mint_pow::{MINTS, MintConfig, MintHeader, TARGET, TIP, base_reward, curve_total, retarget, tier_reward};
use pc_module_utxo::LedgerView;
use pc_runtime::{AnchorInput, CallDropped, Runtime};
use pc_runtime_api::Call;
use pc_state::StateDb;
use pc_utxo_tx::{Address, Predicate, Transaction, TxIn, TxOut, Witness, XOnly, sign_single_key};
use std::sync::Arc;

const CAP: u64 = 5_000_000_000_000_000;

#[test]
fn the_whole_emission_curve_stays_below_the_cap_exactly() {
    for name in ["dev", "testnet-0", "testnet-1"] {
        let spec = ChainSpec::load(name).unwrap();
        let Some(c) = spec.modules.get("mint-pow").map(|s| pc_runtime_api::parse_config::<MintConfig>(s).unwrap())
        else {
            continue;
        };
        let (total, cap) = (curve_total(c.initial_mint_reward, c.halving_mints), spec.constants.supply_cap);
        assert!(total <= u128::from(cap), "{name}: curve {total} > cap {cap}");
    }
    // The plan's numbers: 50 PC halving every 250,000 mints sums to just under 25,000,000 PC.
    let total = curve_total(5_000_000_000, 250_000);
    assert_eq!(total, (0..64).map(|e| 250_000u128 * u128::from(5_000_000_000u64 >> e)).sum::<u128>());
    assert!(total < u128::from(CAP));
    // The largest constants the chainspec accepts (2·R·H ≤ cap) never pass the cap either.
    let (r, h) = (CAP / 2 / 1_000_000, 1_000_000);
    assert!(curve_total(r, h) <= u128::from(CAP));
}

#[test]
fn a_mint_section_breaking_a_rule_is_refused_with_its_field() {
    let dev = ChainSpec::from_json(DEV_JSON).unwrap();
    let section = dev.modules["mint-pow"].clone();
    let cap = dev.constants.supply_cap;
    let cases: [(&str, serde_json::Value, &str); 9] = [
        ("anchors_per_mint", 0.into(), "anchors_per_mint"),
        ("initial_target", serde_json::json!("ff".repeat(32)), "initial_target"),
        ("maturity_tiers", serde_json::json!([]), "maturity_tiers"),
        ("maturity_tiers", serde_json::json!([5, 5]), "maturity_tiers"),
        ("maturity_tiers", serde_json::json!((0..257).collect::<Vec<u64>>()), "maturity_tiers"),
        ("difficulty_retarget", 0.into(), "difficulty_retarget"),
        ("initial_mint_reward", 0.into(), "initial_mint_reward"),
        ("initial_mint_reward", (cap + 1).into(), "initial_mint_reward"),
        ("halving_mints", 0.into(), "halving_mints"),
    ];
    for (key, bad, field) in cases {
        let mut s = section.clone();
        s[key] = bad;
        let c: MintConfig = pc_runtime_api::parse_config(&s).unwrap();
        match c.validate(cap) {
            Err(pc_runtime_api::ModuleError::Config { field: f, .. }) => assert_eq!(f, field, "{key}"),
            other => panic!("{key}: expected a refusal, got {other:?}"),
        }
    }
    // The series bound against the cap, and a field the section does not know.
    let mut s = section.clone();
    s["halving_mints"] = (cap / 2).into();
    let c: MintConfig = pc_runtime_api::parse_config(&s).unwrap();
    assert!(
        matches!(c.validate(cap), Err(pc_runtime_api::ModuleError::Config { field, .. }) if field == "halving_mints")
    );
    let mut s = section;
    s["supply_cap"] = 1.into();
    assert!(pc_runtime_api::parse_config::<MintConfig>(&s).is_err(), "the cap is the host's, not the section's");
}

#[test]
fn halving_and_tiers_at_their_edges() {
    assert_eq!(base_reward(100, 10, 0), 0);
    assert_eq!(base_reward(100, 10, 1), 100);
    assert_eq!(base_reward(100, 10, 10), 100);
    assert_eq!(base_reward(100, 10, 11), 50);
    assert_eq!(base_reward(u64::MAX, 1, 64), 1);
    assert_eq!(base_reward(u64::MAX, 1, 65), 0);
    assert_eq!((tier_reward(90, 0, 3), tier_reward(90, 1, 3), tier_reward(90, 2, 3)), (30, 60, 90));
    assert_eq!(tier_reward(90, 3, 3), 0);
}

#[test]
fn retargets_follow_the_mint_rate_within_a_factor_of_four() {
    let mut t = [0u8; 32];
    t[1] = 0x10; // 2^244
    let limit = [0x0f; 32];
    let at = |v: [u8; 32]| v[1];
    assert_eq!(at(retarget(t, 5, 10, limit)), 0x08, "twice the mints: half the target");
    assert_eq!(at(retarget(t, 10, 5, limit)), 0x20, "half the mints: twice the target");
    assert_eq!(at(retarget(t, 100, 1, limit)), 0x40, "at most 4× easier");
    assert_eq!(at(retarget(t, 1, 100, limit)), 0x04, "at most 4× harder");
    assert_eq!(at(retarget(t, 5, 0, limit)), 0x40, "no mints: 4× easier");
    assert_eq!(retarget([0xff; 32], 5, 0, limit), limit, "never easier than the limit");
}

struct Chain {
    rt: Runtime,
    db: StateDb,
    next: u64,
}

fn dev_mint_spec(alloc_to: &pc_utxo_tx::Keypair) -> ChainSpec {
    let mut spec = ChainSpec::from_json(DEV_JSON).unwrap();
    // The modules this test binary links: genesis, utxo, mint-pow.
    spec.modules.retain(|name, _| ["genesis", "utxo", "mint-pow"].contains(&name.as_str()));
    let addr = Address::Key(XOnly::of(alloc_to)).to_string();
    spec.modules
        .insert("utxo".into(), serde_json::json!({ "allocations": [{ "address": addr, "value": 100_000_000u64 }] }));
    spec
}

impl Chain {
    fn new() -> Chain {
        let rt = Runtime::new(dev_mint_spec(&test_key(9))).unwrap();
        let db = StateDb::new(Arc::new(pc_store::MemStore::new()));
        rt.init_genesis(&db).unwrap();
        Chain { rt, db, next: 1 }
    }

    fn apply(&mut self, calls: Vec<Call>) -> pc_runtime::AnchorOutcome {
        let out = self.rt.apply_anchor(&self.db, &AnchorInput { ctx: anchor_ctx(self.next), calls }).unwrap();
        self.next += 1;
        out
    }

    /// A solved header for the current tip paying `to` at `tier`.
    fn mine(&self, to: &pc_utxo_tx::Keypair, tier: u8) -> MintHeader {
        let (tip, target) = self
            .rt
            .with_view(&self.db, "mint-pow", |v| (TIP.get(v).unwrap().unwrap(), TARGET.get(v).unwrap().unwrap()))
            .unwrap();
        let mut h = MintHeader {
            version: 0,
            genesis: self.rt.genesis_hash(),
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
        h
    }

    fn validate(&self, h: &MintHeader) -> Result<(), String> {
        self.rt.validate_call(&self.db, &mint_call(h)).map(|_| ()).map_err(|e| e.to_string())
    }
}

fn mint_call(h: &MintHeader) -> Call {
    Call { module: "mint-pow".into(), data: h.encode() }
}

fn code(r: Result<(), String>) -> String {
    r.expect_err("must be refused").split(':').nth(1).unwrap_or_default().trim().to_string()
}

fn mint_config(chain: &Chain) -> MintConfig {
    pc_runtime_api::parse_config(&chain.rt.spec().modules["mint-pow"]).unwrap()
}

#[test]
fn a_mined_output_matures_at_its_tier_and_then_spends() {
    let miner = test_key(1);
    let mut chain = Chain::new();
    let config = mint_config(&chain);
    let h = chain.mine(&miner, 0);
    chain.validate(&h).unwrap();
    let out = chain.apply(vec![mint_call(&h)]);
    assert_eq!(out.record.dropped, 0);
    let id = h.id();
    let rec = chain.rt.with_view(&chain.db, "mint-pow", |v| MINTS.get(v, &id).unwrap().unwrap()).unwrap();
    let tiers = &config.maturity_tiers;
    assert_eq!(rec.spendable_from, 1 + tiers[0]);
    let base = base_reward(config.initial_mint_reward, config.halving_mints, 1);
    assert_eq!(rec.reward, base / tiers.len() as u64, "tier 0 pays a third");
    let op = pc_module_utxo::module_outpoint("mint-pow", &id, 0);
    let utxo =
        chain.rt.with_view(&chain.db, "utxo", |v| LedgerView::open(v).unwrap().output(&op).unwrap().unwrap()).unwrap();
    assert_eq!((utxo.out.value, utxo.spendable_from), (rec.reward, rec.spendable_from));
    let issued =
        chain.rt.with_view(&chain.db, "utxo", |v| LedgerView::open(v).unwrap().totals().unwrap()).unwrap().issued;
    assert_eq!(issued, 100_000_000 + rec.reward);

    // The same tip again: stale. Bad target, bad proof, other chain, missing tier: each its code.
    assert_eq!(code(chain.validate(&h)), "mint.stale");
    let next = chain.mine(&miner, 2);
    let mut wrong = next.clone();
    wrong.target = [0xff; 32];
    assert_eq!(code(chain.validate(&wrong)), "mint.target");
    let mut weak = next.clone();
    while weak.meets_target() {
        weak.nonce += 1;
    }
    assert_eq!(code(chain.validate(&weak)), "mint.pow");
    let mut other = next.clone();
    other.genesis = Hash32([1; 32]);
    assert_eq!(code(chain.validate(&other)), "mint.network");
    let mut tier = next.clone();
    tier.tier = 9;
    assert_eq!(code(chain.validate(&tier)), "mint.tier");

    // Two solutions on one tip in one anchor: the first wins, the second is dropped as stale.
    let rival = {
        let mut r = next.clone();
        r.payout = Address::Key(XOnly::of(&test_key(2))).to_bytes();
        r.nonce = 0;
        while !r.meets_target() {
            r.nonce += 1;
        }
        r
    };
    let out = chain.apply(vec![mint_call(&next), mint_call(&rival)]);
    assert_eq!(out.record.dropped, 1);
    let drop = out.events.iter().find(|e| e.name == "CallDropped").unwrap();
    let d: CallDropped = pc_codec::decode_canonical(&drop.data, 4096).unwrap();
    assert_eq!((d.call_id, d.code.as_str()), (rival.id(), "mint.stale"));

    // Spending the first mint before its tier: immature; after: fine.
    let mut spend = Transaction {
        version: 0,
        inputs: vec![TxIn { prev: op, witness: Witness::Empty }],
        outputs: vec![TxOut { value: rec.reward - 10_000, predicate: Predicate::Key(XOnly::of(&test_key(3))) }],
    };
    sign_single_key(&mut spend, &chain.rt.genesis_hash(), &miner);
    let call = Call { module: "utxo".into(), data: spend.encode() };
    let err = chain.rt.validate_call(&chain.db, &call).unwrap_err().to_string();
    assert!(err.contains("utxo.immature"), "{err}");
    while chain.next < rec.spendable_from {
        chain.apply(vec![]);
    }
    chain.rt.validate_call(&chain.db, &call).unwrap();
    assert_eq!(chain.apply(vec![call]).record.dropped, 0);
}

#[test]
fn difficulty_retargets_on_the_anchor_window() {
    let mut chain = Chain::new();
    let window = mint_config(&chain).difficulty_retarget;
    let start = chain.rt.with_view(&chain.db, "mint-pow", |v| TARGET.get(v).unwrap().unwrap()).unwrap();
    // A mint in every anchor: more than one per `anchors_per_mint`, so the target tightens.
    while chain.next <= window {
        let h = chain.mine(&test_key(1), 2);
        chain.apply(vec![mint_call(&h)]);
    }
    let after = chain.rt.with_view(&chain.db, "mint-pow", |v| TARGET.get(v).unwrap().unwrap()).unwrap();
    assert!(after < start, "target must get harder");
    // A window without mints relaxes it again (capped at the limit).
    while chain.next <= 2 * window {
        chain.apply(vec![]);
    }
    let relaxed = chain.rt.with_view(&chain.db, "mint-pow", |v| TARGET.get(v).unwrap().unwrap()).unwrap();
    assert!(relaxed > after);
}

#[test]
fn near_the_cap_a_mint_pays_what_is_left_and_minting_goes_on() {
    let cap = 1_000_000_000_000u64;
    let mut spec = dev_mint_spec(&test_key(9));
    spec.constants.supply_cap = cap;
    let section = spec.modules.get_mut("mint-pow").unwrap();
    section["initial_mint_reward"] = 1_000_000_000u64.into();
    section["halving_mints"] = 1.into();
    let addr = Address::Key(XOnly::of(&test_key(9))).to_string();
    let alloc = cap - 1_500_000_000;
    spec.modules.insert("utxo".into(), serde_json::json!({ "allocations": [{ "address": addr, "value": alloc }] }));
    let rt = Runtime::new(spec).unwrap();
    let db = StateDb::new(Arc::new(pc_store::MemStore::new()));
    rt.init_genesis(&db).unwrap();
    let mut chain = Chain { rt, db, next: 1 };
    let mut rewards = Vec::new();
    for _ in 0..3 {
        let h = chain.mine(&test_key(1), 2);
        assert_eq!(chain.apply(vec![mint_call(&h)]).record.dropped, 0, "a mint at the cap is still valid");
        rewards.push(
            chain.rt.with_view(&chain.db, "mint-pow", |v| MINTS.get(v, &h.id()).unwrap().unwrap().reward).unwrap(),
        );
    }
    assert_eq!(rewards, vec![1_000_000_000, 500_000_000, 0]);
    let issued =
        chain.rt.with_view(&chain.db, "utxo", |v| LedgerView::open(v).unwrap().totals().unwrap()).unwrap().issued;
    assert_eq!(issued, cap);
    let tip = chain.rt.with_view(&chain.db, "mint-pow", |v| TIP.get(v).unwrap().unwrap()).unwrap();
    assert_eq!(tip.height, 3, "the tip advances even when nothing is paid");
}
