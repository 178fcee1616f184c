//! The swarm and its event loop.

use crate::codec::{Inbound, SyncCodec};
use crate::scoring::{Offence, Scores};
use crate::wire::{Announce, Response};
use crate::{Command, NetConfig, NetError, NetEvent};
use futures::StreamExt;
use libp2p::request_response::{self, ProtocolSupport, ResponseChannel};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    PeerId, StreamProtocol, Swarm, SwarmBuilder, allow_block_list, connection_limits, gossipsub, identify, identity,
    noise, tcp, yamux,
};
use parity_scale_codec::Encode;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const AGENT: &str = "/phantomcoin/1";
/// How often boot nodes we lost are dialed again.
const REDIAL: Duration = Duration::from_secs(5);
/// How often bans that have run out are lifted and silent peers forgotten.
const SWEEP: Duration = Duration::from_secs(10);
const MSG_ID: pc_codec::Domain = pc_codec::Domain::new("phantomcoin/v1/net/gossip-message-id");

#[derive(NetworkBehaviour)]
struct Behaviour {
    block_list: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    limits: connection_limits::Behaviour,
    identify: identify::Behaviour,
    gossipsub: gossipsub::Behaviour,
    sync: request_response::Behaviour<SyncCodec>,
}

/// A running network: its peer id, a command channel and the connected peers.
#[derive(Debug, Clone)]
pub struct Net {
    /// This node's peer id.
    pub peer_id: PeerId,
    commands: mpsc::Sender<Command>,
    peers: Arc<Mutex<BTreeSet<PeerId>>>,
    dropped: Arc<AtomicU64>,
}

fn setup(e: impl ToString) -> NetError {
    NetError::Setup(e.to_string())
}

impl Net {
    /// Builds the swarm, listens, dials the boot nodes and runs the loop on the current tokio
    /// runtime. Events go to `events`; when it is full they are dropped and counted.
    pub fn start(cfg: NetConfig, events: SyncSender<NetEvent>) -> Result<Net, NetError> {
        let keypair = identity::Keypair::ed25519_from_bytes(cfg.secret).map_err(setup)?;
        let topic = gossipsub::IdentTopic::new(format!("/pc/{}/shard/0/inventory", cfg.network));
        let protocol = StreamProtocol::try_from_owned(format!("/pc/{}/sync/3", cfg.network)).map_err(setup)?;
        let mut swarm = SwarmBuilder::with_existing_identity(keypair)
            .with_tokio()
            .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
            .map_err(setup)?
            .with_behaviour(|key| -> Result<Behaviour, Box<dyn std::error::Error + Send + Sync>> {
                let gcfg = gossipsub::ConfigBuilder::default()
                    .max_transmit_size(crate::wire::MAX_ANNOUNCE_BYTES + 1024)
                    .validation_mode(gossipsub::ValidationMode::Strict)
                    .validate_messages()
                    .heartbeat_interval(Duration::from_millis(500))
                    .message_id_fn(|m: &gossipsub::Message| {
                        gossipsub::MessageId::new(&MSG_ID.hash(&[&m.data[..], &m.sequence_number.encode()].concat()).0)
                    })
                    .build()?;
                let gossipsub = gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Signed(key.clone()), gcfg)?;
                let limits = connection_limits::ConnectionLimits::default()
                    .with_max_established_incoming(Some(128))
                    .with_max_established_per_peer(Some(2));
                let rr = request_response::Config::default()
                    .with_request_timeout(Duration::from_secs(10))
                    .with_max_concurrent_streams(512);
                Ok(Behaviour {
                    block_list: allow_block_list::Behaviour::default(),
                    limits: connection_limits::Behaviour::new(limits),
                    identify: identify::Behaviour::new(identify::Config::new(AGENT.to_string(), key.public())),
                    gossipsub,
                    sync: request_response::Behaviour::with_codec(SyncCodec, [(protocol, ProtocolSupport::Full)], rr),
                })
            })
            .map_err(setup)?
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
            .build();
        swarm.behaviour_mut().gossipsub.subscribe(&topic).map_err(setup)?;
        swarm.listen_on(cfg.listen).map_err(setup)?;
        let bootnodes = cfg.bootnodes;
        for addr in &bootnodes {
            if let Err(e) = swarm.dial(addr.clone()) {
                tracing::warn!(target: "pc::net", %addr, %e, "cannot dial boot node");
            }
        }
        let (tx, rx) = mpsc::channel(4096);
        let net = Net {
            peer_id: *swarm.local_peer_id(),
            commands: tx,
            peers: Arc::new(Mutex::new(BTreeSet::new())),
            dropped: Arc::new(AtomicU64::new(0)),
        };
        let lp = Loop {
            swarm,
            topic,
            events,
            scores: Scores::default(),
            channels: HashMap::new(),
            next_token: 0,
            peers: net.peers.clone(),
            dropped: net.dropped.clone(),
            blocked: BTreeSet::new(),
            bootnodes,
        };
        tokio::spawn(lp.run(rx));
        Ok(net)
    }

    /// Queues a command; false if the network loop is gone or its queue is full.
    pub fn send(&self, cmd: Command) -> bool {
        self.commands.try_send(cmd).is_ok()
    }

    /// The connected peers.
    pub fn peers(&self) -> Vec<PeerId> {
        self.peers.lock().map(|p| p.iter().copied().collect()).unwrap_or_default()
    }

    /// Events dropped because the node's queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

