//! The node's metrics: one Prometheus registry (prometheus-client, OpenMetrics text) with every
//! series the node exports, and [`serve`], the `/metrics` endpoint (hyper, HTTP/1).
//!
//! Names follow `pc_node_<what>[_<unit>]`; counters get `_total` on the wire. The list with
//! meanings is in docs/observability.md.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::CONTENT_TYPE;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use std::sync::Arc;
use std::time::Duration;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Which cache a hit or miss belongs to.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabel {
    /// `header` or `payload`.
    pub cache: &'static str,
}

/// Every series the node exports. Clones share state.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Events accepted into the DAG (own and peers'); its rate is events/s.
    pub events: Counter,
    /// Events this node created and signed.
    pub own_events: Counter,
    /// Anchors finalized and committed.
    pub finalized_anchors: Counter,
    /// Index of the last committed anchor.
    pub best_anchor: Gauge,
    /// From accepting an event to committing the anchor that finalized it.
    pub finality_latency: Histogram,
    /// Transactions waiting in the mempool.
    pub mempool_pending: Gauge,
    /// Their encoded bytes.
    pub mempool_bytes: Gauge,
    /// Events buffered while their parents are pulled.
    pub pending_events: Gauge,
    /// Event ids being pulled.
    pub pulls_in_flight: Gauge,
    /// Network events the node's queue had to drop (backpressure).
    pub net_dropped: Gauge,
    /// Connected peers.
    pub peers: Gauge,
    /// 1 once the consensus engine halted on more than f Byzantine seats: an alarm.
    pub consensus_halted: Gauge,
    /// The consensus epoch the node is in (the global index of its first anchor).
    pub consensus_epoch: Gauge,
    /// Events the consensus engines hold in memory (current and previous epoch).
    pub consensus_events_in_memory: Gauge,
    /// Bytes those engines hold for events and elections.
    pub consensus_engine_bytes: Gauge,
    /// Equivocations (distinct seat and seq) this node has seen.
    pub equivocations: Counter,
    /// BIP-340 verification of one event signature.
    pub sig_verify: Histogram,
    /// Admission of one transaction (decode, checks, signatures).
    pub tx_admission: Histogram,
    /// Cache hits by cache.
    pub cache_hits: Family<CacheLabel, Counter>,
    /// Cache misses by cache.
    pub cache_misses: Family<CacheLabel, Counter>,
    /// Reading one event header from the store (a cache miss).
    pub store_header_read: Histogram,
    /// Reading one payload from the store (a cache miss).
    pub store_payload_read: Histogram,
}

