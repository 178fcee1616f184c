//! Evidence calls, which any peer can send and any Byzantine seat can put in an event:
//! refused, or the one encoding of evidence; admission answers without a panic; and an anchor
//! carrying the bytes applies, recording a fault only for evidence that verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use parity_scale_codec::Encode;
use pc_codec::Hash32;
use pc_runtime::{AnchorInput, Runtime};
use pc_runtime_api::{AnchorCtx, Call, ConsensusTime, EVIDENCE_TARGET, Evidence};
use pc_state::StateDb;
use std::sync::{Arc, OnceLock};

use pc_module_bonding as _;
use pc_module_committee_vrf as _;
use pc_module_genesis as _;
use pc_module_mint_pow as _;
use pc_module_utxo as _;

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::new(pc_chainspec::ChainSpec::load("dev").expect("dev chainspec")).expect("runtime"))
}

fuzz_target!(|data: &[u8]| {
    let decoded = Evidence::decode_call(data);
    if let Ok(e) = &decoded {
        assert_eq!(e.encode(), data);
        let _ = e.fault();
    }
    let rt = runtime();
    let db = StateDb::new(Arc::new(pc_store::MemStore::new()));
    let genesis = rt.init_genesis(&db).expect("genesis");
    let call = Call { module: EVIDENCE_TARGET.into(), data: data.to_vec() };
    let admitted = rt.validate_call(&db, &call).is_ok();
    let index = genesis.anchor + 1;
    let ctx = AnchorCtx::bare(0, index, Hash32([7; 32]), ConsensusTime { anchor: index, lamport: 3 });
    let out = rt.apply_anchor(&db, &AnchorInput { ctx, calls: vec![call] }).expect("an anchor of any calls applies");
    let known = Runtime::known_faults(&db, None, 10).expect("read");
    // Admission and apply run the same checks on the same state.
    assert_eq!(admitted, out.record.dropped == 0);
    assert_eq!(known.len(), usize::from(admitted));
    if admitted {
        // Recorded under its grid epoch; everything else is as the events say.
        let claimed = decoded.ok().and_then(|e| e.fault().ok()).expect("admitted, so a fault");
        let f = known[0].fault;
        assert_eq!((f.kind, f.shard, f.seat, f.seq), (claimed.kind, claimed.shard, claimed.seat, claimed.seq));
        assert!(f.epoch <= claimed.epoch);
    }
});
