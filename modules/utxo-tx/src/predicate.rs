//! eUTXO predicates v0 and the witnesses that satisfy them.

use crate::sign::XOnly;
use pc_codec::{Decode, Domain, Encode, Hash32, hash_encoded};

/// Deepest nesting of predicates (a revealed predicate counts one level deeper).
pub const MAX_DEPTH: usize = 4;
/// Most keys in one predicate, all branches together.
pub const MAX_KEYS: usize = 16;
/// Most children of an `All` or `Any`.
pub const MAX_BRANCHES: usize = 8;
/// Longest hash-lock preimage in bytes.
pub const MAX_PREIMAGE: usize = 64;
/// Most cost units one input may spend: one per predicate node, [`SIG_COST`] per signature.
pub const MAX_COST: u32 = 1_000;
/// Cost of one signature check.
pub const SIG_COST: u32 = 50;

const PREDICATE: Domain = Domain::new("phantomcoin/v1/utxo/predicate");
const HASH_LOCK: Domain = Domain::new("phantomcoin/v1/utxo/hash-lock");

/// Who may spend an output, and when. Clock-free: time is the global anchor index.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum Predicate {
    /// A BIP-340 signature by this key (a MuSig2 aggregate key is just a key).
    Key(XOnly),
    /// Signatures by `k` of `keys` (keys strictly ascending, 1 ≤ k ≤ n ≤ 16).
    Threshold {
        /// Signatures needed.
        k: u8,
        /// Candidate keys, strictly ascending.
        keys: Vec<XOnly>,
    },
    /// Spendable only in anchors with global index ≥ this.
    After(u64),
    /// Spendable by revealing a preimage whose hash-lock digest is this.
    HashLock(Hash32),
    /// Spendable by revealing a predicate with this [`predicate_hash`] and satisfying it (what
    /// a Bech32m address of version 1 pays to).
    PredicateHash(Hash32),
    /// Every branch must be satisfied.
    All(Vec<Predicate>),
    /// One branch must be satisfied.
    Any(Vec<Predicate>),
}

/// What satisfies a predicate; its shape mirrors the predicate's.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub enum Witness {
    /// For `Key`.
    Sig([u8; 64]),
    /// For `Threshold`: exactly k (key index, signature) pairs, indices strictly ascending.
    Sigs(Vec<(u8, [u8; 64])>),
    /// For `After`.
    Empty,
    /// For `HashLock`.
    Preimage(Vec<u8>),
    /// For `All`: one witness per branch.
    All(Vec<Witness>),
    /// For `Any`: the branch chosen and its witness.
    Any {
        /// Index of the branch.
        branch: u8,
        /// Its witness.
        witness: Box<Witness>,
    },
    /// For `PredicateHash`: the predicate and its witness.
    Reveal {
        /// The predicate whose hash the output names.
        predicate: Box<Predicate>,
        /// Its witness.
        witness: Box<Witness>,
    },
}

/// Why a predicate is malformed or not satisfied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PredicateError {
    /// Nested too deep.
    #[error("predicate nests deeper than {MAX_DEPTH}")]
    TooDeep,
    /// Too many keys.
    #[error("predicate has more than {MAX_KEYS} keys")]
    TooManyKeys,
    /// An `All`/`Any` with no or too many branches.
    #[error("a combination needs 1 to {MAX_BRANCHES} branches")]
    Branches,
    /// A malformed threshold.
    #[error("threshold needs 1 ≤ k ≤ n and strictly ascending keys")]
    Threshold,
    /// Spending would cost too much.
    #[error("spending costs more than {MAX_COST} units")]
    TooCostly,
    /// The witness does not have the predicate's shape.
    #[error("witness does not match the predicate (expected {0})")]
    Shape(&'static str),
    /// A signature did not verify.
    #[error("invalid signature")]
    BadSignature,
    /// Not enough valid signatures, or unordered key indices.
    #[error("threshold not met: need {need} signatures by distinct listed keys in ascending order")]
    ThresholdNotMet {
        /// Signatures needed.
        need: u8,
    },
    /// The anchor-index lock has not expired.
    #[error("locked until anchor {until}; this is anchor {now}")]
    Locked {
        /// First spendable anchor.
        until: u64,
        /// The current anchor.
        now: u64,
    },
    /// The preimage does not match.
    #[error("wrong hash-lock preimage")]
    WrongPreimage,
    /// The revealed predicate is not the one the output names.
    #[error("revealed predicate does not match the output's predicate hash")]
    WrongReveal,
}

