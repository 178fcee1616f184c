//! Per-peer rate limits and misbehaviour scores.
//!
//! Every peer starts at 0. Malformed or oversized messages and invalid events cost points; a
//! peer at or below [`BAN_SCORE`] is blocked and disconnected. Messages above the rate limit are
//! dropped, and each window a peer goes over costs [`Offence::Flooding`] once: an honest burst
//! costs a little and recovers, while a peer that floods for several windows in a row is
//! banned. Scores recover a point per window, so a peer that erred once is not banned.

use libp2p::PeerId;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A peer at or below this score is blocked.
pub const BAN_SCORE: i64 = -100;
/// Messages (gossip and requests together) a peer may send per [`WINDOW`]. Honest peers under
/// heavy load stay far below it: a node announces at most 20 times a second and pulls in
/// batches, while relayed gossip and anti-entropy add a few dozen more.
pub const RATE_LIMIT: u32 = 1_000;
/// The rate window.
pub const WINDOW: Duration = Duration::from_secs(1);

/// What a peer did wrong, and what it costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offence {
    /// Bytes that do not decode, or over a size cap.
    Malformed,
    /// An event with a bad signature, a wrong payload or a broken rule.
    InvalidEvent,
    /// More messages than the rate limit allows.
    Flooding,
}

impl Offence {
    fn cost(self) -> i64 {
        match self {
            Offence::Malformed => 25,
            Offence::InvalidEvent => 50,
            Offence::Flooding => 25,
        }
    }
}

#[derive(Debug)]
struct PeerState {
    score: i64,
    window_start: Instant,
    in_window: u32,
}

/// The scores of the peers seen since start (kept after they leave, so a blocked peer stays
/// blocked until the node restarts).
#[derive(Debug, Default)]
pub struct Scores {
    peers: HashMap<PeerId, PeerState>,
}

impl Scores {
    fn state(&mut self, peer: PeerId, now: Instant) -> &mut PeerState {
        self.peers.entry(peer).or_insert(PeerState { score: 0, window_start: now, in_window: 0 })
    }

    /// Counts one inbound message; false (and a penalty) when it is over the rate limit.
    pub fn admit(&mut self, peer: PeerId, now: Instant) -> bool {
        let s = self.state(peer, now);
        if now.duration_since(s.window_start) >= WINDOW {
            s.window_start = now;
            s.in_window = 0;
            s.score = (s.score + 1).min(0); // each new window the peer sends in recovers a point
        }
        s.in_window = s.in_window.saturating_add(1);
        if s.in_window > RATE_LIMIT {
            if s.in_window == RATE_LIMIT + 1 {
                s.score -= Offence::Flooding.cost(); // once per window over the limit
            }
            return false;
        }
        true
    }

    /// Records an offence; true if the peer must now be blocked.
    pub fn penalize(&mut self, peer: PeerId, offence: Offence, now: Instant) -> bool {
        let s = self.state(peer, now);
        s.score -= offence.cost();
        s.score <= BAN_SCORE
    }

    /// True if the peer's score calls for a block.
    pub fn banned(&self, peer: &PeerId) -> bool {
        self.peers.get(peer).is_some_and(|s| s.score <= BAN_SCORE)
    }

    /// The peer's score (0 when unknown).
    pub fn score(&self, peer: &PeerId) -> i64 {
        self.peers.get(peer).map_or(0, |s| s.score)
    }
}
