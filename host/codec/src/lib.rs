//! Canonical binary encoding for PhantomCoin.
//!
//! Every consensus, wire and disk type is SCALE-encoded (`parity-scale-codec`) and decoded only
//! through [`decode_canonical`], which rejects trailing bytes, over-deep nesting, oversized
//! input and any byte string that is not exactly what re-encoding the value produces. Every id
//! is a BLAKE3 hash in a per-type [`Domain`], so two types can never share an id.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod canonical;
mod hash;
pub mod merkle;
mod primitives;

pub use canonical::{CodecError, MAX_DECODE_DEPTH, decode_canonical, encode};
pub use hash::{Domain, Hash32, Identified, hash_encoded, hash_parts};
pub use parity_scale_codec::{self as scale, Compact, Decode, DecodeAll, Encode};
pub use primitives::{AnchorIndex, ConsensusTime, SeatIndex, ShardId};
