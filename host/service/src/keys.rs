//! Seat keys and event signatures (BIP-340 over the event id).

use crate::ServiceError;
use pc_chainspec::{ChainSpec, ChainType};
use pc_codec::{Domain, Hash32, Identified};
use pc_consensus::{Event, SignatureVerifier};
use pc_crypto::{Bip340, Keypair, XOnly, keypair_from_seed, sign_prehashed};

/// Well-known validator key `seat` on a development or local chain. Public by design: such
/// chains run on one machine; real seat keys come from phantom-signer and are listed in the
/// chainspec's `committee`. Keys below the committee size are the genesis committee's (where a
/// committee is listed, seat N's well-known key is usable only if the list names it: a test
/// network may mix signer-held and well-known seats); higher ones are candidates that a
/// committee provider may seat later.
pub fn dev_seat_key(spec: &ChainSpec, seat: u8) -> Result<Keypair, ServiceError> {
    if spec.chain_type == ChainType::Live {
        return Err(ServiceError::NoSeat(format!("chain `{}` is live: it has no well-known seat keys", spec.id)));
    }
    let secret =
        spec.dev_seat_secret(seat).ok_or_else(|| ServiceError::NoSeat(format!("seat {seat} has no well-known key")))?;
    let kp = keypair_from_seed(secret).map_err(|e| ServiceError::NoSeat(e.to_string()))?;
    if seat < spec.constants.committee_size
        && let Some(listed) = spec.committee.get(usize::from(seat))
        && *listed != hex::encode(XOnly::of(&kp).0)
    {
        return Err(ServiceError::NoSeat(format!(
            "chain `{}` lists seat {seat}'s key, and it is not the well-known one: use phantom-signer",
            spec.id
        )));
    }
    Ok(kp)
}

/// The well-known seat keys of a chain (what `phantom-node dev-seats` prints).
pub fn dev_seat_keys(spec: &ChainSpec) -> Result<Vec<XOnly>, ServiceError> {
    if spec.chain_type == ChainType::Live {
        return Err(ServiceError::NoSeat(format!("chain `{}` is live: it has no well-known seat keys", spec.id)));
    }
    let mut plain = spec.clone();
    plain.committee.clear();
    plain.seat_keys().map_err(|e| ServiceError::NoSeat(e.to_string()))
}

const DEV_ACCOUNT: Domain = Domain::new("phantomcoin/v1/node/dev-account-key");

/// Development account `i` (funded by `chainspec/dev.json`). Public by design, like the dev seat
/// key: `phantom-node dev-accounts` prints them.
pub fn dev_account_key(i: u32) -> Result<Keypair, ServiceError> {
    keypair_from_seed(DEV_ACCOUNT.hash(&i.to_le_bytes()).0).map_err(|e| ServiceError::NoSeat(e.to_string()))
}

/// Signs an event id.
pub fn sign_event(kp: &Keypair, id: &Hash32) -> [u8; 64] {
    sign_prehashed(kp, &id.0)
}

/// Where the seat key lives: in the node (development chains only) or in phantom-signer,
/// reached over its socket (docs/signer.md), which keeps the slashing-protection record.
#[derive(Debug)]
pub enum SeatSigner {
    /// A key held by the node.
    Local(Keypair),
    /// Seat key `index` of a phantom-signer service.
    Remote {
        /// The connection.
        client: pc_signer_client::Client,
        /// Seat key index in the signer's keystore.
        index: u32,
        /// Its public key, fetched once at start.
        key: XOnly,
    },
}

impl SeatSigner {
    /// Connects to the service at `socket` and fetches seat key `index`.
    pub fn remote(socket: &std::path::Path, token_file: &std::path::Path, index: u32) -> Result<Self, ServiceError> {
        let mut client =
            pc_signer_client::Client::new(socket, token_file).map_err(|e| ServiceError::Signer(e.to_string()))?;
        let key = client.seat_key(index).map_err(|e| ServiceError::Signer(e.to_string()))?;
        Ok(SeatSigner::Remote { client, index, key })
    }

    /// The seat's public key.
    pub fn public_key(&self) -> XOnly {
        match self {
            SeatSigner::Local(kp) => XOnly::of(kp),
            SeatSigner::Remote { key, .. } => *key,
        }
    }

    /// Signs `event`. A remote refusal (slashing protection) or an unreachable signer is
    /// [`ServiceError::Signer`]: the event stays unsigned and may be offered again.
    pub fn sign(&mut self, event: &Event) -> Result<[u8; 64], ServiceError> {
        match self {
            SeatSigner::Local(kp) => Ok(sign_event(kp, &event.id())),
            SeatSigner::Remote { client, index, key } => {
                client.sign_event(*index, key, event).map_err(|e| ServiceError::Signer(e.to_string()))
            }
        }
    }
}

/// The committee's seat keys: the chainspec's list, or the well-known keys where it may be empty.
pub fn committee_keys(spec: &ChainSpec) -> Result<Vec<XOnly>, ServiceError> {
    spec.seat_keys().map_err(|e| ServiceError::NoSeat(e.to_string()))
}

/// Verifies event signatures against the committee's seat keys.
#[derive(Debug, Clone)]
pub struct SeatKeys(pub Vec<XOnly>);

impl SeatKeys {
    /// The committee of the grid epoch that holds anchor `first`, from the committed state
    /// (docs/runtime-api.md §13): an epoch's engine checks its events against these keys.
    pub fn of_epoch(ctx: &crate::NodeCtx, first: u64) -> Result<SeatKeys, ServiceError> {
        let c = ctx.rt.committee(&ctx.db, first)?.ok_or_else(|| {
            ServiceError::Consensus(format!("the state holds no committee for the epoch of anchor {first}"))
        })?;
        Ok(SeatKeys(c.seats.iter().map(|s| XOnly(s.key)).collect()))
    }

    /// The seat `key` holds in this committee, if any.
    pub fn seat_of(&self, key: &XOnly) -> Option<u8> {
        self.0.iter().position(|k| k == key).and_then(|i| u8::try_from(i).ok())
    }
}

impl SignatureVerifier for SeatKeys {
    fn verify(&self, creator: u8, id: &Hash32, sig: &[u8; 64]) -> bool {
        self.0.get(usize::from(creator)).is_some_and(|k| Bip340::verify(k, &id.0, sig))
    }
}

/// A verifier that records how long each signature check takes (`pc_node_sig_verify_seconds`).
#[derive(Debug)]
pub struct Timed<'a> {
    /// The keys.
    pub inner: &'a SeatKeys,
    /// Where the time goes.
    pub hist: &'a prometheus_client::metrics::histogram::Histogram,
}

impl SignatureVerifier for Timed<'_> {
    fn verify(&self, creator: u8, id: &Hash32, sig: &[u8; 64]) -> bool {
        let t = std::time::Instant::now();
        let ok = self.inner.verify(creator, id, sig);
        self.hist.observe(t.elapsed().as_secs_f64());
        ok
    }
}
