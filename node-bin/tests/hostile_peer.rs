//! A hostile peer against four honest validators: it speaks the right protocols (so it gets
//! past the handshake) and then sends malformed gossip, oversized and malformed requests, and
//! a flood of requests. It must be penalised, blocked and disconnected by the node it attacks,
//! while every honest validator keeps finalizing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::testnet::{Node, all_reach, keep_busy, start_validators};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use jsonrpsee_core::client::ClientT;
use jsonrpsee_core::rpc_params;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, StreamProtocol, gossipsub, identify, identity, noise, tcp, yamux};
use std::io;
use std::time::{Duration, Instant};

/// Writes whatever bytes it is given, raw; reads nothing useful back.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

#[async_trait::async_trait]
impl request_response::Codec for RawCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;
    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Vec<u8>> {
        let mut b = Vec::new();
        io.take(1 << 16).read_to_end(&mut b).await?;
        Ok(b)
    }
    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Vec<u8>> {
        let mut b = Vec::new();
        io.take(1 << 24).read_to_end(&mut b).await?;
        Ok(b)
    }
    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        r: Vec<u8>,
    ) -> io::Result<()> {
        io.write_all(&r).await?;
        io.close().await
    }
    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        r: Vec<u8>,
    ) -> io::Result<()> {
        io.write_all(&r).await
    }
}

#[derive(NetworkBehaviour)]
struct Hostile {
    identify: identify::Behaviour,
    gossipsub: gossipsub::Behaviour,
    sync: request_response::Behaviour<RawCodec>,
}

fn frame(body: &[u8], claimed: u32) -> Vec<u8> {
    [&claimed.to_be_bytes()[..], body].concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_peer_is_blocked_while_the_honest_validators_keep_finalizing() {
    let dir = tempfile::tempdir().unwrap();
    let (v, _) = start_validators(dir.path(), 4);
    let _load = keep_busy(v.iter().map(|n| n.url.clone()).collect());
    let all: Vec<&Node> = v.iter().collect();
    all_reach(&all, 3, 60).await;
    let info: serde_json::Value = v[0].client().request("chain_getInfo", rpc_params![]).await.unwrap();
    let network = format!("{}/{}", info["network_id"].as_str().unwrap(), &info["genesis_hash"].as_str().unwrap()[..16]);

    // The hostile peer: the right agent, topic and protocol, the wrong bytes.
    let key = identity::Keypair::generate_ed25519();
    let me = key.public().to_peer_id();
    let topic = gossipsub::IdentTopic::new(format!("/pc/{network}/shard/0/inventory"));
    let protocol = StreamProtocol::try_from_owned(format!("/pc/{network}/sync/3")).unwrap();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(tcp::Config::default(), noise::Config::new, yamux::Config::default)
        .unwrap()
        .with_behaviour(|k| Hostile {
            identify: identify::Behaviour::new(identify::Config::new("/phantomcoin/1".into(), k.public())),
            gossipsub: gossipsub::Behaviour::new(
                gossipsub::MessageAuthenticity::Signed(k.clone()),
                gossipsub::ConfigBuilder::default().max_transmit_size(1 << 20).build().unwrap(),
            )
            .unwrap(),
            sync: request_response::Behaviour::with_codec(
                RawCodec,
                [(protocol, ProtocolSupport::Full)],
                request_response::Config::default().with_max_concurrent_streams(2048),
            ),
        })
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    swarm.behaviour_mut().gossipsub.subscribe(&topic).unwrap();
    let target: PeerId = v[0].peer_id.parse().unwrap();
    let target_addr: Multiaddr = v[0].addr().parse().unwrap();
    swarm.dial(target_addr.clone()).unwrap();

    let before = v[1].best().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut connected, mut closed, mut attacked) = (false, false, false);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    while !closed {
        if Instant::now() >= deadline {
            for l in v[0].log.lock().unwrap().iter().filter(|l| l.contains("pc::net")) {
                eprintln!("{l}");
            }
            panic!("the hostile peer was never disconnected (connected={connected} attacked={attacked})");
        }
        tokio::select! {
            ev = swarm.select_next_some() => match ev {
                SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == target => connected = true,
                SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } if peer_id == target && attacked => closed = true,
                _ => {}
            },
            _ = tick.tick(), if connected && !attacked => {
                let b = swarm.behaviour_mut();
                // Malformed gossip (not an announcement), once the node's subscription is known.
                if b.gossipsub.publish(topic.clone(), vec![0xff; 64]).is_err() {
                    continue;
                }
                let _ = b.gossipsub.publish(topic.clone(), vec![0x00; 200_000]); // oversized
                // A request claiming 100 MB, one of garbage, then a flood of valid-looking ones.
                b.sync.send_request(&target, frame(&[1, 2, 3], 100 << 20));
                b.sync.send_request(&target, frame(&[0xee; 16], 16));
                b.sync.send_request(&target, frame(&[0xee; 16], 16));
                for _ in 0..1000 {
                    b.sync.send_request(&target, frame(&[1, 0], 2)); // Sync { heads: [] }
                }
                attacked = true;
            }
        }
    }

    // Blocked: the node logged it, and a new connection does not stay up.
    let logged = || v[0].log.lock().unwrap().iter().any(|l| l.contains("peer blocked") && l.contains(&me.to_string()));
    let wait = Instant::now() + Duration::from_secs(10);
    while !logged() {
        assert!(Instant::now() < wait, "the node did not log the block");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let saw = |what: &str| v[0].log.lock().unwrap().iter().any(|l| l.contains(what) && l.contains(&me.to_string()));
    assert!(saw("malformed announcement"), "malformed gossip was penalised");
    assert!(saw("invalid request"), "oversized and malformed requests were penalised");
    swarm.dial(target_addr).unwrap();
    let redial = Instant::now() + Duration::from_secs(5);
    let mut up = false;
    while Instant::now() < redial {
        tokio::select! {
            ev = swarm.select_next_some() => match ev {
                SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == target => up = true,
                SwarmEvent::ConnectionClosed { peer_id, num_established: 0, .. } if peer_id == target => up = false,
                _ => {}
            },
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
    assert!(!up, "a blocked peer must not keep a connection");

    // The honest validators kept finalizing throughout.
    all_reach(&all, before + 10, 60).await;
}
