//! Domain-separated BLAKE3 hashing.

use parity_scale_codec::{Decode, Encode};
use std::fmt;

/// A 32-byte BLAKE3 digest: every id, root and PoW hash in PhantomCoin.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Encode, Decode)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    /// The all-zero value, used only as "no parent" markers, never as a real digest.
    pub const ZERO: Hash32 = Hash32([0; 32]);

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The first 8 bytes as a little-endian integer: a digest's bytes are uniform, so this
    /// spreads keys over shards or seats without hashing again.
    pub fn prefix_u64(&self) -> u64 {
        let [a, b, c, d, e, f, g, h, ..] = self.0;
        u64::from_le_bytes([a, b, c, d, e, f, g, h])
    }

    /// Lower-case hex, 64 characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex characters (an optional `0x` prefix is accepted).
    pub fn from_hex(s: &str) -> Result<Self, hex::FromHexError> {
        let s = s.strip_prefix("0x").unwrap_or(s);
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)?;
        Ok(Hash32(out))
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash32({})", self.to_hex())
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl serde::Serialize for Hash32 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Hash32 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        Hash32::from_hex(&s).map_err(|e| serde::de::Error::custom(format!("expected 64 hex characters: {e}")))
    }
}

/// A hashing domain: BLAKE3's key-derivation mode with a context string unique to one use.
///
/// Context strings follow `phantomcoin/v1/<subsystem>/<what>`; a new type gets a new string, and
/// a changed layout gets a new version, so no two kinds of data can ever collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Domain(&'static str);

impl Domain {
    /// Declares a domain. The string must be globally unique; see `docs/spec/codec.md`.
    pub const fn new(context: &'static str) -> Self {
        Domain(context)
    }

    /// The context string.
    pub const fn context(&self) -> &'static str {
        self.0
    }

    /// Starts a hasher in this domain.
    pub fn hasher(&self) -> blake3::Hasher {
        blake3::Hasher::new_derive_key(self.0)
    }

    /// Hashes one byte string in this domain.
    pub fn hash(&self, bytes: &[u8]) -> Hash32 {
        let mut h = self.hasher();
        h.update(bytes);
        Hash32(*h.finalize().as_bytes())
    }
}

/// Hashes several byte strings in a domain, each prefixed with its length so the split is unambiguous.
pub fn hash_parts(domain: Domain, parts: &[&[u8]]) -> Hash32 {
    let mut h = domain.hasher();
    for part in parts {
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part);
    }
    Hash32(*h.finalize().as_bytes())
}

/// Hashes the canonical SCALE encoding of a value in a domain.
pub fn hash_encoded<T: Encode + ?Sized>(domain: Domain, value: &T) -> Hash32 {
    value.using_encoded(|bytes| domain.hash(bytes))
}

/// A type whose id is the domain-separated hash of its canonical encoding.
pub trait Identified: Encode {
    /// The type's own hashing domain.
    const DOMAIN: Domain;

    /// `BLAKE3-derive-key(DOMAIN, SCALE(self))`.
    fn id(&self) -> Hash32 {
        hash_encoded(Self::DOMAIN, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_separate_equal_bytes() {
        let a = Domain::new("phantomcoin/v1/test/a").hash(b"x");
        let b = Domain::new("phantomcoin/v1/test/b").hash(b"x");
        assert_ne!(a, b);
    }

    #[test]
    fn parts_are_length_prefixed() {
        let d = Domain::new("phantomcoin/v1/test/parts");
        assert_ne!(hash_parts(d, &[b"ab", b"c"]), hash_parts(d, &[b"a", b"bc"]));
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let h = Domain::new("phantomcoin/v1/test/hex").hash(b"");
        assert_eq!(Hash32::from_hex(&h.to_hex()), Ok(h));
        assert_eq!(Hash32::from_hex(&format!("0x{h}")), Ok(h));
        assert!(Hash32::from_hex("abc").is_err());
        let json = serde_json::to_string(&h).unwrap_or_default();
        assert_eq!(serde_json::from_str::<Hash32>(&json).ok(), Some(h));
    }
}
