//! Untrusted transaction bytes, addresses and DAG events: refused, or canonical; a decoded
//! transaction's checks and predicate evaluation never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pc_codec::{Encode, decode_canonical};
use pc_utxo_tx::{Address, Bip340, MAX_TX_BYTES, SpendCtx, Transaction};

fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = decode_canonical::<Transaction>(data, MAX_TX_BYTES) {
        assert_eq!(tx.encode(), data);
        let _ = tx.check_shape(1000);
        let msg = [0u8; 32];
        let ctx = SpendCtx { anchor_index: 5, sighash: &msg };
        for (input, out) in tx.inputs.iter().zip(&tx.outputs) {
            let _ = out.predicate.satisfy(&input.witness, &ctx, &Bip340);
        }
    }
    if let Ok(ev) = decode_canonical::<pc_consensus::SignedEvent>(data, pc_consensus::MAX_EVENT_BYTES) {
        assert_eq!(ev.encode(), data);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(a) = s.parse::<Address>() {
            assert_eq!(a.to_string().parse::<Address>().ok(), Some(a));
        }
    }
});