fn seconds(start: f64, buckets: u16) -> Histogram {
    Histogram::new(exponential_buckets(start, 2.0, buckets))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every series at zero.
    pub fn new() -> Metrics {
        let mut r = Registry::default();
        let m = Metrics {
            events: Counter::default(),
            own_events: Counter::default(),
            finalized_anchors: Counter::default(),
            best_anchor: Gauge::default(),
            finality_latency: seconds(0.005, 14),
            mempool_pending: Gauge::default(),
            mempool_bytes: Gauge::default(),
            pending_events: Gauge::default(),
            pulls_in_flight: Gauge::default(),
            net_dropped: Gauge::default(),
            peers: Gauge::default(),
            consensus_halted: Gauge::default(),
            consensus_epoch: Gauge::default(),
            consensus_events_in_memory: Gauge::default(),
            consensus_engine_bytes: Gauge::default(),
            equivocations: Counter::default(),
            sig_verify: seconds(0.000_005, 14),
            tx_admission: seconds(0.000_005, 16),
            cache_hits: Family::default(),
            cache_misses: Family::default(),
            store_header_read: seconds(0.000_001, 18),
            store_payload_read: seconds(0.000_001, 18),
            registry: Registry::default(),
        };
        r.register("pc_node_events", "Events accepted into the DAG, own and peers'", m.events.clone());
        r.register("pc_node_own_events", "Events this node created and signed", m.own_events.clone());
        r.register("pc_node_finalized_anchors", "Anchors finalized and committed", m.finalized_anchors.clone());
        r.register("pc_node_best_anchor", "Index of the last committed anchor", m.best_anchor.clone());
        r.register_with_unit(
            "pc_node_finality_latency",
            "From accepting an event to committing the anchor that finalized it",
            Unit::Seconds,
            m.finality_latency.clone(),
        );
        r.register("pc_node_mempool_pending", "Transactions waiting in the mempool", m.mempool_pending.clone());
        r.register_with_unit("pc_node_mempool", "Encoded size of the mempool", Unit::Bytes, m.mempool_bytes.clone());
        r.register(
            "pc_node_queue_pending_events",
            "Events buffered while parents are pulled",
            m.pending_events.clone(),
        );
        r.register("pc_node_queue_pulls", "Event ids being pulled", m.pulls_in_flight.clone());
        r.register("pc_node_queue_net_dropped", "Network events dropped on a full queue", m.net_dropped.clone());
        r.register("pc_node_peers", "Connected peers", m.peers.clone());
        r.register(
            "pc_consensus_halted",
            "1 once the engine halted on more than f Byzantine seats (alarm)",
            m.consensus_halted.clone(),
        );
        r.register(
            "pc_consensus_epoch",
            "The consensus epoch this node is in: the index of the epoch's first anchor",
            m.consensus_epoch.clone(),
        );
        r.register(
            "pc_consensus_events_in_memory",
            "Events the consensus engines hold in memory (current and previous epoch)",
            m.consensus_events_in_memory.clone(),
        );
        r.register(
            "pc_consensus_engine_bytes",
            "Bytes the consensus engines hold for events and elections",
            m.consensus_engine_bytes.clone(),
        );
        r.register("pc_consensus_equivocations", "Equivocations this node has seen", m.equivocations.clone());
        r.register_with_unit(
            "pc_node_sig_verify",
            "BIP-340 verification of one event signature",
            Unit::Seconds,
            m.sig_verify.clone(),
        );
        r.register_with_unit(
            "pc_node_tx_admission",
            "Admission of one transaction, signatures included",
            Unit::Seconds,
            m.tx_admission.clone(),
        );
        r.register("pc_node_cache_hits", "Cache hits", m.cache_hits.clone());
        r.register("pc_node_cache_misses", "Cache misses", m.cache_misses.clone());
        r.register_with_unit(
            "pc_node_store_header_read",
            "Reading one event header from the store",
            Unit::Seconds,
            m.store_header_read.clone(),
        );
        r.register_with_unit(
            "pc_node_store_payload_read",
            "Reading one payload from the store",
            Unit::Seconds,
            m.store_payload_read.clone(),
        );
        // Both caches appear from the start, at zero.
        for cache in ["header", "payload"] {
            let _ = m.cache_hits.get_or_create(&CacheLabel { cache });
            let _ = m.cache_misses.get_or_create(&CacheLabel { cache });
        }
        Metrics { registry: r, ..m }
    }

    /// The OpenMetrics text of every series.
    pub fn encode(&self) -> String {
        let mut s = String::new();
        if prometheus_client::encoding::text::encode(&mut s, &self.registry).is_err() {
            s.clear();
        }
        s
    }

    /// Records `d` in `h`.
    pub fn observe(h: &Histogram, d: Duration) {
        h.observe(d.as_secs_f64());
    }
}

/// Serves `GET /metrics` on `listener` until the task is dropped; anything else is 404.
pub async fn serve(listener: tokio::net::TcpListener, metrics: Arc<Metrics>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors or similar: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let metrics = metrics.clone();
                async move {
                    let (status, ctype, body) = if req.method() == Method::GET && req.uri().path() == "/metrics" {
                        (StatusCode::OK, OPENMETRICS, metrics.encode())
                    } else {
                        (StatusCode::NOT_FOUND, "text/plain", "not found\n".to_string())
                    };
                    let mut resp = Response::new(Full::new(Bytes::from(body)));
                    *resp.status_mut() = status;
                    if let Ok(v) = ctype.parse() {
                        resp.headers_mut().insert(CONTENT_TYPE, v);
                    }
                    Ok::<_, std::convert::Infallible>(resp)
                }
            });
            // The timer enables hyper's header-read timeout, so idle connections do not pile up.
            let conn = http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .serve_connection(TokioIo::new(stream), svc);
            if let Err(e) = conn.await {
                tracing::debug!(target: "pc::metrics", %e, "metrics connection ended");
            }
        });
    }
}
