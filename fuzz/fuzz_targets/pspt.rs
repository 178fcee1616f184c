//! PSPT files, which travel between the parties of a transaction: refused, or a PSPT whose
//! every reader answers without a panic and which writes back to a file that reads the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phantom_signer::pspt::Pspt;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = Pspt::from_json(data) else { return };
    let _ = p.transaction();
    let _ = p.parsed_inputs();
    let _ = p.sighash();
    let _ = p.keys();
    let _ = p.fee();
    let _ = p.inspect();
    let _ = p.finalize();
    let mut combined = p.clone();
    let _ = combined.combine(&p);
    // MuSig2 material from co-signers: sessions checked, merged against a conflicting copy,
    // and aggregated.
    for s in &p.musig {
        let _ = s.check();
    }
    let mut other = p.clone();
    if let Some(v) = other.musig.first_mut().and_then(|s| s.nonces.values_mut().next()) {
        v.push('0');
    }
    let _ = combined.combine(&other);
    let _ = phantom_signer::musig::aggregate(&mut combined);
    let text = serde_json::to_vec(&p).expect("serializes");
    assert_eq!(Pspt::from_json(&text).expect("its own output reads back"), p);
});
