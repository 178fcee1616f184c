//! Bytes from a peer: gossip, sync requests and responses, and the length-prefixed frames they
//! travel in. Each message is refused, or it is the one encoding of a value within the
//! message's count limits; a frame longer than its cap is refused without being read.
#![no_main]

use futures::executor::block_on;
use futures::io::Cursor;
use libfuzzer_sys::fuzz_target;
use libp2p::StreamProtocol;
use libp2p::request_response::Codec;
use parity_scale_codec::Encode;
use pc_net::wire::{MAX_EVENTS, MAX_IDS, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES};
use pc_net::{Announce, Inbound, Request, Response, SyncCodec};

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = Announce::decode_wire(data) {
        assert_eq!(a.encode(), data);
        assert!(a.events.len() + a.txs.len() <= MAX_IDS);
    }
    if let Ok(r) = Request::decode_wire(data) {
        assert_eq!(r.encode(), data);
        assert!(data.len() <= MAX_REQUEST_BYTES);
        let n = match &r {
            Request::Events { ids, heads, .. } => ids.len().max(heads.len()),
            Request::Sync { heads, .. } => heads.len(),
            Request::SeatHead { .. } => 0,
            Request::Txs { ids } => ids.len(),
        };
        assert!(n <= MAX_IDS);
    }
    if let Ok(r) = Response::decode_wire(data) {
        assert_eq!(r.encode(), data);
        match &r {
            Response::Events(e) | Response::SeatHead(e) => assert!(e.len() <= MAX_EVENTS),
            Response::Txs(t) => assert!(t.len() <= MAX_IDS),
            Response::Pruned { .. } => {}
        }
    }
    // The same bytes as a stream: a 4-byte length, then a message.
    let proto = StreamProtocol::new("/fuzz");
    let mut codec = SyncCodec;
    let declared = data.get(..4).map(|l| u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize);
    match block_on(codec.read_request(&proto, &mut Cursor::new(data))) {
        Ok(Inbound::Valid(r)) => {
            let len = declared.unwrap_or(0);
            assert!(len <= MAX_REQUEST_BYTES);
            assert_eq!(r.encode(), data[4..4 + len]);
        }
        Ok(Inbound::Invalid(_)) | Err(_) => {}
    }
    if let Ok(r) = block_on(codec.read_response(&proto, &mut Cursor::new(data))) {
        let len = declared.unwrap_or(0);
        assert!(len <= MAX_RESPONSE_BYTES);
        assert_eq!(r.encode(), data[4..4 + len]);
    }
});
