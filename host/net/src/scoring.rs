//! Per-peer rate limits and misbehaviour scores.
//!
//! Every peer starts at 0. Malformed or oversized messages and invalid events cost points; a
//! peer at or below [`BAN_SCORE`] is blocked and disconnected. Messages above the rate limit are
//! dropped, and each window a peer goes over costs [`Offence::Flooding`] once: an honest burst
//! costs a little and recovers, while a peer that floods for several windows in a row is
//! banned. Scores recover a point per window, so a peer that erred once is not banned.
//!
//! A ban lifts after [`BAN_FIRST`], doubling with each later ban of the same peer up to
//! [`BAN_MAX`]; the peer comes back on probation ([`PROBATION_SCORE`]), one serious offence
//! from the next ban. Entries of peers that were never banned are forgotten after
//! [`FORGET_AFTER`] of silence, so the table does not grow with every peer ever seen.

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
/// How long a peer's first ban lasts.
pub const BAN_FIRST: Duration = Duration::from_secs(10 * 60);
/// The longest ban: each ban of the same peer lasts twice the one before, up to this.
pub const BAN_MAX: Duration = Duration::from_secs(24 * 60 * 60);
/// The score a peer gets back when its ban lifts. Its first message back opens a new window
/// and recovers a point, to half the ban line, where one invalid event bans it again.
pub const PROBATION_SCORE: i64 = BAN_SCORE / 2 - 1;
/// A peer never banned and silent this long is forgotten (its score had recovered or will
/// start at 0 again). A peer once banned is remembered for [`BAN_MAX`] after its ban ends or
/// its last message, whichever is later, so that its next ban is longer.
pub const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);

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
    /// When the last message or offence was counted.
    last_seen: Instant,
    /// When the current ban lifts, while banned.
    banned_until: Option<Instant>,
    /// Bans so far (the next one lasts longer).
    bans: u32,
}

impl PeerState {
    /// Starts a ban if the score has reached the ban line and none is running.
    fn ban_if_due(&mut self, now: Instant) {
        if self.banned_until.is_none() && self.score <= BAN_SCORE {
            self.banned_until = Some(now + ban_length(self.bans));
            self.bans = self.bans.saturating_add(1);
        }
    }
}

/// How long ban number `previous + 1` of a peer lasts.
pub fn ban_length(previous: u32) -> Duration {
    BAN_FIRST.saturating_mul(1u32.checked_shl(previous).unwrap_or(u32::MAX)).min(BAN_MAX)
}

/// The scores of the peers seen lately, and their bans (in memory: a restart lifts every ban).
#[derive(Debug, Default)]
pub struct Scores {
    peers: HashMap<PeerId, PeerState>,
}

impl Scores {
    fn state(&mut self, peer: PeerId, now: Instant) -> &mut PeerState {
        let s = self.peers.entry(peer).or_insert(PeerState {
            score: 0,
            window_start: now,
            in_window: 0,
            last_seen: now,
            banned_until: None,
            bans: 0,
        });
        s.last_seen = now;
        s
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
                s.ban_if_due(now);
            }
            return false;
        }
        true
    }

    /// Records an offence; true if the peer is (now or already) banned and must be blocked.
    pub fn penalize(&mut self, peer: PeerId, offence: Offence, now: Instant) -> bool {
        let s = self.state(peer, now);
        s.score -= offence.cost();
        s.ban_if_due(now);
        s.banned_until.is_some()
    }

    /// True while the peer is banned.
    pub fn banned(&self, peer: &PeerId) -> bool {
        self.peers.get(peer).is_some_and(|s| s.banned_until.is_some())
    }

    /// Lifts the bans that have run out (those peers go on probation) and forgets peers long
    /// silent. Returns the peers whose ban lifted, to unblock.
    pub fn expire(&mut self, now: Instant) -> Vec<PeerId> {
        let mut lifted = Vec::new();
        self.peers.retain(|peer, s| {
            if let Some(until) = s.banned_until {
                if now < until {
                    return true;
                }
                s.banned_until = None;
                s.score = s.score.max(PROBATION_SCORE);
                s.last_seen = now;
                lifted.push(*peer);
                return true;
            }
            let keep_for = if s.bans == 0 { FORGET_AFTER } else { BAN_MAX };
            now.saturating_duration_since(s.last_seen) < keep_for
        });
        lifted
    }

    /// Peers with an entry (for tests and metrics).
    pub fn len(&self) -> usize {
        self.peers.len()
    }

    /// True when no peer has an entry.
    pub fn is_empty(&self) -> bool {
        self.peers.is_empty()
    }

    /// The peer's score (0 when unknown).
    pub fn score(&self, peer: &PeerId) -> i64 {
        self.peers.get(peer).map_or(0, |s| s.score)
    }
}
