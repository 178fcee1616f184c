//! Binary Merkle trees over lists: event roots, payout roots, claim proofs.
//!
//! Leaves and inner nodes are hashed in different domains (no second-preimage trick between
//! levels) and an odd node is carried up unchanged rather than duplicated, so two different
//! lists never share a root (the duplication flaw of Bitcoin's tree does not exist here).

use crate::hash::{Domain, Hash32};
use parity_scale_codec::{Decode, Encode};

const LEAF: Domain = Domain::new("phantomcoin/v1/merkle/leaf");
const NODE: Domain = Domain::new("phantomcoin/v1/merkle/node");
const EMPTY: Domain = Domain::new("phantomcoin/v1/merkle/empty");

/// Hashes a leaf's bytes into the tree's leaf domain.
pub fn leaf_hash(bytes: &[u8]) -> Hash32 {
    LEAF.hash(bytes)
}

fn node_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    let mut h = NODE.hasher();
    h.update(&left.0);
    h.update(&right.0);
    Hash32(*h.finalize().as_bytes())
}

/// Root of the tree whose leaves are `leaves` (already leaf-hashed), in order.
pub fn root(leaves: &[Hash32]) -> Hash32 {
    if leaves.is_empty() {
        return EMPTY.hash(&[]);
    }
    let mut level = leaves.to_vec();
    while level.len() > 1 {
        level = next_level(&level);
    }
    level[0]
}

fn next_level(level: &[Hash32]) -> Vec<Hash32> {
    level.chunks(2).map(|pair| if let [l, r] = pair { node_hash(l, r) } else { pair[0] }).collect()
}

/// Proof that one leaf sits at `index` in a list of `len` leaves.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Proof {
    /// Position of the leaf.
    pub index: u32,
    /// Number of leaves in the tree.
    pub len: u32,
    /// Sibling hashes from the leaf level upwards; levels where the node had no sibling are skipped.
    pub siblings: Vec<Hash32>,
}

/// Builds the proof for leaf `index`, or `None` if the index is out of range.
pub fn prove(leaves: &[Hash32], index: usize) -> Option<Proof> {
    if index >= leaves.len() {
        return None;
    }
    let mut siblings = Vec::new();
    let mut level = leaves.to_vec();
    let mut i = index;
    while level.len() > 1 {
        let sib = i ^ 1;
        if sib < level.len() {
            siblings.push(level[sib]);
        }
        level = next_level(&level);
        i /= 2;
    }
    Some(Proof { index: u32::try_from(index).ok()?, len: u32::try_from(leaves.len()).ok()?, siblings })
}

/// Checks that `leaf` is at `proof.index` of a tree with root `root`.
pub fn verify(root_hash: &Hash32, leaf: &Hash32, proof: &Proof) -> bool {
    if proof.index >= proof.len {
        return false;
    }
    let (mut i, mut width) = (proof.index as usize, proof.len as usize);
    let mut acc = *leaf;
    let mut sibs = proof.siblings.iter();
    while width > 1 {
        let sib = i ^ 1;
        if sib < width {
            let Some(s) = sibs.next() else { return false };
            acc = if i % 2 == 0 { node_hash(&acc, s) } else { node_hash(s, &acc) };
        }
        i /= 2;
        width = width.div_ceil(2);
    }
    sibs.next().is_none() && acc == *root_hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(n: usize) -> Vec<Hash32> {
        (0..n as u64).map(|i| leaf_hash(&i.to_le_bytes())).collect()
    }

    #[test]
    fn odd_node_is_not_duplicated() {
        let three = leaves(3);
        let mut four = three.clone();
        four.push(three[2]);
        assert_ne!(root(&three), root(&four));
    }

    #[test]
    fn empty_and_single() {
        assert_ne!(root(&[]), root(&leaves(1)));
        assert_eq!(root(&leaves(1)), leaves(1)[0]);
    }

    proptest! {
        #[test]
        fn every_leaf_proves_and_no_other_leaf_does(n in 1usize..70, pick in 0usize..70) {
            let ls = leaves(n);
            let r = root(&ls);
            let i = pick % n;
            let p = prove(&ls, i).unwrap();
            prop_assert!(verify(&r, &ls[i], &p));
            let wrong = leaf_hash(b"not a leaf");
            prop_assert!(!verify(&r, &wrong, &p));
            if n > 1 {
                let j = (i + 1) % n;
                let moved = Proof { index: j as u32, ..p.clone() };
                prop_assert!(!verify(&r, &ls[i], &moved) || ls[i] == ls[j]);
            }
        }
    }
}
