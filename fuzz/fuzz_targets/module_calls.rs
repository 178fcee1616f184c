//! Call bytes for every enabled module (utxo transactions, mint headers with their proof of
//! work, bonds, unbonds, withdraws, candidacies and heartbeats, anything a peer or a Byzantine
//! validator can put in an event): admission answers
//! valid or invalid, never panics; and an anchor carrying any calls at all applies, dropping
//! what its module refuses, since a finalized anchor that fails to apply halts every node.
//!
//! Input: SCALE `Vec<(module, bytes)>`, the module chosen by index into the `local` chain's list
//! (the built-in chain that enables every module).
#![no_main]

use libfuzzer_sys::fuzz_target;
use parity_scale_codec::Encode;
use pc_codec::Hash32;
use pc_runtime::{AnchorInput, Runtime};
use pc_runtime_api::{AnchorCtx, Call, ConsensusTime};
use pc_state::StateDb;
use std::sync::{Arc, OnceLock};

use pc_module_bonding as _;
use pc_module_committee_vrf as _;
use pc_module_genesis as _;
use pc_module_mint_pow as _;
use pc_module_utxo as _;

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::new(pc_chainspec::ChainSpec::load("local").expect("local chainspec")).expect("runtime"))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = pc_codec::decode_canonical::<pc_module_mint_pow::MintHeader>(data, 1024) {
        assert_eq!(h.encode(), data);
    }
    let Ok(raw) = pc_codec::decode_canonical::<Vec<(u8, Vec<u8>)>>(data, 1 << 20) else { return };
    let rt = runtime();
    let names = rt.module_names();
    let calls: Vec<Call> = raw
        .into_iter()
        .map(|(m, data)| Call { module: names[usize::from(m) % names.len()].to_string(), data })
        .collect();
    let db = StateDb::new(Arc::new(pc_store::MemStore::new()));
    let genesis = rt.init_genesis(&db).expect("genesis");
    for call in &calls {
        let _ = rt.validate_call(&db, call);
    }
    let ctx = AnchorCtx::bare(
        0,
        genesis.anchor + 1,
        Hash32([7; 32]),
        ConsensusTime { anchor: genesis.anchor + 1, lamport: 3 },
    );
    let outcome = rt.apply_anchor(&db, &AnchorInput { ctx, calls }).expect("an anchor of any calls applies");
    assert_eq!(outcome.record.index, genesis.anchor + 1);
    assert_eq!(db.head().expect("head").map(|h| h.anchor), Some(genesis.anchor + 1));
});
