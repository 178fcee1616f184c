//! The wire decoders against hostile bytes, and the score rules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use libp2p::PeerId;
use parity_scale_codec::Encode;
use pc_codec::Hash32;
use pc_net::scoring::{
    BAN_FIRST, BAN_MAX, BAN_SCORE, FORGET_AFTER, Offence, PROBATION_SCORE, RATE_LIMIT, Scores, ban_length,
};
use pc_net::{Announce, Request, Response};
use proptest::prelude::*;
use std::time::{Duration, Instant};

/// An event whose payload is a million empty calls is 2 MB on the wire and would be 48 MB in
/// memory; a full response of them about 400 MB. It is refused while decoding, before the
/// calls are allocated. A response of real-sized calls as large decodes.
#[test]
fn a_response_of_empty_calls_is_refused_before_it_is_allocated() {
    let event = pc_consensus::SignedEvent {
        event: pc_consensus::Event {
            shard: 0,
            epoch: 1,
            creator: 0,
            seq: 1,
            parents: vec![],
            lamport: 1,
            frame: 1,
            payload_root: Hash32([0; 32]),
            payload_len: 0,
        },
        sig: [0; 64],
    };
    let empty = pc_runtime_api::Call { module: String::new(), data: vec![] };
    let bomb =
        Response::Events(vec![pc_net::wire::EventWithPayload { event: event.clone(), payload: vec![empty; 1 << 20] }]);
    let bytes = bomb.encode();
    assert!(bytes.len() < 3 << 20);
    assert!(matches!(Response::decode_wire(&bytes), Err(pc_net::WireError::TooMany { .. })));
    // 8 MB of 200-byte calls: what a busy peer sends.
    let real = pc_runtime_api::Call { module: "utxo".into(), data: vec![7; 195] };
    let full = Response::Events(vec![pc_net::wire::EventWithPayload { event, payload: vec![real; 40_000] }]);
    assert_eq!(Response::decode_wire(&full.encode()).unwrap(), full);
}

#[test]
fn messages_round_trip_and_counts_are_capped() {
    let ann = Announce { events: vec![Hash32([1; 32])], txs: vec![Hash32([2; 32])] };
    assert_eq!(Announce::decode_wire(&ann.encode()).unwrap(), ann);
    let req = Request::Events { epoch: 301, ids: vec![Hash32([3; 32])], heads: vec![1, 2, 3, 4], cheaters: 0b100 };
    assert_eq!(Request::decode_wire(&req.encode()).unwrap(), req);
    let too_many = Request::Txs { ids: vec![Hash32([0; 32]); pc_net::wire::MAX_IDS + 1] };
    assert!(Request::decode_wire(&too_many.encode()).is_err());
    let resp = Response::Txs(vec![]);
    assert_eq!(Response::decode_wire(&resp.encode()).unwrap(), resp);
    let pruned = Response::Pruned { oldest_epoch: 2401 };
    assert_eq!(Response::decode_wire(&pruned.encode()).unwrap(), pruned);
    // Trailing bytes make an encoding non-canonical.
    let mut long = ann.encode();
    long.push(0);
    assert!(Announce::decode_wire(&long).is_err());
}

#[test]
fn offences_add_up_to_a_ban_and_a_flood_costs() {
    let (mut s, peer, now) = (Scores::default(), PeerId::random(), Instant::now());
    assert!(!s.penalize(peer, Offence::Malformed, now));
    assert!(!s.penalize(peer, Offence::InvalidEvent, now));
    assert!(s.penalize(peer, Offence::Malformed, now), "25 + 50 + 25 reaches the ban line");
    assert!(s.banned(&peer) && s.score(&peer) <= BAN_SCORE);

    let flooder = PeerId::random();
    for _ in 0..RATE_LIMIT {
        assert!(s.admit(flooder, now));
    }
    assert!(!s.admit(flooder, now), "one over the limit is refused");
    let after_one = s.score(&flooder);
    assert!(after_one < 0);
    for _ in 0..5000 {
        assert!(!s.admit(flooder, now));
    }
    assert_eq!(s.score(&flooder), after_one, "a window over the limit costs once, however far over");
    assert!(!s.banned(&flooder), "one burst does not ban");
    // A new window admits again; flooding window after window ends in a ban.
    let mut t = now;
    for _ in 0..5 {
        t += Duration::from_secs(2);
        for _ in 0..=RATE_LIMIT {
            s.admit(flooder, t);
        }
    }
    assert!(s.banned(&flooder), "sustained flooding bans");
}

/// Bans `peer` at `now` with two invalid events.
fn ban(s: &mut Scores, peer: PeerId, now: Instant) {
    s.penalize(peer, Offence::InvalidEvent, now);
    assert!(s.penalize(peer, Offence::InvalidEvent, now));
}

#[test]
fn a_ban_lifts_on_time_into_probation_and_the_next_one_lasts_twice_as_long() {
    let (mut s, peer, t0) = (Scores::default(), PeerId::random(), Instant::now());
    ban(&mut s, peer, t0);
    assert!(s.expire(t0 + BAN_FIRST - Duration::from_secs(1)).is_empty(), "not before its time");
    assert!(s.banned(&peer));
    let t1 = t0 + BAN_FIRST;
    assert_eq!(s.expire(t1), vec![peer]);
    assert!(!s.banned(&peer));
    assert_eq!(s.score(&peer), PROBATION_SCORE);
    // On probation, after its first message back (which recovers a point, as every message
    // that opens a window does), one invalid event bans again, for twice as long.
    let t2 = t1 + Duration::from_secs(20);
    assert!(s.admit(peer, t2));
    assert!(s.penalize(peer, Offence::InvalidEvent, t2));
    assert!(s.expire(t2 + 2 * BAN_FIRST - Duration::from_secs(1)).is_empty());
    assert_eq!(s.expire(t2 + 2 * BAN_FIRST), vec![peer]);
    // Lengths double up to the cap, and never overflow.
    assert_eq!(ban_length(0), BAN_FIRST);
    assert_eq!(ban_length(2), 4 * BAN_FIRST);
    assert_eq!(ban_length(40), BAN_MAX);
    assert_eq!(ban_length(u32::MAX), BAN_MAX);
}

#[test]
fn silent_peers_are_forgotten_but_banned_ones_are_remembered_longer() {
    let (mut s, t0) = (Scores::default(), Instant::now());
    let (quiet, offender) = (PeerId::random(), PeerId::random());
    s.admit(quiet, t0);
    ban(&mut s, offender, t0);
    assert_eq!(s.len(), 2);
    s.expire(t0 + BAN_FIRST); // the offender's ban lifts
    assert_eq!(s.len(), 2, "the quiet peer is not yet past FORGET_AFTER");
    s.expire(t0 + FORGET_AFTER);
    assert_eq!(s.len(), 1, "the quiet peer is forgotten");
    assert_eq!(s.score(&offender), PROBATION_SCORE, "the once-banned peer is remembered");
    s.expire(t0 + BAN_FIRST + BAN_MAX);
    assert!(s.is_empty());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Announce::decode_wire(&bytes);
        let _ = Request::decode_wire(&bytes);
        let _ = Response::decode_wire(&bytes);
    }
}
