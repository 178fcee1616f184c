//! PSPT: the partially-signed PhantomCoin transaction file (docs/signer.md, "PSPT").
//!
//! A JSON file that carries an unsigned transaction with what signers need and cannot look up
//! offline (each input's value and predicate, a revealed predicate or preimage), plus the
//! signatures collected so far. Every input signs the same message (the sighash binds the
//! genesis hash and the witness-free txid), so signatures are kept per key, not per input.

use crate::SignerError;
use crate::musig::MusigSession;
use parity_scale_codec::Encode;
use pc_codec::Hash32;
use pc_utxo_tx::{
    Address, Bip340, MAX_TX_BYTES, OutPoint, Predicate, Transaction, Witness, XOnly, hash_lock_digest, predicate_hash,
    sighash,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The format tag of version 1.
pub const FORMAT: &str = "phantomcoin-pspt/1";

fn bad(why: impl Into<String>) -> SignerError {
    SignerError::Pspt(why.into())
}

fn hex_array<const N: usize>(what: &str, s: &str) -> Result<[u8; N], SignerError> {
    hex::decode(s).ok().and_then(|b| b.try_into().ok()).ok_or_else(|| bad(format!("{what}: expected {N} bytes of hex")))
}

/// What a signer needs to know about one input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PsptInput {
    /// The output spent, `txid:index`.
    pub prev: String,
    /// Its value in units (for the fee shown by `inspect`).
    pub value: u64,
    /// SCALE(Predicate) of the output spent, hex.
    pub predicate: String,
    /// For a predicate-hash output: SCALE(Predicate) of the predicate revealed, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reveal: Option<String>,
    /// For a hash lock: the preimage, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preimage: Option<String>,
}

/// The file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pspt {
    /// [`FORMAT`].
    pub format: String,
    /// The genesis hash of the network the transaction is for.
    pub genesis: String,
    /// SCALE(Transaction) with empty witnesses, hex.
    pub tx: String,
    /// One entry per transaction input, in the same order.
    pub inputs: Vec<PsptInput>,
    /// x-only key (hex) → BIP-340 signature over the sighash (hex).
    #[serde(default)]
    pub signatures: BTreeMap<String, String>,
    /// MuSig2 sessions, one per aggregate key that must sign.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub musig: Vec<MusigSession>,
}

/// A parsed input.
#[derive(Debug, Clone)]
pub struct Input {
    /// The output spent.
    pub prev: OutPoint,
    /// Its value.
    pub value: u64,
    /// Its predicate.
    pub predicate: Predicate,
    /// The predicate revealed for a predicate hash.
    pub reveal: Option<Predicate>,
    /// A hash lock's preimage.
    pub preimage: Option<Vec<u8>>,
}

fn decode_predicate(what: &str, s: &str) -> Result<Predicate, SignerError> {
    let bytes = hex::decode(s).map_err(|e| bad(format!("{what}: {e}")))?;
    let p: Predicate = pc_codec::decode_canonical(&bytes, MAX_TX_BYTES).map_err(|e| bad(format!("{what}: {e}")))?;
    p.check_limits().map_err(|e| bad(format!("{what}: {e}")))?;
    Ok(p)
}

impl Pspt {
    /// A PSPT for `tx` (witnesses are cleared) on the network of `genesis`.
    pub fn new(genesis: &Hash32, mut tx: Transaction, inputs: &[Input]) -> Pspt {
        for i in &mut tx.inputs {
            i.witness = Witness::Empty;
        }
        let inputs = inputs
            .iter()
            .map(|i| PsptInput {
                prev: format!("{}:{}", i.prev.tx.to_hex(), i.prev.index),
                value: i.value,
                predicate: hex::encode(i.predicate.encode()),
                reveal: i.reveal.as_ref().map(|p| hex::encode(p.encode())),
                preimage: i.preimage.as_ref().map(hex::encode),
            })
            .collect();
        Pspt {
            format: FORMAT.into(),
            genesis: genesis.to_hex(),
            tx: hex::encode(tx.encode()),
            inputs,
            signatures: BTreeMap::new(),
            musig: Vec::new(),
        }
    }

    /// Reads and checks a file.
    pub fn load(path: &Path) -> Result<Pspt, SignerError> {
        let bytes = std::fs::read(path).map_err(crate::error::io(path))?;
        Self::from_json(&bytes).map_err(|e| match e {
            SignerError::Pspt(why) => bad(format!("{}: {why}", path.display())),
            other => other,
        })
    }

    /// Parses and checks the bytes of a file (untrusted: PSPTs travel between parties).
    pub fn from_json(bytes: &[u8]) -> Result<Pspt, SignerError> {
        let p: Pspt = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        p.check()?;
        Ok(p)
    }

