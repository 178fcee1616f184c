//! PhantomCoin networking on libp2p (TCP + Noise + Yamux, identify, gossipsub,
//! request-response).
//!
//! - Gossip carries inventory only ([`Announce`]: ids of events and transactions), on one
//!   topic per network and shard.
//! - Everything else is pulled over the sync protocol ([`Request`] → [`Response`]): events with
//!   the ancestors the requester lacks, anti-entropy by heads, transactions.
//! - Every message is size-capped and decoded canonically; each peer has a rate limit and a
//!   misbehaviour score ([`scoring`]), and a peer whose score falls to the ban line is blocked
//!   and disconnected until its ban, which grows with each repeat, runs out.
//!
//! [`Net::start`] runs the swarm on a tokio task; the node talks to it with [`Command`]s and
//! receives [`NetEvent`]s on a bounded channel (full means dropped and counted: backpressure
//! never stalls the swarm). Rules: docs/spec/network.md.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod codec;
pub mod scoring;
mod swarm;
pub mod wire;

pub use codec::{Inbound, SyncCodec};
pub use libp2p::{Multiaddr, PeerId};
pub use scoring::Offence;
pub use swarm::Net;
pub use wire::{Announce, EventWithPayload, Request, Response, WireError};

/// Where and as whom the node joins the network.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// The node's 32-byte ed25519 identity secret (its peer id derives from it).
    pub secret: [u8; 32],
    /// The address to listen on, e.g. `/ip4/127.0.0.1/tcp/30333`.
    pub listen: Multiaddr,
    /// Peers to dial at start (`…/p2p/<peer id>`).
    pub bootnodes: Vec<Multiaddr>,
    /// Names the network on the wire (topic and protocol): the network id and genesis hash.
    pub network: String,
}

/// What the network tells the node.
#[derive(Debug)]
pub enum NetEvent {
    /// Listening on this address.
    Listening(Multiaddr),
    /// A peer connected.
    PeerConnected(PeerId),
    /// A peer's last connection closed.
    PeerDisconnected(PeerId),
    /// A peer announced inventory (already decoded and size-checked).
    Announce {
        /// Who relayed it.
        from: PeerId,
        /// The ids.
        ann: Announce,
    },
    /// A peer asks; answer with [`Command::Respond`] and this token.
    Request {
        /// The asking peer.
        from: PeerId,
        /// What it asks.
        req: Request,
        /// Names the response channel.
        token: u64,
    },
    /// A peer answered our request.
    Response {
        /// The answering peer.
        from: PeerId,
        /// The answer.
        resp: Response,
    },
    /// A request of ours failed (timeout, refused, malformed answer).
    RequestFailed {
        /// The peer asked.
        to: PeerId,
    },
}

/// What the node tells the network.
#[derive(Debug)]
pub enum Command {
    /// Gossips inventory.
    Announce(Announce),
    /// Sends a request; the answer comes back as [`NetEvent::Response`].
    Request {
        /// The peer to ask.
        to: PeerId,
        /// The request.
        req: Request,
    },
    /// Answers [`NetEvent::Request`] `token`.
    Respond {
        /// The request's token.
        token: u64,
        /// The answer.
        resp: Response,
    },
    /// A peer sent something invalid that only the node could judge (a bad event).
    Penalize {
        /// The peer.
        peer: PeerId,
        /// What it did.
        offence: Offence,
    },
    /// Dials an address.
    Dial(Multiaddr),
}

/// Why the network could not start.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// Building the swarm or listening failed.
    #[error("network setup: {0}")]
    Setup(String),
}
