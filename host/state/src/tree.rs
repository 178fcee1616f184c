//! The sparse Merkle tree over the state: `jmt` with BLAKE3 in a PhantomCoin domain.

use crate::StateError;
use pc_codec::{Domain, Hash32};
use pc_store::{Column, KvStore};

const KEY_DOMAIN: Domain = Domain::new("phantomcoin/v1/state/key");
const TREE_DOMAIN: Domain = Domain::new("phantomcoin/v1/state/jmt-node");

/// Root of a state with no keys (the tree's placeholder for an empty subtree).
pub const EMPTY_STATE_ROOT: Hash32 = Hash32(*b"SPARSE_MERKLE_PLACEHOLDER_HASH__");

/// BLAKE3 in the tree's own domain, for `jmt`'s node and value hashing.
#[derive(Debug, Clone)]
pub struct TreeHasher(blake3::Hasher);

impl jmt::SimpleHasher for TreeHasher {
    fn new() -> Self {
        TreeHasher(TREE_DOMAIN.hasher())
    }
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    fn finalize(self) -> [u8; 32] {
        *self.0.finalize().as_bytes()
    }
}

pub(crate) type Tree<'a, R> = jmt::JellyfishMerkleTree<'a, R, TreeHasher>;

/// The tree position of a state key.
pub fn key_hash(key: &[u8]) -> jmt::KeyHash {
    jmt::KeyHash(KEY_DOMAIN.hash(key).0)
}

/// A value (or its absence) with the Merkle path that binds it to a state root.
#[derive(Debug, Clone)]
pub struct StateProof {
    /// The state key proven.
    pub key: Vec<u8>,
    /// Its value, or `None` for a proof of absence.
    pub value: Option<Vec<u8>>,
    /// The sibling path.
    pub proof: jmt::proof::SparseMerkleProof<TreeHasher>,
}

/// Checks a proof against a state root. `Ok` means the root commits to exactly `proof.value`.
pub fn verify_proof(root: &Hash32, proof: &StateProof) -> Result<(), StateError> {
    proof
        .proof
        .verify(jmt::RootHash(root.0), key_hash(&proof.key), proof.value.as_ref())
        .map_err(|e| StateError::Tree(e.to_string()))
}

/// Reads tree nodes out of the store for `jmt`. Values are stored by state key, not by key
/// hash, so the only value `jmt` can ask for is the one a proof is being built for.
pub(crate) struct TreeStore<'a> {
    pub kv: &'a dyn KvStore,
    /// The key hash being proven and its value (`None`: absent).
    pub proving: Option<(jmt::KeyHash, Option<Vec<u8>>)>,
}

/// Queues the tree nodes of an update for writing.
pub(crate) fn stage_nodes(
    update: &jmt::storage::TreeUpdateBatch,
    batch: &mut pc_store::WriteBatch,
) -> Result<(), StateError> {
    for (nk, node) in update.node_batch.nodes() {
        let bytes = borsh::to_vec(node).map_err(|e| StateError::Tree(e.to_string()))?;
        batch.put(Column::TreeNodes, node_key_bytes(nk)?, bytes);
    }
    Ok(())
}

pub(crate) fn node_key_bytes(key: &jmt::storage::NodeKey) -> Result<Vec<u8>, StateError> {
    borsh::to_vec(key).map_err(|e| StateError::Tree(e.to_string()))
}

impl jmt::storage::TreeReader for TreeStore<'_> {
    fn get_node_option(&self, node_key: &jmt::storage::NodeKey) -> anyhow::Result<Option<jmt::storage::Node>> {
        let k = borsh::to_vec(node_key)?;
        match self.kv.get(Column::TreeNodes, &k)? {
            None => Ok(None),
            Some(bytes) => Ok(Some(borsh::from_slice(&bytes)?)),
        }
    }

    /// Only the value of the key being proven (tree updates never read values).
    fn get_value_option(
        &self,
        _max_version: jmt::Version,
        key_hash: jmt::KeyHash,
    ) -> anyhow::Result<Option<jmt::OwnedValue>> {
        match &self.proving {
            Some((h, v)) if *h == key_hash => Ok(v.clone()),
            _ => anyhow::bail!("state values are read by key, not by key hash"),
        }
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(jmt::storage::NodeKey, jmt::storage::LeafNode)>> {
        anyhow::bail!("tree restore through jmt is not used; snapshots rebuild the tree from values")
    }
}
