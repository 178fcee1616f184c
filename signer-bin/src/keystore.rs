//! The encrypted keystore and purpose-separated key derivation.

use crate::SignerError;
use crate::error::io;
use argon2::{Algorithm, Argon2, Params, Version};
use bip32::{DerivationPath, XPrv};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use pc_utxo_tx::{Keypair, XOnly, keypair_from_seed, sign_sighash};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::Write;
use std::path::Path;
use zeroize::Zeroizing;

const FORMAT_VERSION: u32 = 1;

/// What a key is for; each purpose has its own hardened BIP-32 branch `m/9999'/<n>'/0'/i'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Purpose {
    /// Committee seat keys: sign DAG events.
    Seat,
    /// Bond operations.
    Bond,
    /// Fee and reward claims.
    Payout,
    /// Ordinary transactions.
    Spend,
    /// sr25519 VRF keys: committee candidacies (the derived secret is the VRF seed).
    Vrf,
    /// BLS12-381 keys: data-availability attestations (the derived secret is the key material).
    Bls,
}

impl Purpose {
    fn branch(self) -> u32 {
        match self {
            Purpose::Seat => 0,
            Purpose::Bond => 1,
            Purpose::Payout => 2,
            Purpose::Spend => 3,
            Purpose::Vrf => 4,
            Purpose::Bls => 5,
        }
    }

    /// The derivation path of key `index`.
    pub fn path(self, index: u32) -> String {
        format!("m/9999'/{}'/0'/{index}'", self.branch())
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Purpose::Seat => "seat",
            Purpose::Bond => "bond",
            Purpose::Payout => "payout",
            Purpose::Spend => "spend",
            Purpose::Vrf => "vrf",
            Purpose::Bls => "bls",
        })
    }
}

impl std::str::FromStr for Purpose {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "seat" => Ok(Purpose::Seat),
            "bond" => Ok(Purpose::Bond),
            "payout" => Ok(Purpose::Payout),
            "spend" => Ok(Purpose::Spend),
            "vrf" => Ok(Purpose::Vrf),
            "bls" => Ok(Purpose::Bls),
            other => Err(format!("unknown purpose `{other}` (seat, bond, payout, spend, vrf, bls)")),
        }
    }
}

/// A message to sign, naming what it is; each kind belongs to exactly one purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// A DAG event id (seat keys).
    Event([u8; 32]),
    /// A bond operation's sighash (bond keys).
    Bond([u8; 32]),
    /// A payout claim's sighash (payout keys).
    Payout([u8; 32]),
    /// A transaction's sighash (spend keys).
    Transaction([u8; 32]),
    /// A ledger lock's authorization digest (spend keys): consent to bond an output.
    Lock([u8; 32]),
    /// A seat's consent to a bond, or a heartbeat (seat keys, each in its own hash domain).
    SeatMessage([u8; 32]),
}

impl Request {
    fn purpose(&self) -> (Purpose, &'static str, &[u8; 32]) {
        match self {
            Request::Event(m) => (Purpose::Seat, "an event", m),
            Request::Bond(m) => (Purpose::Bond, "a bond operation", m),
            Request::Payout(m) => (Purpose::Payout, "a payout claim", m),
            Request::Transaction(m) => (Purpose::Spend, "a transaction", m),
            Request::Lock(m) => (Purpose::Spend, "a lock authorization", m),
            Request::SeatMessage(m) => (Purpose::Seat, "a seat consent or heartbeat", m),
        }
    }
}

/// Argon2id cost parameters (stored in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane.
    fn default() -> Self {
        KdfParams { m_kib: 64 * 1024, t: 3, p: 1 }
    }
}

impl KdfParams {
    /// Most memory a keystore may ask for: 1 GiB. The parameters come from the file, so
    /// without a bound a corrupt or hostile keystore makes `open` allocate terabytes.
    pub const MAX_M_KIB: u32 = 1 << 20;
    /// Most passes.
    pub const MAX_T: u32 = 16;
    /// Most lanes.
    pub const MAX_P: u32 = 16;