impl PredicateError {
    /// A stable machine-readable code (`utxo.<what>`).
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooDeep | Self::TooManyKeys | Self::Branches | Self::Threshold | Self::TooCostly => {
                "utxo.predicate-limits"
            }
            Self::Shape(_) | Self::WrongReveal => "utxo.witness-mismatch",
            Self::BadSignature | Self::ThresholdNotMet { .. } => "utxo.bad-signature",
            Self::Locked { .. } => "utxo.locked",
            Self::WrongPreimage => "utxo.wrong-preimage",
        }
    }
}

/// The hash a `PredicateHash` output and a version-1 address name.
pub fn predicate_hash(p: &Predicate) -> Hash32 {
    hash_encoded(PREDICATE, p)
}

/// The digest a `HashLock` compares a preimage against.
pub fn hash_lock_digest(preimage: &[u8]) -> Hash32 {
    Hash32(*HASH_LOCK.hasher().update(preimage).finalize().as_bytes())
}

/// Verifies BIP-340 signatures (the UTXO module adds a cache in front).
pub trait SigChecker {
    /// True if `sig` is `key`'s BIP-340 signature of `msg`.
    fn check(&self, key: &XOnly, msg: &[u8; 32], sig: &[u8; 64]) -> bool;
}

/// The spend being checked.
#[derive(Debug, Clone, Copy)]
pub struct SpendCtx<'a> {
    /// Global index of the anchor the spend is applied in (or, in the mempool, the next one).
    pub anchor_index: u64,
    /// The transaction's sighash.
    pub sighash: &'a [u8; 32],
}

impl Predicate {
    /// Structural limits, checked when an output is created: depth, keys, branches,
    /// thresholds, and the cost of the most expensive way to spend it.
    pub fn check_limits(&self) -> Result<(), PredicateError> {
        let mut keys = 0;
        let cost = self.worst_cost(1, &mut keys)?;
        if cost > MAX_COST {
            return Err(PredicateError::TooCostly);
        }
        Ok(())
    }

    fn worst_cost(&self, depth: usize, keys: &mut usize) -> Result<u32, PredicateError> {
        if depth > MAX_DEPTH {
            return Err(PredicateError::TooDeep);
        }
        let add_keys = |keys: &mut usize, n: usize| {
            *keys += n;
            if *keys > MAX_KEYS { Err(PredicateError::TooManyKeys) } else { Ok(()) }
        };
        Ok(match self {
            Predicate::Key(_) => {
                add_keys(keys, 1)?;
                1 + SIG_COST
            }
            Predicate::Threshold { k, keys: ks } => {
                add_keys(keys, ks.len())?;
                let sorted = ks.windows(2).all(|w| matches!(w, [a, b] if a < b));
                if *k == 0 || usize::from(*k) > ks.len() || !sorted {
                    return Err(PredicateError::Threshold);
                }
                1 + SIG_COST * u32::from(*k)
            }
            Predicate::After(_) | Predicate::HashLock(_) => 1,
            // What it hides is checked, and its cost counted, when it is revealed.
            Predicate::PredicateHash(_) => 1,
            Predicate::All(bs) | Predicate::Any(bs) => {
                if bs.is_empty() || bs.len() > MAX_BRANCHES {
                    return Err(PredicateError::Branches);
                }
                let mut total = 1u32;
                let mut worst = 0u32;
                for b in bs {
                    let c = b.worst_cost(depth + 1, keys)?;
                    total = total.saturating_add(c);
                    worst = worst.max(c);
                }
                if matches!(self, Predicate::All(_)) { total } else { 1 + worst }
            }
        })
    }

