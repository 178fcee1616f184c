//! What nodes say to each other (SCALE, decoded canonically with hard size caps).
//!
//! Gossip carries only inventory — ids of events and transactions a node holds. Everything
//! else is pulled with a request, so a node votes only on events whose payload it has
//! (pull-then-vote, docs/spec/consensus.md §3).

use parity_scale_codec::{Decode, Encode};
use pc_codec::Hash32;
use pc_consensus::SignedEvent;
use pc_runtime_api::Call;

/// Largest gossip message.
pub const MAX_ANNOUNCE_BYTES: usize = 64 * 1024;
/// Largest request.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// Largest response (a batch of events with their payloads).
pub const MAX_RESPONSE_BYTES: usize = 16 << 20;
/// Most ids in one announcement or request.
pub const MAX_IDS: usize = 1024;
/// Most events in one response.
pub const MAX_EVENTS: usize = 256;
/// What an answer may fill: the response cap with room for framing. Answers stop adding
/// events or transactions before they pass it (a larger one could not be sent at all).
pub const ANSWER_BUDGET: usize = MAX_RESPONSE_BYTES - 64 * 1024;

/// An event with the payload its `payload_root` commits to.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct EventWithPayload {
    /// The signed event.
    pub event: SignedEvent,
    /// Its calls.
    pub payload: Vec<Call>,
}

/// Gossiped inventory.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Announce {
    /// Events the sender accepted.
    pub events: Vec<Hash32>,
    /// Transactions (call keys) in the sender's mempool.
    pub txs: Vec<Hash32>,
}

/// A pull.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum Request {
    /// These events and the ancestors the requester lacks; `heads[s]` is the highest seq of
    /// seat s the requester holds in consensus epoch `epoch`.
    Events {
        /// The requester's consensus epoch: what its heads count in.
        epoch: u64,
        /// Wanted ids.
        ids: Vec<Hash32>,
        /// The requester's heads.
        heads: Vec<u64>,
        /// Seats the requester knows to fork: for them its heads say nothing about which
        /// branch it holds, so the answer includes their ancestors whatever their seq.
        cheaters: u64,
    },
    /// Anti-entropy: every event of consensus epoch `epoch` above the requester's heads,
    /// oldest first (capped). A responder that moved on to a later epoch still answers from
    /// the requester's epoch while it keeps it: that is how a node that lags an epoch catches up.
    Sync {
        /// The requester's consensus epoch.
        epoch: u64,
        /// The requester's heads.
        heads: Vec<u64>,
    },
    /// The newest events signed by `key` that the responder holds (one per branch), from the
    /// latest epoch where it holds any, answered with [`Response::SeatHead`]: a validator that
    /// starts (or is seated again) without its own recent events learns where its chain stands
    /// before it signs (consensus.md §10). Asked by key, not by seat, because the committee
    /// changes between epochs (§14).
    SeatHead {
        /// The validator's seat key (BIP-340 x-only).
        key: [u8; 32],
    },
    /// These pending transactions.
    Txs {
        /// Call keys.
        ids: Vec<Hash32>,
    },
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum Response {
    /// Events, parents before children.
    Events(Vec<EventWithPayload>),
    /// Transactions.
    Txs(Vec<Call>),
    /// The answer to [`Request::SeatHead`] (possibly empty: the responder holds none).
    SeatHead(Vec<EventWithPayload>),
    /// The responder no longer keeps the consensus epoch asked for: the oldest it keeps starts
    /// at `oldest_epoch`. A node that lags that far catches up from a snapshot, not by replay.
    Pruned {
        /// The first anchor of the oldest epoch the responder still serves.
        oldest_epoch: u64,
    },
}

/// Why bytes from a peer were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Not a canonical encoding of the message, or over its size cap.
    #[error("malformed {what}: {why}")]
    Malformed {
        /// The message kind.
        what: &'static str,
        /// The decoder's reason.
        why: String,
    },
    /// Decodes, but breaks a count limit.
    #[error("{what} exceeds its limit")]
    TooMany {
        /// The message kind.
        what: &'static str,
    },
}

/// Where `PC_NET_CAPTURE` asks received messages to be written, read once.
fn capture_dir() -> Option<&'static std::path::Path> {
    static DIR: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    DIR.get_or_init(|| std::env::var_os("PC_NET_CAPTURE").map(Into::into)).as_deref()
}

/// Writes the first [`CAPTURE_PER_KIND`] messages of each kind a node receives to
/// `$PC_NET_CAPTURE/<kind>-<hash>.bin`: real traffic for the fuzz corpora (docs/testing.md).
/// Off unless the variable is set; write errors are ignored (a debugging aid never stops a node).
fn capture(what: &'static str, bytes: &[u8]) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTS: [AtomicUsize; 3] = [AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0)];
    let Some(dir) = capture_dir() else { return };
    let slot = match what {
        "announcement" => 0,
        "request" => 1,
        _ => 2,
    };
    if COUNTS[slot].fetch_add(1, Ordering::Relaxed) < CAPTURE_PER_KIND {
        let name = pc_codec::Domain::new("phantomcoin/v1/net/capture").hash(bytes).to_hex();
        let _ = std::fs::write(dir.join(format!("{what}-{}.bin", &name[..16])), bytes);
    }
}

