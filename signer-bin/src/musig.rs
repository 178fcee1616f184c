//! n-of-n MuSig2 (BIP-327, `secp256k1::musig`) between signer processes, carried in a PSPT.
//!
//! Round 1 (`musig-nonce`): each participant adds its public nonce and keeps the secret nonce,
//! encrypted under a key derived from its keystore, in a file named by (aggregate key, message,
//! participant). Round 2 (`musig-sign`): with every public nonce present, it takes the secret
//! nonce — the file is deleted before the partial signature exists, so a nonce never signs
//! twice — and adds its partial signature. `finalize` aggregates them into one BIP-340
//! signature by the aggregate key, which spends an output locked to that key like any other.

use crate::pspt::Pspt;
use crate::{Keystore, Purpose, SignerError};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use pc_codec::Domain;
use pc_utxo_tx::{Address, XOnly};
use secp256k1::PublicKey;
use secp256k1::musig::{
    AggregatedNonce, KeyAggCache, PartialSignature, PublicNonce, SecretNonce, Session, SessionSecretRand,
    new_nonce_pair,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Most participants in one aggregate key.
pub const MAX_PARTICIPANTS: usize = 16;
const NONCE_TAG: Domain = Domain::new("phantomcoin/v1/signer/musig-nonce-slot");
const NONCE_KEY: Domain = Domain::new("phantomcoin/v1/signer/musig-nonce-key");

fn bad(why: impl Into<String>) -> SignerError {
    SignerError::Musig(why.into())
}

fn parse_hex<const N: usize>(what: &str, s: &str) -> Result<[u8; N], SignerError> {
    hex::decode(s).ok().and_then(|b| b.try_into().ok()).ok_or_else(|| bad(format!("{what}: expected {N} bytes of hex")))
}

/// Parses a participant key: a compressed secp256k1 public key, 33 bytes of hex.
pub fn parse_key(s: &str) -> Result<PublicKey, SignerError> {
    PublicKey::from_byte_array_compressed(parse_hex::<33>("participant key", s)?)
        .map_err(|e| bad(format!("participant key {s}: {e}")))
}

/// One aggregate key's signing session inside a PSPT.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MusigSession {
    /// Participants' compressed public keys (hex), in BIP-327 key-sort order.
    pub keys: Vec<String>,
    /// Participant → public nonce (66 bytes, hex).
    #[serde(default)]
    pub nonces: BTreeMap<String, String>,
    /// Participant → partial signature (32 bytes, hex).
    #[serde(default)]
    pub partials: BTreeMap<String, String>,
}

impl MusigSession {
    /// A session for these participants (sorted; duplicates and fewer than two are refused).
    pub fn new(keys: &[PublicKey]) -> Result<MusigSession, SignerError> {
        let mut sorted: Vec<[u8; 33]> = keys.iter().map(PublicKey::serialize).collect();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != keys.len() || !(2..=MAX_PARTICIPANTS).contains(&sorted.len()) {
            return Err(bad(format!("need 2 to {MAX_PARTICIPANTS} distinct participant keys")));
        }
        Ok(MusigSession { keys: sorted.iter().map(hex::encode).collect(), ..Default::default() })
    }

    fn pubkeys(&self) -> Result<Vec<PublicKey>, SignerError> {
        self.keys.iter().map(|k| parse_key(k)).collect()
    }

    fn cache(&self) -> Result<KeyAggCache, SignerError> {
        let keys = self.pubkeys()?;
        if keys.is_empty() {
            return Err(bad("a session without participants"));
        }
        Ok(KeyAggCache::new(&keys.iter().collect::<Vec<_>>()))
    }

    /// The aggregate x-only key outputs are locked to.
    pub fn aggregate_key(&self) -> Result<XOnly, SignerError> {
        Ok(XOnly(self.cache()?.agg_pk().to_byte_array()))
    }

    /// Checks keys, nonces and partial signatures parse and belong to participants.
    pub fn check(&self) -> Result<(), SignerError> {
        let again = MusigSession::new(&self.pubkeys()?)?;
        if again.keys != self.keys {
            return Err(bad("participant keys must be distinct and sorted"));
        }
        for (k, n) in &self.nonces {
            if !self.keys.contains(k) {
                return Err(bad(format!("a nonce from {k}, who is not a participant")));
            }
            PublicNonce::from_byte_array(&parse_hex("public nonce", n)?).map_err(|e| bad(format!("nonce: {e}")))?;
        }
        for (k, s) in &self.partials {
            if !self.keys.contains(k) {
                return Err(bad(format!("a partial signature from {k}, who is not a participant")));
            }
            PartialSignature::from_byte_array(&parse_hex("partial signature", s)?)
                .map_err(|e| bad(format!("partial signature: {e}")))?;
        }
        Ok(())
    }

