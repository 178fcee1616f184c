//! Bech32m addresses with HRP `pc`.
//!
//! Data part: one version byte and 32 bytes. Version 0 pays to a BIP-340 key
//! (`Predicate::Key`); version 1 pays to a predicate by its hash (`Predicate::PredicateHash`).

use crate::predicate::{Predicate, predicate_hash};
use crate::sign::XOnly;
use bech32::primitives::decode::CheckedHrpstring;
use bech32::{Bech32m, Hrp};
use pc_codec::Hash32;
use std::fmt;
use std::str::FromStr;

/// The human-readable part of every PhantomCoin address.
pub const HRP: &str = "pc";

/// A payment destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Address {
    /// Version 0: a key.
    Key(XOnly),
    /// Version 1: a predicate hash.
    PredicateHash(Hash32),
}

/// Why a string is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Not Bech32m (a bad character, mixed case, a wrong or Bech32 (non-m) checksum).
    #[error("not a Bech32m address: {0}")]
    Encoding(String),
    /// Another HRP.
    #[error("address prefix is `{0}`, expected `pc`")]
    Hrp(String),
    /// Wrong length or an unknown version.
    #[error("address carries {len} data bytes with version {version}; expected 33 bytes, version 0 or 1")]
    Payload {
        /// Data bytes.
        len: usize,
        /// The version byte (0 if empty).
        version: u8,
    },
}

impl Address {
    /// The predicate an output paying to this address carries.
    pub fn predicate(&self) -> Predicate {
        match self {
            Address::Key(k) => Predicate::Key(*k),
            Address::PredicateHash(h) => Predicate::PredicateHash(*h),
        }
    }

    /// The address under which an output with `p` is listed: keys by key, everything else by
    /// predicate hash (so a version-1 address also finds outputs that spell the predicate out).
    pub fn for_predicate(p: &Predicate) -> Address {
        match p {
            Predicate::Key(k) => Address::Key(*k),
            Predicate::PredicateHash(h) => Address::PredicateHash(*h),
            other => Address::PredicateHash(predicate_hash(other)),
        }
    }

    /// Parses version byte and payload (what [`to_bytes`](Self::to_bytes) writes).
    pub fn from_bytes(b: &[u8; 33]) -> Result<Address, AddressError> {
        let mut payload = [0u8; 32];
        payload.copy_from_slice(&b[1..]);
        match b[0] {
            0 => Ok(Address::Key(XOnly(payload))),
            1 => Ok(Address::PredicateHash(Hash32(payload))),
            version => Err(AddressError::Payload { len: 33, version }),
        }
    }

    /// Version byte and payload.
    pub fn to_bytes(&self) -> [u8; 33] {
        let mut out = [0u8; 33];
        let (v, payload) = match self {
            Address::Key(k) => (0, k.0),
            Address::PredicateHash(h) => (1, h.0),
        };
        out[0] = v;
        out[1..].copy_from_slice(&payload);
        out
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hrp = Hrp::parse_unchecked(HRP);
        bech32::encode_to_fmt::<Bech32m, _>(f, hrp, &self.to_bytes()).map_err(|_| fmt::Error)
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, AddressError> {
        let checked = CheckedHrpstring::new::<Bech32m>(s).map_err(|e| AddressError::Encoding(e.to_string()))?;
        if checked.hrp().to_lowercase() != HRP {
            return Err(AddressError::Hrp(checked.hrp().to_lowercase()));
        }
        checked.validate_segwit_padding().map_err(|e| AddressError::Encoding(e.to_string()))?;
        let data: Vec<u8> = checked.byte_iter().collect();
        let version = data.first().copied().unwrap_or(0);
        let payload: Option<[u8; 32]> = data.get(1..).and_then(|p| p.try_into().ok());
        match (version, payload) {
            (0, Some(p)) => Ok(Address::Key(XOnly(p))),
            (1, Some(p)) => Ok(Address::PredicateHash(Hash32(p))),
            _ => Err(AddressError::Payload { len: data.len(), version }),
        }
    }
}