    /// Checks that `witness` satisfies this predicate for the spend `ctx`.
    pub fn satisfy(&self, witness: &Witness, ctx: &SpendCtx<'_>, sigs: &dyn SigChecker) -> Result<(), PredicateError> {
        let mut cost = 0u32;
        self.eval(witness, ctx, sigs, 1, false, &mut cost)
    }

    /// `revealed`: inside a revealed predicate, which may not reveal again (so recursion is
    /// bounded by 2 × MAX_DEPTH while a revealed predicate gets the full depth budget).
    fn eval(
        &self,
        w: &Witness,
        ctx: &SpendCtx<'_>,
        sigs: &dyn SigChecker,
        depth: usize,
        revealed: bool,
        cost: &mut u32,
    ) -> Result<(), PredicateError> {
        if depth > MAX_DEPTH {
            return Err(PredicateError::TooDeep);
        }
        *cost += 1;
        if *cost > MAX_COST {
            return Err(PredicateError::TooCostly);
        }
        match (self, w) {
            (Predicate::Key(key), Witness::Sig(sig)) => {
                *cost += SIG_COST;
                if *cost > MAX_COST {
                    return Err(PredicateError::TooCostly);
                }
                if sigs.check(key, ctx.sighash, sig) { Ok(()) } else { Err(PredicateError::BadSignature) }
            }
            (Predicate::Threshold { k, keys }, Witness::Sigs(given)) => {
                let need = *k;
                let ascending = given.windows(2).all(|p| matches!(p, [a, b] if a.0 < b.0));
                if given.len() != usize::from(need) || !ascending {
                    return Err(PredicateError::ThresholdNotMet { need });
                }
                for (i, sig) in given {
                    let key = keys.get(usize::from(*i)).ok_or(PredicateError::ThresholdNotMet { need })?;
                    *cost += SIG_COST;
                    if *cost > MAX_COST {
                        return Err(PredicateError::TooCostly);
                    }
                    if !sigs.check(key, ctx.sighash, sig) {
                        return Err(PredicateError::BadSignature);
                    }
                }
                Ok(())
            }
            (Predicate::After(until), Witness::Empty) => {
                if ctx.anchor_index >= *until {
                    Ok(())
                } else {
                    Err(PredicateError::Locked { until: *until, now: ctx.anchor_index })
                }
            }
            (Predicate::HashLock(digest), Witness::Preimage(p)) => {
                if p.len() <= MAX_PREIMAGE && hash_lock_digest(p) == *digest {
                    Ok(())
                } else {
                    Err(PredicateError::WrongPreimage)
                }
            }
            (Predicate::PredicateHash(h), Witness::Reveal { predicate, witness }) => {
                if revealed {
                    return Err(PredicateError::TooDeep);
                }
                if predicate_hash(predicate) != *h {
                    return Err(PredicateError::WrongReveal);
                }
                // The revealed predicate is held to the limits an output's predicate meets; its
                // evaluated cost adds to this input's.
                predicate.check_limits()?;
                predicate.eval(witness, ctx, sigs, 1, true, cost)
            }
            (Predicate::All(bs), Witness::All(ws)) => {
                if bs.len() != ws.len() {
                    return Err(PredicateError::Shape("one witness per branch"));
                }
                bs.iter().zip(ws).try_for_each(|(b, w)| b.eval(w, ctx, sigs, depth + 1, revealed, cost))
            }
            (Predicate::Any(bs), Witness::Any { branch, witness }) => {
                let b = bs.get(usize::from(*branch)).ok_or(PredicateError::Shape("an existing branch"))?;
                b.eval(witness, ctx, sigs, depth + 1, revealed, cost)
            }
            (p, _) => Err(PredicateError::Shape(p.witness_kind())),
        }
    }

    fn witness_kind(&self) -> &'static str {
        match self {
            Predicate::Key(_) => "a signature",
            Predicate::Threshold { .. } => "k signatures",
            Predicate::After(_) => "an empty witness",
            Predicate::HashLock(_) => "a preimage",
            Predicate::PredicateHash(_) => "a revealed predicate",
            Predicate::All(_) => "a witness per branch",
            Predicate::Any(_) => "a branch and its witness",
        }
    }
}