    /// Writes the file whole (temporary file, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<(), SignerError> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| bad(e.to_string()))?;
        crate::keystore::write_atomic(path, &json)
    }

    /// The network's genesis hash.
    pub fn genesis(&self) -> Result<Hash32, SignerError> {
        Hash32::from_hex(&self.genesis).map_err(|_| bad("genesis: expected 32 bytes of hex"))
    }

    /// The unsigned transaction.
    pub fn transaction(&self) -> Result<Transaction, SignerError> {
        let bytes = hex::decode(&self.tx).map_err(|e| bad(format!("tx: {e}")))?;
        pc_codec::decode_canonical(&bytes, MAX_TX_BYTES).map_err(|e| bad(format!("tx: {e}")))
    }

    /// The parsed inputs.
    pub fn parsed_inputs(&self) -> Result<Vec<Input>, SignerError> {
        self.inputs
            .iter()
            .map(|i| {
                let (tx, index) = i.prev.split_once(':').ok_or_else(|| bad("prev: expected txid:index"))?;
                let prev = OutPoint {
                    tx: Hash32::from_hex(tx).map_err(|_| bad("prev: bad txid"))?,
                    index: index.parse().map_err(|_| bad("prev: bad index"))?,
                };
                let preimage = i
                    .preimage
                    .as_ref()
                    .map(|p| hex::decode(p).map_err(|e| bad(format!("preimage: {e}"))))
                    .transpose()?;
                Ok(Input {
                    prev,
                    value: i.value,
                    predicate: decode_predicate("predicate", &i.predicate)?,
                    reveal: i.reveal.as_ref().map(|r| decode_predicate("reveal", r)).transpose()?,
                    preimage,
                })
            })
            .collect()
    }

    /// The message every signature covers.
    pub fn sighash(&self) -> Result<[u8; 32], SignerError> {
        Ok(sighash(&self.genesis()?, &self.transaction()?.txid()))
    }

    /// Checks the whole file: the format, that inputs match the transaction, and that every
    /// signature present verifies.
    pub fn check(&self) -> Result<(), SignerError> {
        if self.format != FORMAT {
            return Err(bad(format!("unknown format `{}` (expected {FORMAT})", self.format)));
        }
        let tx = self.transaction()?;
        tx.check_shape(0).map_err(|e| bad(format!("tx: {e}")))?;
        let inputs = self.parsed_inputs()?;
        if inputs.len() != tx.inputs.len() || inputs.iter().zip(&tx.inputs).any(|(a, b)| a.prev != b.prev) {
            return Err(bad("the inputs do not match the transaction's"));
        }
        if tx.inputs.iter().any(|i| i.witness != Witness::Empty) {
            return Err(bad("the transaction must carry empty witnesses"));
        }
        let msg = self.sighash()?;
        for (key, sig) in &self.signatures {
            let (k, s) = (XOnly(hex_array("signature key", key)?), hex_array::<64>("signature", sig)?);
            if !Bip340::verify(&k, &msg, &s) {
                return Err(bad(format!("the signature of {key} does not verify")));
            }
        }
        for m in &self.musig {
            m.check()?;
        }
        Ok(())
    }

    /// Every key some input's predicate (or revealed predicate) names.
    pub fn keys(&self) -> Result<Vec<XOnly>, SignerError> {
        let mut out = Vec::new();
        for i in self.parsed_inputs()? {
            collect_keys(&i.predicate, &mut out);
            if let Some(r) = &i.reveal {
                collect_keys(r, &mut out);
            }
        }
        out.sort_by_key(|k| k.0);
        out.dedup();
        Ok(out)
    }

    /// Adds a verified signature by `key`.
    pub fn add_signature(&mut self, key: &XOnly, sig: &[u8; 64]) -> Result<(), SignerError> {
        if !Bip340::verify(key, &self.sighash()?, sig) {
            return Err(bad("a signature that does not verify"));
        }
        self.signatures.insert(hex::encode(key.0), hex::encode(sig));
        Ok(())
    }

    /// Merges what `other` holds for the same transaction on the same network.
    pub fn combine(&mut self, other: &Pspt) -> Result<(), SignerError> {
        if other.genesis != self.genesis {
            return Err(bad(format!("a PSPT for another network (genesis {} vs {})", other.genesis, self.genesis)));
        }
        if other.tx != self.tx || other.inputs != self.inputs {
            return Err(bad("the PSPTs are for different transactions"));
        }
        for (k, s) in &other.signatures {
            self.signatures.insert(k.clone(), s.clone());
        }
        for m in &other.musig {
            match self.musig.iter_mut().find(|x| x.keys == m.keys) {
                Some(mine) => mine.merge(m)?,
                None => self.musig.push(m.clone()),
            }
        }
        self.check()
    }

    /// The signed transaction, if every input's predicate can be satisfied with what is here.
    pub fn finalize(&self) -> Result<Transaction, SignerError> {
        let sigs: BTreeMap<[u8; 32], [u8; 64]> = self
            .signatures
            .iter()
            .map(|(k, s)| Ok((hex_array("signature key", k)?, hex_array("signature", s)?)))
            .collect::<Result<_, SignerError>>()?;
        let mut tx = self.transaction()?;
        for (n, (input, spec)) in tx.inputs.iter_mut().zip(self.parsed_inputs()?).enumerate() {
            input.witness = witness(&spec.predicate, &spec, &sigs)
                .ok_or_else(|| bad(format!("input {n} ({}) lacks signatures or data to satisfy it", spec.prev.tx)))?;
        }
        Ok(tx)
    }

    /// The fee: inputs minus outputs.
    pub fn fee(&self) -> Result<u64, SignerError> {
        let tx = self.transaction()?;
        let inputs: u64 = self.inputs.iter().map(|i| i.value).fold(0, u64::saturating_add);
        let outputs: u64 = tx.outputs.iter().map(|o| o.value).fold(0, u64::saturating_add);
        inputs.checked_sub(outputs).ok_or_else(|| bad("outputs exceed inputs"))
    }

    /// A human-readable summary (JSON).
    pub fn inspect(&self) -> Result<serde_json::Value, SignerError> {
        let tx = self.transaction()?;
        let have: Vec<XOnly> = self.keys()?;
        let missing: Vec<String> =
            have.iter().map(|k| hex::encode(k.0)).filter(|k| !self.signatures.contains_key(k)).collect();
        Ok(serde_json::json!({
            "genesis": self.genesis,
            "txid": tx.txid().to_hex(),
            "fee": self.fee()?,
            "inputs": self.inputs.iter().map(|i| serde_json::json!({"prev": i.prev, "value": i.value})).collect::<Vec<_>>(),
            "outputs": tx.outputs.iter().map(|o| serde_json::json!({
                "address": Address::for_predicate(&o.predicate).to_string(), "value": o.value
            })).collect::<Vec<_>>(),
            "signed_by": self.signatures.keys().collect::<Vec<_>>(),
            "unsigned_keys": missing,
            "musig": self.musig.iter().map(MusigSession::status).collect::<Vec<_>>(),
            "complete": self.finalize().is_ok(),
        }))
    }
}

