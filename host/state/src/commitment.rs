//! The state commitment: a lattice hash (LtHash) over every state entry.
//!
//! Each entry `(key, value)` maps to a vector of 1,024 16-bit lanes, the BLAKE3 extendable
//! output of the entry in its own domain. The accumulator is the lane-wise sum (mod 2¹⁶) of the
//! vectors of all entries, and the state root is the BLAKE3 hash of the accumulator. Adding and
//! removing an entry are one addition or subtraction of its vector, in any order, so an anchor
//! costs one vector per changed entry whatever the size of the state, and the vectors are
//! computed in parallel. This is the construction Solana adopted for its accounts hash (the
//! `solana-lattice-hash` crate supplies the type); see `docs/spec/storage.md` for its rules and
//! `docs/design-throughput.md` for why it replaced the sparse Merkle tree.

use crate::StateError;
use pc_codec::{Domain, Hash32};
use rayon::prelude::*;
use solana_lattice_hash::lt_hash::LtHash;

// The lanes are the XOF bytes read as u16 in the host's byte order (the crate casts); the
// protocol defines them as little-endian, which is what that cast gives on every host we build.
#[cfg(not(target_endian = "little"))]
compile_error!("the state commitment reads LtHash lanes as little-endian u16; big-endian hosts are not supported");

const ENTRY_DOMAIN: Domain = Domain::new("phantomcoin/v1/state/entry");
const ROOT_DOMAIN: Domain = Domain::new("phantomcoin/v1/state/root");

/// Size of the persisted accumulator: 1,024 lanes of 2 bytes.
pub const ACCUMULATOR_BYTES: usize = 2 * LtHash::NUM_ELEMENTS;

/// Below this many changes an anchor's vectors are computed on the calling thread.
const PARALLEL_FROM: usize = 64;

/// One state entry's change in an anchor: its key, the committed value and the new one.
pub(crate) type Change<'a> = (&'a [u8], Option<&'a [u8]>, Option<&'a [u8]>);

/// The homomorphic sum over a set of state entries.
#[derive(Clone, PartialEq, Eq)]
pub struct Accumulator(LtHash);

impl std::fmt::Debug for Accumulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Accumulator({})", self.root())
    }
}

/// The vector of one entry.
fn vector(key: &[u8], value: &[u8]) -> LtHash {
    let mut h = ENTRY_DOMAIN.hasher();
    // The key's length first, so the split between key and value is unambiguous.
    h.update(&u32::try_from(key.len()).unwrap_or(u32::MAX).to_le_bytes());
    h.update(key);
    h.update(value);
    LtHash::with(&h)
}

impl Accumulator {
    /// The accumulator of the empty state.
    pub fn empty() -> Self {
        Accumulator(LtHash::identity())
    }

    /// The accumulator of a set of entries (keys distinct), computed in parallel.
    pub fn of_entries<'a>(entries: impl ParallelIterator<Item = (&'a [u8], &'a [u8])>) -> Self {
        let sum = entries.fold(LtHash::identity, |mut acc, (k, v)| {
            acc.mix_in(&vector(k, v));
            acc
        });
        Accumulator(sum.reduce(LtHash::identity, |mut a, b| {
            a.mix_in(&b);
            a
        }))
    }

    /// Adds an entry that is not in the set.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) {
        self.0.mix_in(&vector(key, value));
    }

    /// Removes an entry that is in the set.
    pub fn remove(&mut self, key: &[u8], value: &[u8]) {
        self.0.mix_out(&vector(key, value));
    }

    /// Applies an anchor's changes: every old value out, every new value in (in parallel
    /// when there are many; the sum does not depend on the order).
    pub(crate) fn apply(&mut self, changes: &[Change<'_>]) {
        let one = |mut acc: LtHash, (key, old, new): &Change<'_>| {
            if let Some(old) = old {
                acc.mix_out(&vector(key, old));
            }
            if let Some(new) = new {
                acc.mix_in(&vector(key, new));
            }
            acc
        };
        let delta = if changes.len() < PARALLEL_FROM {
            changes.iter().fold(LtHash::identity(), one)
        } else {
            changes.par_iter().fold(LtHash::identity, one).reduce(LtHash::identity, |mut a, b| {
                a.mix_in(&b);
                a
            })
        };
        self.0.mix_in(&delta);
    }

    /// The state root: BLAKE3 of the accumulator's little-endian lanes, in its own domain.
    pub fn root(&self) -> Hash32 {
        ROOT_DOMAIN.hash(&self.to_bytes())
    }

    /// The persisted form: the lanes, little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.0.iter().flat_map(|lane| lane.to_le_bytes()).collect()
    }

    /// Reads the persisted form back.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StateError> {
        if bytes.len() != ACCUMULATOR_BYTES {
            return Err(StateError::Accumulator(bytes.len()));
        }
        let mut acc = LtHash::identity();
        for (lane, pair) in acc.0.iter_mut().zip(bytes.chunks_exact(2)) {
            *lane = u16::from_le_bytes([pair[0], pair[1]]);
        }
        Ok(Accumulator(acc))
    }
}

/// The root of the empty state (a database before genesis, a snapshot without entries).
pub fn empty_state_root() -> Hash32 {
    Accumulator::empty().root()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persisted_form_round_trips_and_rejects_other_lengths() {
        let mut a = Accumulator::empty();
        a.insert(b"k", b"v");
        assert_eq!(Accumulator::from_bytes(&a.to_bytes()).unwrap(), a);
        assert!(Accumulator::from_bytes(&[0u8; ACCUMULATOR_BYTES - 1]).is_err());
    }

    #[test]
    fn key_value_split_is_part_of_the_entry() {
        let mut a = Accumulator::empty();
        a.insert(b"ab", b"c");
        let mut b = Accumulator::empty();
        b.insert(b"a", b"bc");
        assert_ne!(a.root(), b.root());
    }

    #[test]
    fn parallel_and_sequential_apply_agree() {
        let keys: Vec<Vec<u8>> = (0u32..200).map(|i| i.to_le_bytes().to_vec()).collect();
        let changes: Vec<Change<'_>> = keys.iter().map(|k| (k.as_slice(), None, Some(k.as_slice()))).collect();
        let mut par = Accumulator::empty();
        par.apply(&changes);
        let mut seq = Accumulator::empty();
        for k in &keys {
            seq.insert(k, k);
        }
        assert_eq!(par, seq);
        // Updates and removals, over the parallel path again.
        let changes: Vec<Change<'_>> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.as_slice(), Some(k.as_slice()), (i % 2 == 0).then_some(&b"new"[..])))
            .collect();
        par.apply(&changes);
        let mut seq = Accumulator::empty();
        for k in keys.iter().step_by(2) {
            seq.insert(k, b"new");
        }
        assert_eq!(par, seq);
    }
}