struct Loop {
    swarm: Swarm<Behaviour>,
    topic: gossipsub::IdentTopic,
    events: SyncSender<NetEvent>,
    scores: Scores,
    channels: HashMap<u64, ResponseChannel<Response>>,
    next_token: u64,
    peers: Arc<Mutex<BTreeSet<PeerId>>>,
    dropped: Arc<AtomicU64>,
    blocked: BTreeSet<PeerId>,
    bootnodes: Vec<libp2p::Multiaddr>,
}

impl Loop {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut redial = tokio::time::interval(REDIAL);
        let mut sweep = tokio::time::interval(SWEEP);
        loop {
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    None => break, // every handle dropped: shut down
                    Some(cmd) => self.command(cmd),
                },
                ev = self.swarm.select_next_some() => self.swarm_event(ev),
                _ = redial.tick() => self.redial(),
                _ = sweep.tick() => self.lift_expired_bans(),
            }
        }
    }

    /// Dials again the boot nodes we are not connected to (one restarted, or was down at start).
    fn redial(&mut self) {
        use libp2p::multiaddr::Protocol;
        for addr in self.bootnodes.clone() {
            let peer = addr.iter().find_map(|p| match p {
                Protocol::P2p(id) => Some(id),
                _ => None,
            });
            if peer.is_some_and(|p| self.swarm.is_connected(&p) || self.blocked.contains(&p)) {
                continue;
            }
            if let Err(e) = self.swarm.dial(addr.clone()) {
                tracing::trace!(target: "pc::net", %addr, %e, "redial failed");
            }
        }
    }

    fn emit(&mut self, ev: NetEvent) {
        match self.events.try_send(ev) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    fn penalize(&mut self, peer: PeerId, offence: Offence) {
        if self.scores.penalize(peer, offence, Instant::now()) {
            self.block(peer, offence);
        }
    }

    /// Blocks and disconnects a peer once (later offences of a blocked peer change nothing).
    fn block(&mut self, peer: PeerId, offence: Offence) {
        if !self.blocked.insert(peer) {
            return;
        }
        tracing::warn!(target: "pc::net", %peer, ?offence, score = self.scores.score(&peer), "peer blocked and disconnected");
        let b = self.swarm.behaviour_mut();
        b.block_list.block_peer(peer);
        b.gossipsub.blacklist_peer(&peer);
        let _ = self.swarm.disconnect_peer_id(peer);
    }

    /// Unblocks the peers whose ban ran out; they come back on probation (`scoring`).
    fn lift_expired_bans(&mut self) {
        for peer in self.scores.expire(Instant::now()) {
            if !self.blocked.remove(&peer) {
                continue;
            }
            let b = self.swarm.behaviour_mut();
            b.block_list.unblock_peer(peer);
            b.gossipsub.remove_blacklisted_peer(&peer);
            tracing::info!(target: "pc::net", %peer, score = self.scores.score(&peer), "peer ban lifted, on probation");
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Announce(a) => {
                if let Err(e) = self.swarm.behaviour_mut().gossipsub.publish(self.topic.clone(), a.encode()) {
                    tracing::trace!(target: "pc::net", %e, "announcement not published"); // no peers yet is routine
                }
            }
            Command::Request { to, req } => {
                self.swarm.behaviour_mut().sync.send_request(&to, Inbound::Valid(req));
            }
            Command::Respond { token, resp } => {
                if let Some(ch) = self.channels.remove(&token)
                    && self.swarm.behaviour_mut().sync.send_response(ch, resp).is_err()
                {
                    tracing::debug!(target: "pc::net", "response not sent: the request timed out or the peer left");
                }
            }
            Command::Penalize { peer, offence } => self.penalize(peer, offence),
            Command::Dial(addr) => {
                if let Err(e) = self.swarm.dial(addr) {
                    tracing::debug!(target: "pc::net", %e, "dial failed");
                }
            }
        }
    }

    fn set_peers(&self, f: impl FnOnce(&mut BTreeSet<PeerId>)) {
        if let Ok(mut p) = self.peers.lock() {
            f(&mut p);
        }
    }

    fn swarm_event(&mut self, ev: SwarmEvent<BehaviourEvent>) {
        match ev {
            SwarmEvent::NewListenAddr { address, .. } => self.emit(NetEvent::Listening(address)),
            SwarmEvent::ConnectionEstablished { peer_id, num_established, .. } if num_established.get() == 1 => {
                self.set_peers(|p| {
                    p.insert(peer_id);
                });
                self.emit(NetEvent::PeerConnected(peer_id));
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } => {
                self.set_peers(|p| {
                    p.remove(&peer_id);
                });
                self.emit(NetEvent::PeerDisconnected(peer_id));
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. })) => {
                if info.protocol_version != AGENT {
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                    return;
                }
                for a in info.listen_addrs {
                    self.swarm.add_peer_address(peer_id, a);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.gossip(propagation_source, message_id, &message.data),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(ev)) => self.sync_event(ev),
            _ => {}
        }
    }

    fn gossip(&mut self, from: PeerId, id: gossipsub::MessageId, data: &[u8]) {
        let now = Instant::now();
        let verdict = if !self.scores.admit(from, now) {
            gossipsub::MessageAcceptance::Ignore
        } else {
            match Announce::decode_wire(data) {
                Ok(ann) => {
                    self.emit(NetEvent::Announce { from, ann });
                    gossipsub::MessageAcceptance::Accept
                }
                Err(e) => {
                    tracing::debug!(target: "pc::net", peer = %from, %e, "malformed announcement");
                    self.penalize(from, Offence::Malformed);
                    gossipsub::MessageAcceptance::Reject
                }
            }
        };
        self.swarm.behaviour_mut().gossipsub.report_message_validation_result(&id, &from, verdict);
        if self.scores.banned(&from) {
            self.block(from, Offence::Flooding); // over the rate limit (a no-op if already blocked)
        }
    }

    fn sync_event(&mut self, ev: request_response::Event<Inbound, Response>) {
        use request_response::{Event, Message};
        match ev {
            Event::Message { peer, message: Message::Request { request, channel, .. }, .. } => {
                if !self.scores.admit(peer, Instant::now()) {
                    if self.scores.banned(&peer) {
                        self.block(peer, Offence::Flooding);
                    }
                    return; // dropping the channel refuses the request
                }
                let request = match request {
                    Inbound::Valid(r) => r,
                    Inbound::Invalid(why) => {
                        tracing::debug!(target: "pc::net", %peer, why, "invalid request");
                        self.penalize(peer, Offence::Malformed);
                        return; // dropping the channel refuses it
                    }
                };
                self.next_token += 1;
                self.channels.insert(self.next_token, channel);
                self.emit(NetEvent::Request { from: peer, req: request, token: self.next_token });
            }
            Event::Message { peer, message: Message::Response { response, .. }, .. } => {
                self.emit(NetEvent::Response { from: peer, resp: response });
            }
            Event::OutboundFailure { peer, error, .. } => {
                if matches!(&error, request_response::OutboundFailure::Io(e) if e.kind() == std::io::ErrorKind::InvalidData)
                {
                    self.penalize(peer, Offence::Malformed);
                }
                tracing::debug!(target: "pc::net", %peer, %error, "request failed");
                self.emit(NetEvent::RequestFailed { to: peer });
            }
            Event::InboundFailure { peer, error, .. } => {
                // Only bytes the peer sent count against it; a timeout may be ours.
                if matches!(&error, request_response::InboundFailure::Io(e) if e.kind() == std::io::ErrorKind::InvalidData)
                {
                    self.penalize(peer, Offence::Malformed);
                }
                tracing::debug!(target: "pc::net", %peer, %error, "inbound request failed");
            }
            Event::ResponseSent { .. } => {}
        }
        self.channels.retain(|_, ch| ch.is_open());
    }
}
