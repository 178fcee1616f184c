//! Untrusted bytes into every record decoder: refused, or the one encoding of the value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pc_codec::{Decode, Encode, decode_canonical};

fn check<T: Encode + Decode>(data: &[u8]) {
    if let Ok(v) = decode_canonical::<T>(data, 1 << 20) {
        assert_eq!(v.encode(), data);
    }
}

fuzz_target!(|data: &[u8]| {
    check::<pc_runtime_api::Call>(data);
    check::<pc_runtime::AnchorRecord>(data);
    check::<pc_runtime::EventRecord>(data);
    check::<pc_runtime::CallDropped>(data);
    check::<pc_state::Head>(data);
});
