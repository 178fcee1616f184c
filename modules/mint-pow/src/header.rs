//! The mint header, its id and its proof of work.

use pc_runtime_api::codec::{Decode, Domain, Encode, Hash32, hash_encoded};

const POW: Domain = Domain::new("phantomcoin/v1/mint/pow");
const ID: Domain = Domain::new("phantomcoin/v1/mint/id");
const GENESIS_MINT: Domain = Domain::new("phantomcoin/v1/mint/genesis-tip");
const TIP_TAG: Domain = Domain::new("phantomcoin/v1/mint/tip-tag");

/// What a miner hashes (docs/spec/mint.md §2). The call of the `mint-pow` module is exactly
/// this, SCALE-encoded.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct MintHeader {
    /// 0.
    pub version: u8,
    /// The chain's genesis hash.
    pub genesis: Hash32,
    /// Id of the newest finalized mint ([`genesis_tip`] before the first).
    pub prev_mint: Hash32,
    /// The previous mint's height + 1.
    pub height: u64,
    /// The target this solution meets, big-endian.
    pub target: [u8; 32],
    /// Maturity tier index.
    pub tier: u8,
    /// Bech32m address bytes (version byte + 32) of the payout.
    pub payout: [u8; 33],
    /// Free.
    pub nonce: u64,
}

impl MintHeader {
    /// The mint id (also the minted output's transaction id).
    pub fn id(&self) -> Hash32 {
        hash_encoded(ID, self)
    }

    /// The proof-of-work hash.
    pub fn pow_hash(&self) -> [u8; 32] {
        hash_encoded(POW, self).0
    }

    /// True if the PoW hash, big-endian, is ≤ the header's target.
    pub fn meets_target(&self) -> bool {
        self.pow_hash() <= self.target
    }

    /// Byte offset of the nonce in the encoding (it is the last field: a miner rewrites only
    /// those 8 bytes).
    pub fn nonce_offset(&self) -> usize {
        self.encoded_size() - 8
    }
}

/// The proof-of-work hash of encoded header bytes (what a miner computes per nonce).
pub fn pow_hash_bytes(encoded: &[u8]) -> [u8; 32] {
    *POW.hasher().update(encoded).finalize().as_bytes()
}

/// A PoW hasher that has already absorbed `prefix` (a miner's midstate: the header bytes
/// before the 64-byte block that holds the nonce never change between nonces).
pub fn pow_midstate(prefix: &[u8]) -> blake3::Hasher {
    let mut h = POW.hasher();
    h.update(prefix);
    h
}

/// The `prev_mint` of the first mint on a chain.
pub fn genesis_tip(genesis_hash: &Hash32) -> Hash32 {
    GENESIS_MINT.hash(&genesis_hash.0)
}

/// The mempool tag two mints on the same tip share (so the second is refused as a conflict).
pub fn tip_tag(prev_mint: &Hash32) -> Hash32 {
    TIP_TAG.hash(&prev_mint.0)
}
