//! The wire decoders against hostile bytes, and the score rules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use libp2p::PeerId;
use parity_scale_codec::Encode;
use pc_codec::Hash32;
use pc_net::scoring::{BAN_SCORE, Offence, RATE_LIMIT, Scores};
use pc_net::{Announce, Request, Response};
use proptest::prelude::*;
use std::time::{Duration, Instant};

#[test]
fn messages_round_trip_and_counts_are_capped() {
    let ann = Announce { events: vec![Hash32([1; 32])], txs: vec![Hash32([2; 32])] };
    assert_eq!(Announce::decode_wire(&ann.encode()).unwrap(), ann);
    let req = Request::Events { ids: vec![Hash32([3; 32])], heads: vec![1, 2, 3, 4] };
    assert_eq!(Request::decode_wire(&req.encode()).unwrap(), req);
    let too_many = Request::Txs { ids: vec![Hash32([0; 32]); pc_net::wire::MAX_IDS + 1] };
    assert!(Request::decode_wire(&too_many.encode()).is_err());
    let resp = Response::Txs(vec![]);
    assert_eq!(Response::decode_wire(&resp.encode()).unwrap(), resp);
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

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Announce::decode_wire(&bytes);
        let _ = Request::decode_wire(&bytes);
        let _ = Response::decode_wire(&bytes);
    }
}
