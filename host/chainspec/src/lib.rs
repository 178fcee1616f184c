//! The PhantomCoin chainspec: everything a chain is started from.
//!
//! A chainspec is a JSON file with the chain's identity, its boot nodes, the whole constants
//! sheet ([`ChainConstants`]) and one section per enabled module. Parsing is strict: an unknown
//! or missing field, a wrong type or a broken rule is refused with the field's path.
//!
//! The *raw* form freezes a spec: `{"genesis_hash": …, "spec": …}` where `spec` is the canonical
//! JSON (object keys sorted, no whitespace, no floating-point numbers) and `genesis_hash` is the
//! BLAKE3 hash of those bytes in the chainspec domain. Two nodes with the same raw spec start
//! the same chain; a raw spec whose hash does not match its content is refused.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod canonical;

use pc_codec::{Domain, Hash32};
use pc_runtime_api::{ChainConstants, ConstantsError, is_valid_name};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub use canonical::canonical_json;

const GENESIS_DOMAIN: Domain = Domain::new("phantomcoin/v1/chainspec/genesis");

/// The built-in development chain (k = 1, tiny windows).
pub const DEV_JSON: &str = include_str!("../../../chainspec/dev.json");

/// Chains known by name to `--chain`, with their shipped specs.
pub const BUILT_IN: [(&str, &str); 4] = [
    ("dev", DEV_JSON),
    ("testnet-0", include_str!("../../../chainspec/testnet-0.json")),
    ("local", include_str!("../../../chainspec/local.json")),
    ("testnet-1", include_str!("../../../chainspec/testnet-1.json")),
];

/// What kind of chain a spec describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChainType {
    /// A single-machine development chain.
    Development,
    /// A local multi-node test network.
    Local,
    /// A public network.
    Live,
}

/// A parsed, validated chainspec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainSpec {
    /// Human-readable name.
    pub name: String,
    /// Short machine id, e.g. `dev`, `testnet-0`.
    pub id: String,
    /// Network id: separates networks on the wire and in signatures.
    pub network_id: String,
    /// Kind of chain.
    pub chain_type: ChainType,
    /// libp2p multiaddresses of boot nodes.
    pub boot_nodes: Vec<String>,
    /// The constants sheet.
    pub constants: ChainConstants,
    /// The genesis committee: one BIP-340 x-only seat key (hex) per seat. Development and local
    /// chains may leave it empty to use the well-known keys `phantom-node dev-seats` prints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub committee: Vec<String>,
    /// Enabled modules by name, each with its genesis section (`{}` when it needs none).
    pub modules: BTreeMap<String, serde_json::Value>,
}

/// Why a chainspec was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChainSpecError {
    /// The file could not be read.
    #[error("cannot read chainspec {path}: {source}")]
    Io {
        /// The path tried.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// JSON syntax error, unknown/missing field or wrong type, with the field's path.
    #[error("chainspec field `{field}`: {reason}")]
    Field {
        /// Dotted path of the field (`.` for the document itself).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A raw spec's content does not hash to its stated genesis hash.
    #[error("raw chainspec is corrupt: content hashes to {computed}, but genesis_hash says {stated}")]
    HashMismatch {
        /// What the file claims.
        stated: Hash32,
        /// What its content hashes to.
        computed: Hash32,
    },
}

fn field(f: impl Into<String>, reason: impl Into<String>) -> ChainSpecError {
    ChainSpecError::Field { field: f.into(), reason: reason.into() }
}

fn parse_at<T: serde::de::DeserializeOwned>(value: serde_json::Value, prefix: &str) -> Result<T, ChainSpecError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let full = match (prefix.is_empty(), path.as_str()) {
            (true, p) => p.to_string(),
            (false, ".") => prefix.to_string(),
            (false, p) => format!("{prefix}.{p}"),
        };
        field(full, e.into_inner().to_string())
    })
}

/// Domain of the well-known development seat keys.
const DEV_SEAT: Domain = Domain::new("phantomcoin/v1/node/dev-seat-key");
/// Domain of the rest of a well-known development validator's keys.
const DEV_KEY: Domain = Domain::new("phantomcoin/v1/node/dev-validator-key");

impl ChainSpec {
    /// The secret of seat `seat`'s well-known key: public by design, for development and local
    /// chains that run on one machine. `None` on a live chain or for a seat the chain lacks.
    pub fn dev_seat_secret(&self, seat: u8) -> Option<[u8; 32]> {
        (self.chain_type != ChainType::Live).then(|| DEV_SEAT.hash(&[self.id.as_bytes(), &[seat]].concat()).0)
    }

    /// The secret of seat `seat`'s well-known key for `purpose` other than the seat key itself
    /// (`bond`, `payout`, `vrf`, `bls`): the rest of a development validator's key set, public
    /// by design like the seat key, each in its own derivation so no two purposes share one.
    /// `None` on a live chain.
    pub fn dev_key_secret(&self, seat: u8, purpose: &str) -> Option<[u8; 32]> {
        (self.chain_type != ChainType::Live)
            .then(|| DEV_KEY.hash(&[self.id.as_bytes(), &[0], &[seat], purpose.as_bytes()].concat()).0)
    }

