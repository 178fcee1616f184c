//! The fuzz targets' seed corpora (fuzz/seeds/<target>/) stay valid inputs as the formats
//! change: each seed made here is rebuilt from today's types and must equal the checked-in
//! file, and each captured one (real traffic, `capture-*`) must still decode. `PC_BLESS=1`
//! rewrites the made ones after a deliberate format change (docs/testing.md, "Fuzzing").
#![allow(clippy::unwrap_used, clippy::expect_used)]

use parity_scale_codec::Encode;
use pc_codec::{Hash32, Identified as _};
use pc_consensus::{Event, SignedEvent};
use pc_net::wire::EventWithPayload;
use pc_net::{Announce, Request, Response};
use pc_runtime::Runtime;
use pc_runtime_api::Call;
use pc_service::dag::{CacheCaps, DagLog, DagRecord, DagStore, EpochGrid};
use pc_state::StateDb;
use pc_store::{Column, KvStore, MemStore, Scan};
use pc_utxo_tx::{Address, TxOut, XOnly};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pc_module_genesis as _;
use pc_module_mint_pow as _;
use pc_module_utxo as _;

fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds")
}

fn framed(bytes: &[u8]) -> Vec<u8> {
    [&(bytes.len() as u32).to_be_bytes()[..], bytes].concat()
}

fn dev() -> (Runtime, StateDb) {
    chain("dev")
}

/// A fresh in-memory node of a built-in chain.
fn chain(name: &str) -> (Runtime, StateDb) {
    let rt = Runtime::new(pc_chainspec::ChainSpec::load(name).unwrap()).unwrap();
    let db = StateDb::new(Arc::new(MemStore::new()));
    rt.init_genesis(&db).unwrap();
    (rt, db)
}

fn event(epoch: u64, creator: u8, seq: u64, payload: &[Call]) -> Event {
    Event {
        shard: 0,
        epoch,
        creator,
        seq,
        parents: vec![],
        lamport: seq,
        frame: 1,
        payload_root: pc_service::replica::payload_root(payload),
        payload_len: payload.iter().map(|c| c.encoded_size() as u32).sum(),
    }
}

/// Development account 0, funded at genesis on the dev chain.
fn dev0() -> pc_utxo_tx::Keypair {
    pc_service::keys::dev_account_key(0).unwrap()
}

/// A transfer of dev account 0's genesis allocation, valid on a fresh dev chain.
fn transfer(genesis: &Hash32) -> pc_utxo_tx::Transaction {
    let kp = dev0();
    let to = Address::Key(XOnly::of(&pc_service::keys::dev_account_key(1).unwrap()));
    let outputs = vec![TxOut { value: 1_000_000, predicate: to.predicate() }];
    pc_utxo_tx::signed_transfer(genesis, &kp, &[pc_module_utxo::genesis_outpoint(0)], outputs)
}

/// A `Bond` of dev account 0's allocation by well-known validator 4 of `rt`'s chain.
fn dev_bond(rt: &Runtime, genesis: &Hash32) -> (Hash32, Call) {
    use pc_module_bonding::{BondingCall, bond_id, operator_consent, seat_consent};
    let v = phantom_node::validator::DevValidator::new(rt.spec(), 4).unwrap();
    let terms = v.terms();
    let ops = [pc_module_utxo::genesis_outpoint(0)];
    let id = bond_id(genesis, &terms, &ops);
    let digest = pc_module_utxo::authorization_digest(genesis, "bonding", &id, &ops, &id.0);
    let inputs = vec![(ops[0], pc_utxo_tx::Witness::Sig(pc_crypto::sign_prehashed(&dev0(), &digest)))];
    let seat_sig = pc_crypto::sign_prehashed(&v.seat, &seat_consent(genesis, &id));
    let operator_sig = pc_crypto::sign_prehashed(&v.bond, &operator_consent(genesis, &id));
    let call = BondingCall::Bond { terms: Box::new(terms), inputs, seat_sig, operator_sig };
    (id, Call { module: "bonding".into(), data: call.encode() })
}

