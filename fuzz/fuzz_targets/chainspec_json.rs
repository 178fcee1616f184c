//! Untrusted chainspec text: refused with an error, or a spec that validates and freezes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(spec) = pc_chainspec::ChainSpec::from_json(text) {
            assert!(spec.validate().is_ok());
            assert!(spec.to_raw_json().is_ok());
        }
    }
});