/// How many messages of each kind `PC_NET_CAPTURE` keeps.
pub const CAPTURE_PER_KIND: usize = 64;

fn decode<T: Decode + Encode>(what: &'static str, bytes: &[u8], cap: usize) -> Result<T, WireError> {
    capture(what, bytes);
    pc_codec::decode_canonical(bytes, cap).map_err(|e| WireError::Malformed { what, why: e.to_string() })
}

impl Announce {
    /// Decodes gossip bytes.
    pub fn decode_wire(bytes: &[u8]) -> Result<Self, WireError> {
        let a: Announce = decode("announcement", bytes, MAX_ANNOUNCE_BYTES)?;
        if a.events.len() + a.txs.len() > MAX_IDS {
            return Err(WireError::TooMany { what: "announcement" });
        }
        Ok(a)
    }
}

impl Request {
    /// Decodes request bytes.
    pub fn decode_wire(bytes: &[u8]) -> Result<Self, WireError> {
        let r: Request = decode("request", bytes, MAX_REQUEST_BYTES)?;
        let n = match &r {
            Request::Events { ids, heads, .. } => ids.len().max(heads.len()),
            Request::Sync { heads, .. } => heads.len(),
            Request::SeatHead { .. } => 0,
            Request::Txs { ids } => ids.len(),
        };
        if n > MAX_IDS {
            return Err(WireError::TooMany { what: "request" });
        }
        Ok(r)
    }
}

/// Heap a decoded response may take: twice the response cap. A call costs 48 bytes in memory
/// and as little as 2 on the wire, so a response of empty calls decoded whole would take about
/// 400 MB; counted while decoding, it is refused before its calls are allocated. Real
/// transactions take about 1.3 times their wire size.
pub const MAX_RESPONSE_MEMORY: usize = 2 * MAX_RESPONSE_BYTES;

/// What is left of [`MAX_RESPONSE_MEMORY`] while a response is decoded.
struct Budget(usize);

impl Budget {
    fn take(&mut self, bytes: usize) -> Result<(), WireError> {
        self.0 = self.0.checked_sub(bytes).ok_or(WireError::TooMany { what: "response memory" })?;
        Ok(())
    }
}

fn malformed(e: parity_scale_codec::Error) -> WireError {
    WireError::Malformed { what: "response", why: e.to_string() }
}

/// A length prefix, refused above `max` before anything is allocated for it.
fn count(input: &mut &[u8], max: usize) -> Result<usize, WireError> {
    let n = parity_scale_codec::Compact::<u32>::decode(input).map_err(malformed)?.0 as usize;
    if n > max {
        return Err(WireError::TooMany { what: "response" });
    }
    Ok(n)
}

fn calls(input: &mut &[u8], max: usize, budget: &mut Budget) -> Result<Vec<Call>, WireError> {
    let n = count(input, max)?;
    budget.take(n.saturating_mul(std::mem::size_of::<Call>()))?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let c = Call::decode(input).map_err(malformed)?;
        budget.take(c.module.len() + c.data.len())?;
        out.push(c);
    }
    Ok(out)
}

fn events(input: &mut &[u8], budget: &mut Budget) -> Result<Vec<EventWithPayload>, WireError> {
    let n = count(input, MAX_EVENTS)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let event = SignedEvent::decode(input).map_err(malformed)?;
        budget.take(std::mem::size_of::<EventWithPayload>() + event.event.parents.len() * 32)?;
        out.push(EventWithPayload { event, payload: calls(input, usize::MAX, budget)? });
    }
    Ok(out)
}

impl Response {
    /// Decodes response bytes: the layout of the derived encoding, walked by hand so that
    /// counts and memory are checked before anything is allocated for them, then checked to
    /// be the one encoding of the value.
    pub fn decode_wire(bytes: &[u8]) -> Result<Self, WireError> {
        capture("response", bytes);
        if bytes.len() > MAX_RESPONSE_BYTES {
            return Err(WireError::Malformed { what: "response", why: format!("{} bytes over the cap", bytes.len()) });
        }
        let mut input = bytes;
        let mut budget = Budget(MAX_RESPONSE_MEMORY);
        let r = match u8::decode(&mut input).map_err(malformed)? {
            0 => Response::Events(events(&mut input, &mut budget)?),
            1 => Response::Txs(calls(&mut input, MAX_IDS, &mut budget)?),
            2 => Response::SeatHead(events(&mut input, &mut budget)?),
            3 => Response::Pruned { oldest_epoch: u64::decode(&mut input).map_err(malformed)? },
            v => return Err(WireError::Malformed { what: "response", why: format!("unknown variant {v}") }),
        };
        if !input.is_empty() || r.using_encoded(|re| re != bytes) {
            return Err(WireError::Malformed { what: "response", why: "not the canonical encoding".into() });
        }
        Ok(r)
    }
}