fn collect_keys(p: &Predicate, out: &mut Vec<XOnly>) {
    match p {
        Predicate::Key(k) => out.push(*k),
        Predicate::Threshold { keys, .. } => out.extend(keys.iter().copied()),
        Predicate::All(ps) | Predicate::Any(ps) => ps.iter().for_each(|q| collect_keys(q, out)),
        Predicate::After(_) | Predicate::HashLock(_) | Predicate::PredicateHash(_) => {}
    }
}

/// The witness for `p` from the signatures at hand; `None` if they do not suffice.
pub fn witness(p: &Predicate, input: &Input, sigs: &BTreeMap<[u8; 32], [u8; 64]>) -> Option<Witness> {
    match p {
        Predicate::Key(k) => sigs.get(&k.0).map(|s| Witness::Sig(*s)),
        Predicate::Threshold { k, keys } => {
            let found: Vec<(u8, [u8; 64])> = keys
                .iter()
                .enumerate()
                .filter_map(|(i, key)| Some((u8::try_from(i).ok()?, *sigs.get(&key.0)?)))
                .take(usize::from(*k))
                .collect();
            (found.len() == usize::from(*k)).then_some(Witness::Sigs(found))
        }
        Predicate::After(_) => Some(Witness::Empty),
        Predicate::HashLock(h) => {
            input.preimage.as_ref().filter(|pre| hash_lock_digest(pre) == *h).map(|pre| Witness::Preimage(pre.clone()))
        }
        Predicate::PredicateHash(h) => {
            let revealed = input.reveal.as_ref().filter(|r| predicate_hash(r) == *h)?;
            let inner = witness(revealed, input, sigs)?;
            Some(Witness::Reveal { predicate: Box::new(revealed.clone()), witness: Box::new(inner) })
        }
        Predicate::All(ps) => ps.iter().map(|q| witness(q, input, sigs)).collect::<Option<Vec<_>>>().map(Witness::All),
        Predicate::Any(ps) => ps.iter().enumerate().find_map(|(i, q)| {
            Some(Witness::Any { branch: u8::try_from(i).ok()?, witness: Box::new(witness(q, input, sigs)?) })
        }),
    }
}
