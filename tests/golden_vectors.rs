//! Golden vectors: the exact bytes and hashes of every consensus, wire and disk type this
//! repository defines, checked in under tests/golden/. Any change to an encoding, a hashing
//! domain, the state-key layout or the state commitment shows up here as a failure.
//!
//! After an intended format change, regenerate with `PC_BLESS=1 cargo test -p
//! pc-integration-tests --test golden_vectors` and explain the change in the commit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pc_chainspec::{ChainSpec, DEV_JSON};
use pc_codec::{ConsensusTime, Encode, Hash32, Identified, merkle};
use pc_module_genesis::GenesisInfo;
use pc_runtime::{AnchorRecord, CallDropped, EventRecord};
use pc_runtime_api::Call;
use pc_state::Head;

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/golden/vectors.txt");

fn h(b: u8) -> Hash32 {
    Hash32([b; 32])
}

fn vectors() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Vec::new();
    let mut enc = |name: &str, bytes: Vec<u8>| v.push((name.to_string(), hex::encode(bytes)));
    enc("hash32", h(0xab).encode());
    enc("consensus_time", ConsensusTime { anchor: 7, lamport: 300 }.encode());
    let call = Call { module: "utxo".into(), data: vec![1, 2, 3] };
    enc("call", call.encode());
    enc("call.id", call.id().0.to_vec());
    let rec = AnchorRecord {
        index: 42,
        anchor_id: h(1),
        shard: 3,
        consensus_time: ConsensusTime { anchor: 42, lamport: 9 },
        state_root: h(2),
        events_root: h(3),
        calls: 10,
        dropped: 1,
    };
    enc("anchor_record", rec.encode());
    enc("anchor_record.id", rec.id().0.to_vec());
    let ev = EventRecord { anchor: 42, index: 2, module: "fees".into(), name: "Paid".into(), data: vec![9] };
    enc("event_record", ev.encode());
    enc("event_record.id", ev.id().0.to_vec());
    enc("call_dropped", CallDropped { call_id: h(4), module: "utxo".into(), code: "utxo.x".into() }.encode());
    enc("head", Head { anchor: 5, anchor_id: h(5), state_root: h(6) }.encode());
    enc("state.empty_root", pc_state::empty_state_root().0.to_vec());
    let mut acc = pc_state::Accumulator::empty();
    acc.insert(b"utxo/outputs/k", b"value");
    enc("state.one_entry_root", acc.root().0.to_vec());
    enc("state.one_entry_accumulator_head", acc.to_bytes()[..32].to_vec());
    enc(
        "genesis_info",
        GenesisInfo { note_commitment: h(7), network_id: "phantom-dev".into(), seed: h(8), genesis_hash: h(9) }
            .encode(),
    );
    let leaves: Vec<Hash32> = (0u8..5).map(|i| merkle::leaf_hash(&[i])).collect();
    enc("merkle.root5", merkle::root(&leaves).0.to_vec());
    enc("merkle.empty", merkle::root(&[]).0.to_vec());
    let dev = ChainSpec::from_json(DEV_JSON).unwrap();
    enc("dev.genesis_hash", dev.genesis_hash().unwrap().0.to_vec());
    let roots = pc_integration_tests::reference_roots(3);
    for (i, r) in roots.iter().enumerate() {
        enc(&format!("churn.state_root.{i}"), r.0.to_vec());
    }
    v
}

#[test]
fn encodings_and_ids_match_checked_in_vectors() {
    let got = vectors();
    let text: String = got.iter().map(|(n, x)| format!("{n} {x}\n")).collect();
    if std::env::var_os("PC_BLESS").is_some() {
        std::fs::create_dir_all(std::path::Path::new(FILE).parent().unwrap()).unwrap();
        std::fs::write(FILE, &text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(FILE).expect("golden vectors missing: run with PC_BLESS=1 once");
    let want: Vec<(&str, &str)> = want.lines().filter_map(|l| l.split_once(' ')).collect();
    assert_eq!(want.len(), got.len(), "number of vectors changed");
    for ((wn, wx), (gn, gx)) in want.iter().zip(&got) {
        assert_eq!(wn, gn);
        assert_eq!(wx, gx, "vector `{gn}` changed");
    }
}