/// The genesis-bonded seat 0's candidacy for the epoch after the first on `rt`'s chain. A VRF proof
/// is randomised (the output is not), so the checked-in seed is kept while it is still valid.
fn dev_candidacy(rt: &Runtime, db: &StateDb, genesis: &Hash32) -> Call {
    let kept = std::fs::read(seeds_dir().join("module_calls/candidacy"))
        .ok()
        .and_then(|b| pc_codec::decode_canonical::<Vec<(u8, Vec<u8>)>>(&b, 1 << 16).ok())
        .and_then(|mut v| v.pop())
        .map(|(_, data)| Call { module: "committee-vrf".into(), data });
    if let Some(call) = kept.filter(|c| rt.validate_call(db, c).is_ok()) {
        return call;
    }
    let v = phantom_node::validator::DevValidator::new(rt.spec(), 0).unwrap();
    let epoch = rt.spec().constants.windows.epoch_anchors + 1;
    let (bond, seed) = rt
        .with_view(db, "committee-vrf", |view| {
            let bonds = pc_module_bonding::BondsView::open(view).unwrap();
            let bond = bonds.bond_by_seat(&XOnly::of(&v.seat).0).unwrap().unwrap().0;
            (bond, pc_module_committee_vrf::CommitteeVrf::seed(view, epoch).unwrap().unwrap())
        })
        .unwrap();
    let input = pc_module_committee_vrf::vrf_input(genesis, epoch, &seed, &bond);
    let (proof, _) = v.vrf.prove(pc_crypto::vrf::COMMITTEE, &input);
    let call = pc_module_committee_vrf::CommitteeCall::Candidacy { bond, epoch, proof };
    Call { module: "committee-vrf".into(), data: call.encode() }
}

