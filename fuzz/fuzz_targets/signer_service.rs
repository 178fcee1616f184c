//! The signer's socket protocol: any line from the node's side is answered with a reply
//! (a key, a signature, or a refusal), never a panic; a slot is never signed for two
//! different events; and the node's side parses any reply line as a reply or an error.
//!
//! The service runs on a throwaway keystore with the token `t`, so seeds and mutations can
//! reach the signing path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pc_codec::Hash32;
use pc_codec::Identified as _;
use pc_consensus::{Event, MAX_EVENT_BYTES};
use pc_signer_client::{Call, Reply};
use phantom_signer::service::Service;
use phantom_signer::{KdfParams, Keystore, Protection};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::OnceLock;

fn service() -> &'static Service {
    static SERVICE: OnceLock<(tempfile::TempDir, Service)> = OnceLock::new();
    &SERVICE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let params = KdfParams { m_kib: 64, t: 1, p: 1 };
            let (ks, _) = Keystore::create(&dir.path().join("k.json"), "pw", params).expect("keystore");
            let protection = Protection::open(&dir.path().join("protection.log")).expect("protection");
            let service = Service::new(ks, protection, "t".into());
            (dir, service)
        })
        .1
}

/// Every slot this process saw signed, with its event: the oracle for "never two".
fn signed() -> &'static Mutex<BTreeMap<(u16, u64, u8, u64), Hash32>> {
    static SIGNED: OnceLock<Mutex<BTreeMap<(u16, u64, u8, u64), Hash32>>> = OnceLock::new();
    SIGNED.get_or_init(Default::default)
}

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    let _ = serde_json::from_str::<Reply>(line);
    let reply = service().handle(line);
    match &reply {
        Reply::Ok(_) => {
            let Ok(Call::SignEvent { event, .. }) = serde_json::from_str::<Call>(line) else { return };
            let bytes = hex::decode(event).expect("signed, so hex");
            let e: Event = pc_codec::decode_canonical(&bytes, MAX_EVENT_BYTES).expect("signed, so an event");
            let slot = (e.shard, e.epoch, e.creator, e.seq);
            let mut map = signed().lock().expect("oracle");
            let first = *map.entry(slot).or_insert(e.id());
            assert_eq!(first, e.id(), "two events signed for one slot");
        }
        Reply::Error { kind, .. } => {
            assert!(["unauthorized", "bad-request", "double-sign", "internal"].contains(&kind.as_str()), "{kind}");
        }
    }
});