    /// Takes the other file's nonces and partial signatures; two different values from one
    /// participant are refused.
    pub fn merge(&mut self, other: &MusigSession) -> Result<(), SignerError> {
        for (mine, theirs, what) in
            [(&mut self.nonces, &other.nonces, "nonces"), (&mut self.partials, &other.partials, "partial signatures")]
        {
            for (k, v) in theirs {
                match mine.get(k) {
                    Some(x) if x != v => return Err(bad(format!("participant {k} has two different {what}"))),
                    _ => {
                        mine.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        Ok(())
    }

    /// What `inspect` shows.
    pub fn status(&self) -> serde_json::Value {
        let agg = self.aggregate_key().map(|k| Address::Key(k).to_string()).unwrap_or_default();
        serde_json::json!({
            "address": agg,
            "participants": self.keys,
            "nonces": self.nonces.len(),
            "partial_signatures": self.partials.len(),
        })
    }

    fn public_nonces(&self) -> Result<Vec<PublicNonce>, SignerError> {
        self.keys
            .iter()
            .map(|k| {
                let n = self.nonces.get(k).ok_or_else(|| bad(format!("waiting for the nonce of {k}")))?;
                PublicNonce::from_byte_array(&parse_hex("public nonce", n)?).map_err(|e| bad(e.to_string()))
            })
            .collect()
    }

    fn session(&self, msg: &[u8; 32]) -> Result<(KeyAggCache, Session, Vec<PublicNonce>), SignerError> {
        let cache = self.cache()?;
        let nonces = self.public_nonces()?;
        let agg = AggregatedNonce::new(&nonces.iter().collect::<Vec<_>>());
        Ok((cache, Session::new(&cache, agg, msg), nonces))
    }
}

/// Secret nonces between the two rounds, encrypted under a key derived from the keystore.
pub struct NonceStore {
    dir: PathBuf,
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for NonceStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceStore").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl NonceStore {
    /// The store beside `keystore_path` (`<keystore>.musig/`).
    pub fn beside(keystore_path: &Path, ks: &Keystore) -> Result<NonceStore, SignerError> {
        let mut dir = keystore_path.as_os_str().to_owned();
        dir.push(".musig");
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).map_err(crate::error::io(&dir))?;
        let key = ks.derived_secret(NONCE_KEY)?;
        Ok(NonceStore { dir, cipher: XChaCha20Poly1305::new(Key::from_slice(&key[..])) })
    }

    fn path(&self, tag: &[u8; 32]) -> PathBuf {
        self.dir.join(format!("{}.nonce", hex::encode(tag)))
    }

    fn save(&self, tag: &[u8; 32], secret: SecretNonce) -> Result<(), SignerError> {
        let path = self.path(tag);
        if path.exists() {
            return Err(bad("a nonce for this session already exists: one nonce per signer and message"));
        }
        let raw = Zeroizing::new(secret.dangerous_into_bytes());
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).map_err(|e| SignerError::Crypto(e.to_string()))?;
        let ct = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: &raw[..], aad: tag })
            .map_err(|e| SignerError::Crypto(e.to_string()))?;
        crate::keystore::write_atomic(&path, &[&nonce[..], &ct].concat())
    }

    /// Reads the secret nonce and deletes its file before returning it.
    fn take(&self, tag: &[u8; 32]) -> Result<SecretNonce, SignerError> {
        let path = self.path(tag);
        let bytes = std::fs::read(&path).map_err(|_| {
            bad("no secret nonce for this session here: run musig-nonce with this keystore first (a nonce signs once)")
        })?;
        std::fs::remove_file(&path).map_err(crate::error::io(&path))?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all(); // the deletion is durable before the partial signature exists
        }
        let (nonce, ct) = bytes.split_at_checked(24).ok_or_else(|| bad("truncated nonce file"))?;
        let raw = Zeroizing::new(
            self.cipher
                .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: tag })
                .map_err(|_| bad("the nonce file does not belong to this keystore"))?,
        );
        let raw: [u8; secp256k1::ffi::MUSIG_SECNONCE_SIZE] =
            raw.as_slice().try_into().map_err(|_| bad("nonce file of the wrong size"))?;
        Ok(SecretNonce::dangerous_from_bytes(raw))
    }
}

fn tag(agg: &XOnly, msg: &[u8; 32], me: &PublicKey) -> [u8; 32] {
    NONCE_TAG.hash(&[&agg.0[..], msg, &me.serialize()].concat()).0
}

/// The address of the aggregate key of `keys` (a plain key address).
pub fn aggregate_address(keys: &[PublicKey]) -> Result<Address, SignerError> {
    Ok(Address::Key(MusigSession::new(keys)?.aggregate_key()?))
}