/// Every seed this file makes, by target and file name.
fn made() -> BTreeMap<(&'static str, String), Vec<u8>> {
    let mut s = BTreeMap::new();
    let mut put = |t: &'static str, name: &str, bytes: Vec<u8>| {
        s.insert((t, name.to_string()), bytes);
    };
    let (rt, db) = dev();
    let genesis = rt.genesis_hash();
    let tx = transfer(&genesis);
    let call = Call { module: "utxo".into(), data: tx.encode() };
    assert!(rt.validate_call(&db, &call).is_ok(), "the seed transfer is valid on the dev chain");

    // decode_records: the golden vectors of each record type.
    let golden =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden/vectors.txt")).unwrap();
    for line in golden.lines() {
        let (name, hex) = line.split_once(' ').unwrap();
        if ["call", "anchor_record", "event_record", "call_dropped", "head"].contains(&name) {
            put("decode_records", &format!("golden-{name}"), hex::decode(hex).unwrap());
        }
    }

    // transaction: a signed transfer, a signed event, an address.
    put("transaction", "transfer", tx.encode());
    let ev = SignedEvent { event: event(1, 0, 1, std::slice::from_ref(&call)), sig: [9; 64] };
    put("transaction", "event", ev.encode());
    put("transaction", "address", Address::Key(XOnly::of(&dev0())).to_string().into_bytes());

    // wire: one message of each kind, bare and framed.
    let messages: Vec<(&str, Vec<u8>)> = vec![
        ("announce", Announce { events: vec![ev.event.id()], txs: vec![call.id()] }.encode()),
        (
            "request-events",
            Request::Events { epoch: 1, ids: vec![ev.event.id()], heads: vec![0, 3, 2, 1], cheaters: 0 }.encode(),
        ),
        ("request-sync", Request::Sync { epoch: 1, heads: vec![5, 5, 4, 6] }.encode()),
        ("request-seathead", Request::SeatHead { key: [2; 32] }.encode()),
        ("request-txs", Request::Txs { ids: vec![call.id()] }.encode()),
        (
            "response-events",
            Response::Events(vec![EventWithPayload { event: ev.clone(), payload: vec![call.clone()] }]).encode(),
        ),
        ("response-txs", Response::Txs(vec![call.clone()]).encode()),
        ("response-pruned", Response::Pruned { oldest_epoch: 301 }.encode()),
    ];
    for (name, bytes) in messages {
        put("wire", &format!("framed-{name}"), framed(&bytes));
        put("wire", name, bytes);
    }

    // dag_store: a log written by the node's own writer, across one epoch switch.
    let kv: Arc<dyn KvStore> = Arc::new(MemStore::new());
    let store = || DagStore::new(kv.clone(), CacheCaps::default(), Arc::new(pc_metrics::Metrics::new()));
    let (mut log, _, _) = DagLog::open(kv.clone(), 0, EpochGrid { r: 4 }, false, store()).unwrap();
    let rec = |epoch, creator, seq| DagRecord {
        event: SignedEvent { event: event(epoch, creator, seq, std::slice::from_ref(&call)), sig: [3; 64] },
        payload: vec![call.clone()],
    };
    for (c, q) in [(0, 1), (1, 1), (0, 2)] {
        log.append(&rec(1, c, q)).unwrap();
    }
    log.switch(5, 1, vec![vec![rec(1, 0, 2).event.event.id()], vec![rec(1, 1, 1).event.event.id()]]).unwrap();
    log.append(&rec(5, 0, 1)).unwrap();
    log.save_unsigned(&rec(5, 1, 1)).unwrap();
    let mut entries: Vec<(u8, Vec<u8>, Vec<u8>)> = Vec::new();
    for (tag, col) in [(0u8, Column::Dag), (1, Column::Meta)] {
        kv.scan(col, &[], &[], &mut |k, v| {
            entries.push((tag, k.to_vec(), v.to_vec()));
            Scan::Continue
        })
        .unwrap();
    }
    put("dag_store", "after-switch", (5u32, 4u8, false, entries.clone()).encode());
    put("dag_store", "single-seat", (6u32, 4u8, true, entries).encode());

    // module_calls, on the `local` chain (every module enabled): a valid transfer, a mint
    // header, a bond and a candidacy, as the runtime's module list orders them.
    let (lrt, ldb) = chain("local");
    let lgenesis = lrt.genesis_hash();
    let ltx = transfer(&lgenesis);
    let index = |m: &str| lrt.module_names().iter().position(|n| *n == m).unwrap() as u8;
    // The chain's first mint at its initial target, with a nonce that meets it, so the seed
    // reaches the apply path rather than stopping at the target check.
    let target = lrt.spec().modules["mint-pow"]["initial_target"].as_str().unwrap();
    let mut header = pc_module_mint_pow::MintHeader {
        version: 0,
        genesis: lgenesis,
        prev_mint: pc_module_mint_pow::genesis_tip(&lgenesis),
        height: 1,
        target: Hash32::from_hex(target).unwrap().0,
        tier: 0,
        payout: Address::Key(XOnly::of(&dev0())).to_bytes(),
        nonce: 0,
    };
    while !header.meets_target() {
        header.nonce += 1;
    }
    let mint = Call { module: "mint-pow".into(), data: header.encode() };
    assert!(lrt.validate_call(&ldb, &mint).is_ok(), "the seed mint is valid on the local chain");
    assert!(lrt.validate_call(&ldb, &Call { module: "utxo".into(), data: ltx.encode() }).is_ok());
    put("module_calls", "transfer", vec![(index("utxo"), ltx.encode())].encode());
    put("module_calls", "mint", vec![(index("mint-pow"), header.encode())].encode());
    put("module_calls", "both", vec![(index("mint-pow"), header.encode()), (index("utxo"), ltx.encode())].encode());
    // A bond of dev account 0's allocation by well-known validator 4 (not bonded at genesis),
    // and the genesis-bonded seat 0's candidacy for the next epoch.
    let (bond_id, bond) = dev_bond(&lrt, &lgenesis);
    assert!(lrt.validate_call(&ldb, &bond).is_ok(), "the seed bond is valid on the local chain");
    put("module_calls", "bond", vec![(index("bonding"), bond.data.clone())].encode());
    let candidacy = dev_candidacy(&lrt, &ldb, &lgenesis);
    assert!(lrt.validate_call(&ldb, &candidacy).is_ok(), "the seed candidacy is valid on the local chain");
    put("module_calls", "candidacy", vec![(index("committee-vrf"), candidacy.data.clone())].encode());

    // rpc_params: 255, then a whole request, for every documented method.
    let addr = Address::Key(XOnly::of(&dev0())).to_string();
    let id = call.id().to_hex();
    let requests = [
        ("chain_getInfo", "[]".to_string()),
        ("chain_getAnchor", "[0]".into()),
        ("chain_getEvents", "[0]".into()),
        ("chain_subscribeFinalized", "[]".into()),
        ("chain_subscribeEvents", r#"{"module":"utxo","name":"Transfer"}"#.into()),
        ("tx_submit", format!(r#"["{}"]"#, hex::encode(tx.encode()))),
        ("tx_status", format!(r#"["{id}"]"#)),
        ("tx_get", format!(r#"["{id}"]"#)),
        ("utxo_listUnspent", format!(r#"["{addr}"]"#)),
        ("utxo_getBalance", format!(r#"{{"address":"{addr}"}}"#)),
        ("get_mint_template", format!(r#"["{addr}", 0]"#)),
        ("submit_mint_solution", format!(r#"["{}"]"#, hex::encode(header.encode()))),
        ("mint_status", format!(r#"["{}"]"#, header.id().to_hex())),
        ("chain_getEvidence", "[]".into()),
        ("bonding_getBond", format!(r#"["{}"]"#, bond_id.to_hex())),
        ("bonding_bondsOf", format!(r#"["{}"]"#, Hash32([1; 32]).to_hex())),
        ("bonding_submit", format!(r#"["{}"]"#, hex::encode(&bond.data))),
        ("committee_current", "[]".into()),
        ("committee_next", "[]".into()),
        ("committee_candidacy", format!(r#"["{}"]"#, bond_id.to_hex())),
        ("committee_seed", "[1001]".into()),
        ("committee_submit", format!(r#"["{}"]"#, hex::encode(&candidacy.data))),
    ];
    for (method, params) in requests {
        let req = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params}}}"#);
        put("rpc_params", method, [&[255u8][..], req.as_bytes()].concat());
    }

    // signer_service: the two calls the node makes (token `t`, as in the target).
    let unsigned = event(1, 0, 1, &[]);
    put("signer_service", "seat-key", br#"{"op":"seat_key","token":"t","index":0}"#.to_vec());
    let sign = format!(r#"{{"op":"sign_event","token":"t","index":0,"event":"{}"}}"#, hex::encode(unsigned.encode()));
    put("signer_service", "sign-event", sign.into_bytes());
    put("signer_service", "reply", br#"{"error":{"kind":"double-sign","message":"no"}}"#.to_vec());
    let (g, b) = (genesis.to_hex(), bond_id.to_hex());
    let duty =
        format!(r#"{{"op":"candidacy","token":"t","index":0,"genesis":"{g}","bond":"{b}","epoch":1001,"seed":"{g}"}}"#);
    put("signer_service", "candidacy", duty.into_bytes());
    let duty = format!(r#"{{"op":"heartbeat","token":"t","index":0,"genesis":"{g}","bond":"{b}","anchor":3}}"#);
    put("signer_service", "heartbeat", duty.into_bytes());

    // pspt: a one-input PSPT as `phantom-signer pspt create` writes it.
    let kp = dev0();
    let input = phantom_signer::pspt::Input {
        prev: pc_module_utxo::genesis_outpoint(0),
        value: 100_000_000_000_000,
        predicate: Address::Key(XOnly::of(&kp)).predicate(),
        reveal: None,
        preimage: None,
    };
    let p = phantom_signer::pspt::Pspt::new(&genesis, tx.clone(), &[input]);
    put("pspt", "one-input", serde_json::to_vec_pretty(&p).unwrap());

    // protection: a record as the signer writes it.
    let line = |seat: u8, seq: u64| format!("0 1 {seat} {seq} {}\n", Hash32([seq as u8; 32]).to_hex());
    put("protection", "three", [line(0, 1), line(0, 2), line(3, 1)].concat().into_bytes());

    // chainspec_json: the shipped chainspecs.
    for name in ["dev", "testnet-0", "local", "testnet-1"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../chainspec/{name}.json"));
        put("chainspec_json", name, std::fs::read(path).unwrap());
    }

    // evidence: a valid equivocation of the dev chain's one seat, and one with a bad signature.
    let spec = rt.spec();
    let seat = pc_crypto::keypair_from_seed(spec.dev_seat_secret(0).unwrap()).unwrap();
    let sign = |e: Event| SignedEvent { sig: pc_crypto::sign_prehashed(&seat, &e.id().0), event: e };
    let (x, y) = (sign(event(1, 0, 4, &[])), sign(event(1, 0, 4, std::slice::from_ref(&call))));
    let valid = pc_runtime_api::Evidence::Equivocation { first: x.clone(), second: y.clone() };
    assert!(
        rt.validate_call(&db, &Call { module: pc_runtime_api::EVIDENCE_TARGET.into(), data: valid.encode() }).is_ok()
    );
    put("evidence", "equivocation", valid.encode());
    let forged = pc_runtime_api::Evidence::Equivocation { first: x, second: SignedEvent { sig: [1; 64], ..y } };
    put("evidence", "bad-signature", forged.encode());

    // snapshot_restore: the dev chain's genesis state.
    let mut snap = Vec::new();
    pc_state::snapshot::export(&db, &mut snap).unwrap();
    put("snapshot_restore", "dev-genesis", snap);
    s
}

#[test]
fn the_made_seeds_are_what_todays_formats_make() {
    let bless = std::env::var_os("PC_BLESS").is_some();
    let mut stale = Vec::new();
    for ((target, name), bytes) in made() {
        let path = seeds_dir().join(target).join(&name);
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        } else if std::fs::read(&path).ok().as_ref() != Some(&bytes) {
            stale.push(format!("{target}/{name}"));
        }
    }
    assert!(stale.is_empty(), "seeds differ from today's formats (rerun with PC_BLESS=1): {stale:?}");
}

#[test]
fn the_captured_wire_seeds_still_decode() {
    let dir = seeds_dir().join("wire");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&path).unwrap();
        let ok = if name.starts_with("capture-announcement") {
            Announce::decode_wire(&bytes).is_ok()
        } else if name.starts_with("capture-request") {
            Request::decode_wire(&bytes).is_ok()
        } else if name.starts_with("capture-response") {
            Response::decode_wire(&bytes).is_ok()
        } else {
            continue;
        };
        assert!(ok, "captured seed {name} no longer decodes");
        n += 1;
    }
    assert!(n > 0, "no captured traffic under {}", dir.display());
}

#[test]
fn the_keystore_seed_opens_with_the_targets_password() {
    // Salt and nonce are random, so this seed is made once and then only checked.
    let path = seeds_dir().join("keystore/cheap-kdf");
    if std::env::var_os("PC_BLESS").is_some() && !path.exists() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let cheap = phantom_signer::KdfParams { m_kib: 64, t: 1, p: 1 };
        phantom_signer::Keystore::create(&path, "pw", cheap).unwrap();
    }
    assert!(phantom_signer::Keystore::open(&path, "pw").is_ok());
}