    /// Refuses parameters outside what Argon2id accepts or this signer will spend.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=Self::MAX_P).contains(&self.p) || !(1..=Self::MAX_T).contains(&self.t) {
            return Err(format!("argon2id passes must be 1..={} and lanes 1..={}", Self::MAX_T, Self::MAX_P));
        }
        if self.m_kib < 8 * self.p || self.m_kib > Self::MAX_M_KIB {
            return Err(format!("argon2id memory must be 8 KiB per lane up to {} KiB", Self::MAX_M_KIB));
        }
        Ok(())
    }
}

/// The file: the parameters in clear (and bound as associated data), the entropy encrypted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeystoreFile {
    version: u32,
    kdf: String,
    kdf_params: KdfParams,
    salt: String,
    cipher: String,
    nonce: String,
    ciphertext: String,
}

impl KeystoreFile {
    fn aad(&self) -> Vec<u8> {
        format!(
            "phantom-signer v{} {} {:?} {} {} {}",
            self.version, self.kdf, self.kdf_params, self.salt, self.cipher, self.nonce
        )
        .into_bytes()
    }
}

/// Writes beside, flushes to disk, then renames: the file appears whole or not at all.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SignerError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// An unlocked keystore.
pub struct Keystore {
    secret: Secret,
}

enum Secret {
    /// The BIP-39 seed, zeroized on drop (password keystores).
    Memory(Zeroizing<[u8; 64]>),
    /// The entropy sealed by an HSM key, unsealed for each use (docs/signer.md, "HSM").
    Hsm(Box<crate::hsm::SealedEntropy>),
}

fn seed_of(entropy: &[u8]) -> Result<Zeroizing<[u8; 64]>, SignerError> {
    let mnemonic = bip39::Mnemonic::from_entropy(entropy).map_err(|e| SignerError::Mnemonic(e.to_string()))?;
    Ok(Zeroizing::new(mnemonic.to_seed("")))
}

impl fmt::Debug for Keystore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keystore { .. }")
    }
}

fn crypto(e: impl fmt::Display) -> SignerError {
    SignerError::Crypto(e.to_string())
}

fn derive_key(password: &[u8], salt: &[u8], p: KdfParams) -> Result<Zeroizing<[u8; 32]>, SignerError> {
    p.check().map_err(crypto)?;
    let params = Params::new(p.m_kib, p.t, p.p, Some(32)).map_err(crypto)?;
    let mut key = Zeroizing::new([0u8; 32]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password, salt, &mut key[..])
        .map_err(crypto)?;
    Ok(key)
}

