//! Keystore files (a corrupt disk, a file from elsewhere): refused with a clear error, or
//! opened. Parameters that ask for more key-derivation work than the signer allows are refused
//! before any is done; within the limits, only cheap ones are run, to keep the fuzzer fast.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phantom_signer::{KdfParams, Keystore, SignerError};
use std::sync::OnceLock;

fn dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir"))
}

fuzz_target!(|data: &[u8]| {
    let params: Option<KdfParams> = serde_json::from_slice::<serde_json::Value>(data)
        .ok()
        .and_then(|v| serde_json::from_value(v.get("kdf_params")?.clone()).ok());
    if let Some(p) = params {
        // Within the limits but costly: not worth a fuzzer's time (the limits are what matter).
        if p.check().is_ok() && (p.m_kib > 1024 || p.t > 2 || p.p > 2) {
            return;
        }
    }
    let path = dir().path().join("k.json");
    std::fs::write(&path, data).expect("write");
    match Keystore::open(&path, "pw") {
        Ok(ks) => {
            let _ = ks.public_key(phantom_signer::Purpose::Seat, 0);
        }
        Err(SignerError::Crypto(_)) => {
            // Only key derivation fails this way, and only on parameters check() passed.
            assert!(params.is_some_and(|p| p.check().is_ok()));
        }
        // Corrupt, wrong password, a bad mnemonic, or an HSM keystore whose module or token
        // is not there: refused with its error.
        Err(_) => {}
    }
});
