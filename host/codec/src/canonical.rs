//! Canonical decoding: the one entry point for untrusted bytes.

use parity_scale_codec::{Decode, DecodeLimit, Encode};

/// Nesting depth allowed when decoding untrusted bytes (guards the stack against hostile input).
pub const MAX_DECODE_DEPTH: u32 = 32;

/// Why bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// More bytes than the caller allows for this type.
    #[error("{what}: {len} bytes exceed the limit of {max}")]
    TooLong {
        /// The type being decoded.
        what: &'static str,
        /// Bytes offered.
        len: usize,
        /// Bytes allowed.
        max: usize,
    },
    /// SCALE could not decode the bytes (truncated, bad tag, bad compact, trailing bytes, ...).
    #[error("{what}: malformed encoding: {reason}")]
    Malformed {
        /// The type being decoded.
        what: &'static str,
        /// What the decoder reported.
        reason: String,
    },
    /// The bytes decode, but are not the canonical encoding of the value they decode to.
    #[error("{what}: non-canonical encoding")]
    NonCanonical {
        /// The type being decoded.
        what: &'static str,
    },
}

/// SCALE-encodes a value. Exists so call sites read `codec::encode(&x)` next to `decode_canonical`.
pub fn encode<T: Encode + ?Sized>(value: &T) -> Vec<u8> {
    value.encode()
}

/// Decodes `bytes` as `T`, accepting only the canonical encoding.
///
/// The value must use every byte (no trailing data), nest at most [`MAX_DECODE_DEPTH`] deep, and
/// re-encode to exactly `bytes`; this catches every non-canonical form SCALE would otherwise
/// accept (for example unsorted map entries), whatever the type.
///
/// ```
/// use pc_codec::{decode_canonical, encode, CodecError};
/// let bytes = encode(&(7u32, true));
/// assert_eq!(decode_canonical::<(u32, bool)>(&bytes, 64), Ok((7, true)));
/// // A bool must be 0 or 1, and nothing may trail.
/// assert!(decode_canonical::<(u32, bool)>(&[7, 0, 0, 0, 2], 64).is_err());
/// assert!(matches!(decode_canonical::<u8>(&[1, 2], 64), Err(CodecError::Malformed { .. })));
/// ```
pub fn decode_canonical<T: Decode + Encode>(bytes: &[u8], max_len: usize) -> Result<T, CodecError> {
    let what = std::any::type_name::<T>();
    if bytes.len() > max_len {
        return Err(CodecError::TooLong { what, len: bytes.len(), max: max_len });
    }
    let mut input = bytes;
    let value = T::decode_all_with_depth_limit(MAX_DECODE_DEPTH, &mut input)
        .map_err(|e| CodecError::Malformed { what, reason: e.to_string() })?;
    if value.using_encoded(|re| re != bytes) {
        return Err(CodecError::NonCanonical { what });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use parity_scale_codec::Compact;
    use std::collections::BTreeMap;

    #[test]
    fn non_canonical_compact_is_refused() {
        // 1 encoded in the two-byte compact mode instead of the one-byte mode.
        let bytes = [0b0000_0101u8, 0];
        assert!(decode_canonical::<Compact<u32>>(&bytes, 16).is_err());
        assert_eq!(decode_canonical::<Compact<u32>>(&[4], 16), Ok(Compact(1)));
    }

    #[test]
    fn unsorted_map_entries_are_refused() {
        // A map encoded as a vector of pairs with the keys out of order.
        let bytes = encode(&vec![(2u8, 0u8), (1u8, 0u8)]);
        assert_eq!(
            decode_canonical::<BTreeMap<u8, u8>>(&bytes, 64),
            Err(CodecError::NonCanonical { what: std::any::type_name::<BTreeMap<u8, u8>>() })
        );
        let sorted = encode(&vec![(1u8, 0u8), (2u8, 0u8)]);
        assert_eq!(decode_canonical::<BTreeMap<u8, u8>>(&sorted, 64).map(|m| m.len()), Ok(2));
    }

    #[test]
    fn duplicate_map_keys_are_refused() {
        let bytes = encode(&vec![(1u8, 0u8), (1u8, 1u8)]);
        assert!(decode_canonical::<BTreeMap<u8, u8>>(&bytes, 64).is_err());
    }

    #[test]
    fn oversized_input_is_refused_before_decoding() {
        let bytes = vec![0u8; 65];
        assert!(matches!(decode_canonical::<Vec<u8>>(&bytes, 64), Err(CodecError::TooLong { .. })));
    }

    #[test]
    fn huge_length_prefix_does_not_allocate_or_panic() {
        // Claims 2^30 elements but carries none.
        let bytes = encode(&Compact(1u32 << 30));
        assert!(decode_canonical::<Vec<u64>>(&bytes, 1024).is_err());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use parity_scale_codec::Compact;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    type Sample = (u8, Compact<u64>, Option<Vec<u8>>, BTreeMap<u16, bool>, Vec<(u32, [u8; 4])>);

    proptest! {
        /// Any value round-trips.
        #[test]
        fn round_trip(a: u8, b: u64, c: Option<Vec<u8>>, d: BTreeMap<u16, bool>, e: Vec<(u32, [u8; 4])>) {
            let v: Sample = (a, Compact(b), c, d, e);
            let bytes = encode(&v);
            prop_assert_eq!(decode_canonical::<Sample>(&bytes, 1 << 20), Ok(v));
        }

        /// Arbitrary bytes never panic, and whatever is accepted is the value's only encoding.
        #[test]
        fn arbitrary_bytes_are_refused_or_canonical(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(v) = decode_canonical::<Sample>(&bytes, 1 << 20) {
                prop_assert_eq!(encode(&v), bytes);
            }
        }
    }
}