impl Keystore {
    /// Creates a keystore from fresh OS randomness. Returns it with the mnemonic, which the
    /// caller shows once: it is the only backup.
    pub fn create(
        path: &Path,
        password: &str,
        params: KdfParams,
    ) -> Result<(Keystore, Zeroizing<String>), SignerError> {
        let mut entropy = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut entropy[..]).map_err(crypto)?;
        let mnemonic = bip39::Mnemonic::from_entropy(&entropy[..]).map_err(|e| SignerError::Mnemonic(e.to_string()))?;
        let phrase = Zeroizing::new(mnemonic.to_string());
        let ks = Self::write(path, &entropy[..], password, params)?;
        Ok((ks, phrase))
    }

    /// Rebuilds a keystore from its mnemonic.
    pub fn restore(path: &Path, phrase: &str, password: &str, params: KdfParams) -> Result<Keystore, SignerError> {
        let mnemonic = bip39::Mnemonic::parse_in(bip39::Language::English, phrase.trim())
            .map_err(|e| SignerError::Mnemonic(e.to_string()))?;
        let entropy = Zeroizing::new(mnemonic.to_entropy());
        Self::write(path, &entropy[..], password, params)
    }

    fn unlocked(entropy: &[u8]) -> Result<Keystore, SignerError> {
        Ok(Keystore { secret: Secret::Memory(seed_of(entropy)?) })
    }

    /// Like [`create`](Self::create), but the entropy is sealed by an AES key inside an HSM
    /// (made there if the token has none under that label); `pin` is the token's user PIN.
    pub fn create_in_hsm(
        path: &Path,
        cfg: &crate::HsmConfig,
        pin: &str,
    ) -> Result<(Keystore, Zeroizing<String>), SignerError> {
        let mut entropy = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut entropy[..]).map_err(crypto)?;
        let mnemonic = bip39::Mnemonic::from_entropy(&entropy[..]).map_err(|e| SignerError::Mnemonic(e.to_string()))?;
        let phrase = Zeroizing::new(mnemonic.to_string());
        Ok((Self::write_hsm(path, &entropy[..], cfg, pin)?, phrase))
    }

    /// Like [`restore`](Self::restore), into an HSM keystore.
    pub fn restore_in_hsm(
        path: &Path,
        phrase: &str,
        cfg: &crate::HsmConfig,
        pin: &str,
    ) -> Result<Keystore, SignerError> {
        let mnemonic = bip39::Mnemonic::parse_in(bip39::Language::English, phrase.trim())
            .map_err(|e| SignerError::Mnemonic(e.to_string()))?;
        Self::write_hsm(path, &Zeroizing::new(mnemonic.to_entropy()), cfg, pin)
    }

    fn write_hsm(path: &Path, entropy: &[u8], cfg: &crate::HsmConfig, pin: &str) -> Result<Keystore, SignerError> {
        if path.exists() {
            return Err(SignerError::Exists(path.display().to_string()));
        }
        let (file, hsm) = crate::hsm::HsmFile::seal(cfg, pin, entropy)?;
        let sealed = crate::hsm::SealedEntropy::from_parts(hsm, &file)?;
        write_atomic(path, &serde_json::to_vec_pretty(&file).map_err(crypto)?)?;
        Ok(Keystore { secret: Secret::Hsm(Box::new(sealed)) })
    }

    /// The BIP-39 seed (unsealed by the HSM for an HSM keystore).
    fn seed(&self) -> Result<Zeroizing<[u8; 64]>, SignerError> {
        match &self.secret {
            Secret::Memory(seed) => Ok(seed.clone()),
            Secret::Hsm(sealed) => seed_of(&sealed.unseal()?),
        }
    }

    fn write(path: &Path, entropy: &[u8], password: &str, params: KdfParams) -> Result<Keystore, SignerError> {
        if path.exists() {
            return Err(SignerError::Exists(path.display().to_string()));
        }
        let ks = Self::unlocked(entropy)?;
        let (mut salt, mut nonce) = ([0u8; 16], [0u8; 24]);
        getrandom::fill(&mut salt).map_err(crypto)?;
        getrandom::fill(&mut nonce).map_err(crypto)?;
        let mut file = KeystoreFile {
            version: FORMAT_VERSION,
            kdf: "argon2id".into(),
            kdf_params: params,
            salt: hex::encode(salt),
            cipher: "xchacha20poly1305".into(),
            nonce: hex::encode(nonce),
            ciphertext: String::new(),
        };
        let key = derive_key(password.as_bytes(), &salt, params)?;
        let cipher = XChaCha20Poly1305::new(Key::from_slice(&key[..]));
        let aad = file.aad();
        let ct = cipher.encrypt(XNonce::from_slice(&nonce), Payload { msg: entropy, aad: &aad }).map_err(crypto)?;
        file.ciphertext = hex::encode(ct);
        let json = serde_json::to_vec_pretty(&file).map_err(crypto)?;
        write_atomic(path, &json)?;
        Ok(ks)
    }

    /// A 32-byte secret for a local purpose of this keystore (not a BIP-32 key: nothing outside
    /// this signer ever sees it), e.g. the key that encrypts MuSig2 secret nonces at rest.
    pub(crate) fn derived_secret(&self, domain: pc_codec::Domain) -> Result<Zeroizing<[u8; 32]>, SignerError> {
        Ok(Zeroizing::new(domain.hash(&self.seed()?[..]).0))
    }

    /// Unlocks a keystore file.
    pub fn open(path: &Path, password: &str) -> Result<Keystore, SignerError> {
        let corrupt = |why: String| SignerError::Corrupt { path: path.display().to_string(), why };
        let bytes = std::fs::read(path).map_err(io(path))?;
        let probe: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        if probe.get("backend").and_then(|b| b.as_str()) == Some(crate::hsm::BACKEND) {
            let file: crate::hsm::HsmFile = serde_json::from_value(probe).map_err(|e| corrupt(e.to_string()))?;
            return Ok(Keystore { secret: Secret::Hsm(Box::new(file.open(path, password)?)) });
        }
        let file: KeystoreFile = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        if file.version != FORMAT_VERSION || file.kdf != "argon2id" || file.cipher != "xchacha20poly1305" {
            return Err(corrupt(format!("unsupported format v{} {}/{}", file.version, file.kdf, file.cipher)));
        }
        file.kdf_params.check().map_err(corrupt)?;
        let salt = hex::decode(&file.salt).map_err(|e| corrupt(format!("salt: {e}")))?;
        let nonce: [u8; 24] = hex::decode(&file.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| corrupt("nonce must be 24 bytes of hex".into()))?;
        let ct = hex::decode(&file.ciphertext).map_err(|e| corrupt(format!("ciphertext: {e}")))?;
        let key = derive_key(password.as_bytes(), &salt, file.kdf_params)?;
        let cipher = XChaCha20Poly1305::new(Key::from_slice(&key[..]));
        let aad = file.aad();
        let entropy = Zeroizing::new(
            cipher
                .decrypt(XNonce::from_slice(&nonce), Payload { msg: &ct, aad: &aad })
                .map_err(|_| SignerError::WrongPassword)?,
        );
        Self::unlocked(&entropy)
    }

    /// The key pair of `purpose` number `index`.
    pub fn keypair(&self, purpose: Purpose, index: u32) -> Result<Keypair, SignerError> {
        let path: DerivationPath = purpose.path(index).parse().map_err(crypto)?;
        let xprv = XPrv::derive_from_path(&self.seed()?[..], &path).map_err(crypto)?;
        let secret = Zeroizing::new(xprv.to_bytes());
        keypair_from_seed(*secret).map_err(crypto)
    }

    /// VRF key `index`: its seed is the derived secret of the `vrf` branch, so it is as
    /// separated from the other purposes as they are from each other (hardened derivation).
    pub fn vrf_keypair(&self, index: u32) -> Result<pc_crypto::vrf::VrfKeypair, SignerError> {
        let secret = Zeroizing::new(self.keypair(Purpose::Vrf, index)?.to_secret_bytes());
        pc_crypto::vrf::VrfKeypair::from_seed(*secret).map_err(crypto)
    }

    /// BLS key `index`, from the derived secret of the `bls` branch (IETF KeyGen).
    pub fn bls_secret(&self, index: u32) -> Result<pc_crypto::bls::BlsSecret, SignerError> {
        let secret = Zeroizing::new(self.keypair(Purpose::Bls, index)?.to_secret_bytes());
        pc_crypto::bls::BlsSecret::from_seed(*secret).map_err(crypto)
    }

    /// The BIP-340 public key of `purpose` number `index`.
    pub fn public_key(&self, purpose: Purpose, index: u32) -> Result<XOnly, SignerError> {
        Ok(XOnly::of(&self.keypair(purpose, index)?))
    }

    /// Signs `request` with key `index` of `purpose`, refusing a request of another purpose.
    pub fn sign(&self, purpose: Purpose, index: u32, request: &Request) -> Result<[u8; 64], SignerError> {
        let (needed, what, msg) = request.purpose();
        if needed != purpose {
            return Err(SignerError::Purpose { key: purpose, request: what });
        }
        Ok(sign_sighash(&self.keypair(purpose, index)?, msg))
    }
}
