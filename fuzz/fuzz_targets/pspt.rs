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
    let text = serde_json::to_vec(&p).expect("serializes");
    assert_eq!(Pspt::from_json(&text).expect("its own output reads back"), p);
});