/// Adds a session for `keys` to a PSPT, refusing one whose aggregate key no input needs.
pub fn add_session(pspt: &mut Pspt, keys: &[PublicKey]) -> Result<(), SignerError> {
    let s = MusigSession::new(keys)?;
    let agg = s.aggregate_key()?;
    if !pspt.keys()?.contains(&agg) {
        return Err(bad(format!("no input is locked to the aggregate key {}", Address::Key(agg))));
    }
    if !pspt.musig.iter().any(|x| x.keys == s.keys) {
        pspt.musig.push(s);
    }
    Ok(())
}

fn my_sessions(pspt: &Pspt, me: &PublicKey) -> Result<Vec<usize>, SignerError> {
    let me = hex::encode(me.serialize());
    let found: Vec<usize> = (0..pspt.musig.len()).filter(|&i| pspt.musig[i].keys.contains(&me)).collect();
    if found.is_empty() {
        return Err(bad(format!("spend key {me} is not a participant of any MuSig2 session in this PSPT")));
    }
    Ok(found)
}

/// Round 1 with spend key `index`: adds its public nonces; returns the sessions joined.
pub fn nonce_round(pspt: &mut Pspt, ks: &Keystore, store: &NonceStore, index: u32) -> Result<usize, SignerError> {
    let kp = ks.keypair(Purpose::Spend, index)?;
    let me = kp.public_key();
    let msg = pspt.sighash()?;
    let sessions = my_sessions(pspt, &me)?;
    for &i in &sessions {
        let s = &mut pspt.musig[i];
        if s.nonces.contains_key(&hex::encode(me.serialize())) {
            return Err(bad("this PSPT already holds our nonce"));
        }
        let cache = s.cache()?;
        let mut rand = [0u8; 32];
        getrandom::fill(&mut rand).map_err(|e| SignerError::Crypto(e.to_string()))?;
        if rand == [0; 32] {
            return Err(SignerError::Crypto("the OS returned zero randomness".into()));
        }
        let (secret, public) = new_nonce_pair(
            SessionSecretRand::assume_uniformly_random(rand),
            Some(&cache),
            Some(kp.secret_key()),
            me,
            Some(&msg),
            None,
        );
        store.save(&tag(&s.aggregate_key()?, &msg, &me), secret)?;
        s.nonces.insert(hex::encode(me.serialize()), hex::encode(public.serialize()));
    }
    Ok(sessions.len())
}

/// Round 2 with spend key `index`: adds its partial signatures (every nonce must be present).
pub fn sign_round(pspt: &mut Pspt, ks: &Keystore, store: &NonceStore, index: u32) -> Result<usize, SignerError> {
    let kp = ks.keypair(Purpose::Spend, index)?;
    let me = kp.public_key();
    let msg = pspt.sighash()?;
    let sessions = my_sessions(pspt, &me)?;
    for &i in &sessions {
        let s = &mut pspt.musig[i];
        let (cache, session, _) = s.session(&msg)?;
        let secret = store.take(&tag(&s.aggregate_key()?, &msg, &me))?;
        let partial = session.partial_sign(secret, &kp, &cache);
        s.partials.insert(hex::encode(me.serialize()), hex::encode(partial.serialize()));
    }
    Ok(sessions.len())
}

/// Aggregates every complete session into a signature by its aggregate key, after checking each
/// partial signature; returns how many sessions were completed.
pub fn aggregate(pspt: &mut Pspt) -> Result<usize, SignerError> {
    let msg = pspt.sighash()?;
    let mut done = Vec::new();
    for s in &pspt.musig {
        if s.partials.len() < s.keys.len() {
            continue;
        }
        let (cache, session, nonces) = s.session(&msg)?;
        let mut partials = Vec::new();
        for (k, nonce) in s.keys.iter().zip(&nonces) {
            let p = s.partials.get(k).ok_or_else(|| bad(format!("waiting for the partial signature of {k}")))?;
            let p = PartialSignature::from_byte_array(&parse_hex("partial signature", p)?)
                .map_err(|e| bad(e.to_string()))?;
            if !session.partial_verify(&cache, &p, nonce, parse_key(k)?) {
                return Err(bad(format!("the partial signature of {k} does not verify")));
            }
            partials.push(p);
        }
        let agg = s.aggregate_key()?;
        let sig = session
            .partial_sig_agg(&partials.iter().collect::<Vec<_>>())
            .verify(&cache.agg_pk(), &msg)
            .map_err(|e| bad(format!("aggregate signature: {e}")))?;
        done.push((agg, sig.to_byte_array()));
    }
    for (key, sig) in &done {
        pspt.add_signature(key, sig)?;
    }
    Ok(done.len())
}