    /// The genesis committee's seat keys (BIP-340 x-only): the `committee` list, or, where a
    /// development or local chain leaves it empty, the well-known keys.
    pub fn seat_keys(&self) -> Result<Vec<pc_crypto::XOnly>, ChainSpecError> {
        if self.committee.is_empty() {
            return (0..self.constants.committee_size)
                .map(|seat| {
                    let secret = self
                        .dev_seat_secret(seat)
                        .ok_or_else(|| field("committee", "a live chain must list its seat keys"))?;
                    pc_crypto::keypair_from_seed(secret)
                        .map(|kp| pc_crypto::XOnly::of(&kp))
                        .map_err(|e| field("committee", e.to_string()))
                })
                .collect();
        }
        self.committee
            .iter()
            .enumerate()
            .map(|(i, k)| {
                Hash32::from_hex(k)
                    .map(|h| pc_crypto::XOnly(h.0))
                    .map_err(|_| field(format!("committee[{i}]"), "must be a 32-byte x-only key in hex"))
            })
            .collect()
    }

    /// Parses either form (plain or raw) from JSON text and validates it.
    pub fn from_json(text: &str) -> Result<Self, ChainSpecError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| field(".", e.to_string()))?;
        canonical::reject_floats(&value, "")?;
        let spec_value = match value.as_object() {
            Some(obj) if obj.contains_key("genesis_hash") => {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Raw {
                    genesis_hash: Hash32,
                    spec: serde_json::Value,
                }
                let raw: Raw = parse_at(value, "")?;
                let computed = GENESIS_DOMAIN.hash(canonical_json(&raw.spec).as_bytes());
                if computed != raw.genesis_hash {
                    return Err(ChainSpecError::HashMismatch { stated: raw.genesis_hash, computed });
                }
                raw.spec
            }
            _ => value,
        };
        let spec: ChainSpec = parse_at(spec_value, "")?;
        spec.validate()?;
        Ok(spec)
    }

    /// Loads a built-in chain by name (`dev`, `testnet-0`, `testnet-1`) or a JSON file by path.
    pub fn load(chain: &str) -> Result<Self, ChainSpecError> {
        if let Some((_, text)) = BUILT_IN.iter().find(|(name, _)| *name == chain) {
            return Self::from_json(text);
        }
        let text = std::fs::read_to_string(Path::new(chain))
            .map_err(|source| ChainSpecError::Io { path: chain.to_string(), source })?;
        Self::from_json(&text)
    }

    /// Checks every rule beyond the JSON shape.
    pub fn validate(&self) -> Result<(), ChainSpecError> {
        if self.name.trim().is_empty() {
            return Err(field("name", "must not be empty"));
        }
        if !is_valid_name(&self.id) {
            return Err(field("id", "must be 1-64 characters of a-z, 0-9 and -"));
        }
        if !is_valid_name(&self.network_id) {
            return Err(field("network_id", "must be 1-64 characters of a-z, 0-9 and -"));
        }
        for (i, addr) in self.boot_nodes.iter().enumerate() {
            if !addr.starts_with('/') || !addr.contains("/p2p/") {
                return Err(field(format!("boot_nodes[{i}]"), "must be a multiaddress ending in /p2p/<peer id>"));
            }
        }
        self.constants.validate().map_err(|e: ConstantsError| field(format!("constants.{}", e.field), e.reason))?;
        if !self.committee.is_empty() && self.committee.len() != usize::from(self.constants.committee_size) {
            return Err(field("committee", "must list exactly constants.committee_size seat keys"));
        }
        for (i, key) in self.committee.iter().enumerate() {
            if Hash32::from_hex(key).is_err() || self.committee[..i].contains(key) {
                return Err(field(format!("committee[{i}]"), "must be a distinct 32-byte x-only key in hex"));
            }
        }
        for name in self.modules.keys() {
            if !is_valid_name(name) {
                return Err(field(format!("modules.{name}"), "module names are 1-64 characters of a-z, 0-9 and -"));
            }
        }
        Ok(())
    }

    /// The spec as a JSON value (plain form, keys in canonical order).
    pub fn to_value(&self) -> Result<serde_json::Value, ChainSpecError> {
        serde_json::to_value(self).map_err(|e| field(".", e.to_string()))
    }

    /// The genesis hash: BLAKE3 (chainspec domain) of the canonical JSON of the spec.
    pub fn genesis_hash(&self) -> Result<Hash32, ChainSpecError> {
        Ok(GENESIS_DOMAIN.hash(canonical_json(&self.to_value()?).as_bytes()))
    }

    /// Pretty JSON of the plain form.
    pub fn to_pretty_json(&self) -> Result<String, ChainSpecError> {
        serde_json::to_string_pretty(self).map_err(|e| field(".", e.to_string()))
    }

    /// The frozen raw form: canonical spec plus its genesis hash, on one line.
    pub fn to_raw_json(&self) -> Result<String, ChainSpecError> {
        let spec = canonical_json(&self.to_value()?);
        let hash = GENESIS_DOMAIN.hash(spec.as_bytes());
        Ok(format!("{{\"genesis_hash\":\"{hash}\",\"spec\":{spec}}}"))
    }
}

#[cfg(test)]
mod tests;
