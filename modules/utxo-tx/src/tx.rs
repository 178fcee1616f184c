//! The transaction format and its stateless checks.

use crate::predicate::{Predicate, PredicateError, Witness};
use pc_codec::{Decode, Domain, Encode, Hash32};

/// Largest encoded transaction, witnesses included.
pub const MAX_TX_BYTES: usize = 100_000;
/// Most inputs of one transaction.
pub const MAX_INPUTS: usize = 256;
/// Most outputs of one transaction.
pub const MAX_OUTPUTS: usize = 256;
/// Smallest output value unless the chainspec says otherwise (units).
pub const DEFAULT_DUST: u64 = 1_000;

const TXID: Domain = Domain::new("phantomcoin/v1/utxo/txid");
const SIGHASH: Domain = Domain::new("phantomcoin/v1/utxo/sighash");

/// An output of an earlier transaction (or of a mint, or of genesis).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct OutPoint {
    /// The creating transaction's id.
    pub tx: Hash32,
    /// Position among its outputs.
    pub index: u32,
}

/// A value locked by a predicate.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct TxOut {
    /// Units.
    pub value: u64,
    /// Who may spend it, and when.
    pub predicate: Predicate,
}

/// A spend of one output.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct TxIn {
    /// The output spent.
    pub prev: OutPoint,
    /// What satisfies its predicate (not covered by the id or the sighash).
    pub witness: Witness,
}

/// A transfer: fee = Σ inputs − Σ outputs, paid by the sender.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Transaction {
    /// Format version; only 0 exists.
    pub version: u8,
    /// Strictly increasing by outpoint (so no output is spent twice in one transaction).
    pub inputs: Vec<TxIn>,
    /// In canonical order: non-decreasing by (value, encoded predicate).
    pub outputs: Vec<TxOut>,
}

/// Why a transaction is malformed regardless of state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxShapeError {
    /// Unknown version.
    #[error("unknown transaction version {0}")]
    Version(u8),
    /// No inputs or no outputs.
    #[error("a transaction needs at least one input and one output")]
    Empty,
    /// Too big.
    #[error(
        "transaction has {inputs} inputs, {outputs} outputs, {bytes} bytes; limits are {MAX_INPUTS}, {MAX_OUTPUTS}, {MAX_TX_BYTES}"
    )]
    TooLarge {
        /// Inputs.
        inputs: usize,
        /// Outputs.
        outputs: usize,
        /// Encoded size.
        bytes: usize,
    },
    /// One outpoint spent twice.
    #[error("output {0:?} is spent twice in this transaction")]
    DuplicateInput(OutPoint),
    /// Inputs out of order.
    #[error("inputs must be sorted by outpoint")]
    InputOrder,
    /// Outputs out of order.
    #[error("outputs must be in canonical order: by value, then by encoded predicate")]
    OutputOrder,
    /// An output below the dust limit.
    #[error("output {index} carries {value} units, below the dust limit of {dust}")]
    Dust {
        /// Output position.
        index: usize,
        /// Its value.
        value: u64,
        /// The limit.
        dust: u64,
    },
    /// Output values overflow u64.
    #[error("output values overflow")]
    Overflow,
    /// A predicate too complex or malformed.
    #[error("output {index}: {source}")]
    Predicate {
        /// Output position.
        index: usize,
        /// What is wrong.
        source: PredicateError,
    },
}

impl Transaction {
    /// The id: BLAKE3 over the transaction without witnesses. Outpoints and signatures refer to
    /// it, so a witness can never change what a signature covers.
    pub fn txid(&self) -> Hash32 {
        let mut h = TXID.hasher();
        self.version.encode_to(&mut HashWriter(&mut h));
        let prevs: Vec<OutPoint> = self.inputs.iter().map(|i| i.prev).collect();
        prevs.encode_to(&mut HashWriter(&mut h));
        self.outputs.encode_to(&mut HashWriter(&mut h));
        Hash32(*h.finalize().as_bytes())
    }

    /// Σ output values, or `None` on overflow.
    pub fn output_total(&self) -> Option<u64> {
        self.outputs.iter().try_fold(0u64, |a, o| a.checked_add(o.value))
    }

    /// Every check that needs no state: version, sizes, input uniqueness and order, canonical
    /// output order, dust, predicate limits.
    pub fn check_shape(&self, dust: u64) -> Result<(), TxShapeError> {
        if self.version != 0 {
            return Err(TxShapeError::Version(self.version));
        }
        if self.inputs.is_empty() || self.outputs.is_empty() {
            return Err(TxShapeError::Empty);
        }
        let bytes = self.encoded_size();
        if self.inputs.len() > MAX_INPUTS || self.outputs.len() > MAX_OUTPUTS || bytes > MAX_TX_BYTES {
            return Err(TxShapeError::TooLarge { inputs: self.inputs.len(), outputs: self.outputs.len(), bytes });
        }
        for w in self.inputs.windows(2) {
            if let [a, b] = w {
                if a.prev == b.prev {
                    return Err(TxShapeError::DuplicateInput(a.prev));
                }
                if a.prev > b.prev {
                    // Sorting first would hide a duplicate that is not adjacent: report it as such.
                    let mut all: Vec<OutPoint> = self.inputs.iter().map(|i| i.prev).collect();
                    all.sort();
                    if let Some(d) = all.windows(2).find(|w| w.first() == w.get(1)).and_then(|w| w.first()) {
                        return Err(TxShapeError::DuplicateInput(*d));
                    }
                    return Err(TxShapeError::InputOrder);
                }
            }
        }
        let keyed: Vec<(u64, Vec<u8>)> = self.outputs.iter().map(|o| (o.value, o.predicate.encode())).collect();
        if keyed.windows(2).any(|w| matches!(w, [a, b] if a > b)) {
            return Err(TxShapeError::OutputOrder);
        }
        for (index, o) in self.outputs.iter().enumerate() {
            if o.value < dust {
                return Err(TxShapeError::Dust { index, value: o.value, dust });
            }
            o.predicate.check_limits().map_err(|source| TxShapeError::Predicate { index, source })?;
        }
        self.output_total().ok_or(TxShapeError::Overflow)?;
        Ok(())
    }

    /// Puts inputs and outputs in canonical order (wallets call this before signing).
    pub fn sort_canonical(&mut self) {
        self.outputs.sort_by_cached_key(|o| (o.value, o.predicate.encode()));
        self.inputs.sort_by_key(|i| i.prev);
    }
}

/// The message every key signs for `tx` on the chain with `genesis_hash`: a transaction signed
/// for one network is invalid on every other.
pub fn sighash(genesis_hash: &Hash32, txid: &Hash32) -> [u8; 32] {
    let mut h = SIGHASH.hasher();
    h.update(&genesis_hash.0);
    h.update(&txid.0);
    *h.finalize().as_bytes()
}

/// Streams SCALE output into a hasher without an intermediate buffer.
struct HashWriter<'a>(&'a mut blake3::Hasher);

impl parity_scale_codec::Output for HashWriter<'_> {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}
