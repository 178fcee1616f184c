//! The PKCS#11 backend (cryptoki): the keystore's entropy sealed by an AES-256 key that never
//! leaves the HSM.
//!
//! PKCS#11 has no BIP-340 mechanism, so the HSM cannot sign for us. Instead it holds a
//! non-extractable, sensitive AES-256 key (the key-encryption key); the keystore file stores
//! the mnemonic's entropy encrypted by it with AES-GCM inside the HSM. The entropy is decrypted
//! into zeroized memory for each signature and dropped right after (docs/signer.md, "HSM").

use crate::SignerError;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use std::path::Path;
use std::sync::Mutex;
use zeroize::Zeroizing;

/// The AES-GCM IV length.
pub const IV_LEN: usize = 12;
const TAG_BITS: u64 = 128;

fn hsm_err(what: &str) -> impl FnOnce(Error) -> SignerError + '_ {
    move |e| SignerError::Hsm(format!("{what}: {e}"))
}

/// A logged-in session on one token with the key-encryption key found (or made).
pub struct Hsm {
    // Kept for the session's lifetime: the module stays loaded while it is open.
    _ctx: Pkcs11,
    session: Mutex<Session>,
    key: ObjectHandle,
}

impl std::fmt::Debug for Hsm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hsm { .. }")
    }
}

impl Hsm {
    /// Loads `module`, logs in to the token labelled `token` with the user `pin`, and finds
    /// the AES key labelled `key_label` — generating it inside the token (sensitive,
    /// non-extractable) when `create` is set and there is none. A found key that could leave
    /// the token is refused.
    pub fn open(module: &Path, token: &str, pin: &str, key_label: &str, create: bool) -> Result<Hsm, SignerError> {
        let ctx = Pkcs11::new(module).map_err(|e| SignerError::Hsm(format!("{}: {e}", module.display())))?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => return Err(hsm_err("initialize")(e)),
        }
        let mut slot = None;
        for s in ctx.get_slots_with_token().map_err(hsm_err("slots"))? {
            let info = ctx.get_token_info(s).map_err(hsm_err("token info"))?;
            if info.token_initialized() && info.label() == token {
                slot = Some(s);
                break;
            }
        }
        let slot = slot.ok_or_else(|| SignerError::Hsm(format!("no initialized token labelled `{token}`")))?;
        let session = ctx.open_rw_session(slot).map_err(hsm_err("open session"))?;
        match session.login(UserType::User, Some(&AuthPin::from(pin))) {
            Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(Error::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange | RvError::PinInvalid, _)) => {
                return Err(SignerError::WrongPassword);
            }
            Err(e) => return Err(hsm_err("login")(e)),
        }
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Label(key_label.as_bytes().to_vec()),
        ];
        let found = session.find_objects(&template).map_err(hsm_err("find key"))?;
        let key = match found.as_slice() {
            [k] => *k,
            [] if create => session
                .generate_key(
                    &Mechanism::AesKeyGen,
                    &[
                        Attribute::Class(ObjectClass::SECRET_KEY),
                        Attribute::KeyType(KeyType::AES),
                        Attribute::ValueLen(32.into()),
                        Attribute::Token(true),
                        Attribute::Private(true),
                        Attribute::Sensitive(true),
                        Attribute::Extractable(false),
                        Attribute::Encrypt(true),
                        Attribute::Decrypt(true),
                        Attribute::Label(key_label.as_bytes().to_vec()),
                    ],
                )
                .map_err(hsm_err("generate key"))?,
            [] => return Err(SignerError::Hsm(format!("token `{token}` has no key labelled `{key_label}`"))),
            _ => return Err(SignerError::Hsm(format!("token `{token}` has several keys labelled `{key_label}`"))),
        };
        let hsm = Hsm { _ctx: ctx, session: Mutex::new(session), key };
        hsm.check_protected()?;
        Ok(hsm)
    }

    fn with<T>(&self, f: impl FnOnce(&Session) -> Result<T, SignerError>) -> Result<T, SignerError> {
        let s = self.session.lock().map_err(|_| SignerError::Hsm("session lock poisoned".into()))?;
        f(&s)
    }

    /// Refuses a key the token would reveal: it must be sensitive and never extractable.
    fn check_protected(&self) -> Result<(), SignerError> {
        let attrs = self.with(|s| {
            s.get_attributes(self.key, &[AttributeType::Sensitive, AttributeType::Extractable, AttributeType::Value])
                .map_err(hsm_err("key attributes"))
        })?;
        let mut ok = (false, false);
        for a in &attrs {
            match a {
                Attribute::Sensitive(v) => ok.0 = *v,
                Attribute::Extractable(v) => ok.1 = !*v,
                Attribute::Value(_) => return Err(SignerError::Hsm("the key's value is readable".into())),
                _ => {}
            }
        }
        if ok != (true, true) {
            return Err(SignerError::Hsm("the key must be sensitive and non-extractable".into()));
        }
        Ok(())
    }

    /// Encrypts `secret` inside the HSM; returns the fresh IV and the ciphertext with its tag.
    pub fn seal(&self, secret: &[u8], aad: &[u8]) -> Result<([u8; IV_LEN], Vec<u8>), SignerError> {
        self.with(|s| {
            let mut iv = [0u8; IV_LEN];
            s.generate_random_slice(&mut iv).map_err(hsm_err("random"))?;
            let mut iv_param = iv;
            let mech = Mechanism::AesGcm(GcmParams::new(&mut iv_param, aad, TAG_BITS.into()).map_err(hsm_err("gcm"))?);
            let ct = s.encrypt(&mech, self.key, secret).map_err(hsm_err("encrypt"))?;
            Ok((iv, ct))
        })
    }

    /// Decrypts inside the HSM. A changed ciphertext or header fails the GCM tag.
    pub fn unseal(&self, iv: &[u8; IV_LEN], ct: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, SignerError> {
        self.with(|s| {
            let mut iv = *iv;
            let mech = Mechanism::AesGcm(GcmParams::new(&mut iv, aad, TAG_BITS.into()).map_err(hsm_err("gcm"))?);
            s.decrypt(&mech, self.key, ct).map(Zeroizing::new).map_err(|e| {
                SignerError::Hsm(format!("the HSM could not decrypt the keystore (altered, or another key): {e}"))
            })
        })
    }
}

/// Where an HSM keystore's key-encryption key lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HsmConfig {
    /// The PKCS#11 module (e.g. `/usr/lib/softhsm/libsofthsm2.so`).
    pub module: std::path::PathBuf,
    /// The token's label.
    pub token: String,
    /// The AES key's label on the token.
    pub key_label: String,
}

/// The file of an HSM keystore: where the key is, and the entropy it sealed.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HsmFile {
    pub version: u32,
    pub backend: String,
    pub module: String,
    pub token: String,
    pub key: String,
    pub cipher: String,
    pub iv: String,
    pub ciphertext: String,
}

/// The backend tag of [`HsmFile`].
pub(crate) const BACKEND: &str = "pkcs11";
const CIPHER: &str = "aes-256-gcm";

impl HsmFile {
    /// The header, bound to the ciphertext as associated data (never empty: SoftHSM builds
    /// with extra checks abort on an empty AAD).
    fn aad(&self) -> Vec<u8> {
        format!("phantom-signer v{} {} {} {} {}", self.version, self.backend, self.token, self.key, self.cipher)
            .into_bytes()
    }

    fn config(&self) -> HsmConfig {
        HsmConfig { module: self.module.clone().into(), token: self.token.clone(), key_label: self.key.clone() }
    }

    /// Seals `entropy` with the key of `cfg` (made in the token if missing).
    pub fn seal(cfg: &HsmConfig, pin: &str, entropy: &[u8]) -> Result<(HsmFile, Hsm), SignerError> {
        let hsm = Hsm::open(&cfg.module, &cfg.token, pin, &cfg.key_label, true)?;
        let mut f = HsmFile {
            version: 1,
            backend: BACKEND.into(),
            module: cfg.module.display().to_string(),
            token: cfg.token.clone(),
            key: cfg.key_label.clone(),
            cipher: CIPHER.into(),
            iv: String::new(),
            ciphertext: String::new(),
        };
        let (iv, ct) = hsm.seal(entropy, &f.aad())?;
        f.iv = hex::encode(iv);
        f.ciphertext = hex::encode(ct);
        Ok((f, hsm))
    }

    /// Opens the HSM session for this file and checks the entropy decrypts; returns the session
    /// with what [`unseal`](Self::unseal) needs.
    pub fn open(&self, path: &Path, pin: &str) -> Result<SealedEntropy, SignerError> {
        let corrupt = |why: &str| SignerError::Corrupt { path: path.display().to_string(), why: why.into() };
        if self.version != 1 || self.backend != BACKEND || self.cipher != CIPHER {
            return Err(corrupt("unsupported HSM keystore format"));
        }
        let iv: [u8; IV_LEN] =
            hex::decode(&self.iv).ok().and_then(|b| b.try_into().ok()).ok_or_else(|| corrupt("iv: 12 bytes of hex"))?;
        let ct = hex::decode(&self.ciphertext).map_err(|_| corrupt("ciphertext: hex"))?;
        let cfg = self.config();
        let hsm = Hsm::open(&cfg.module, &cfg.token, pin, &cfg.key_label, false)?;
        let sealed = SealedEntropy { hsm, iv, ct, aad: self.aad() };
        sealed.unseal()?;
        Ok(sealed)
    }
}

/// The keystore's entropy as the HSM sealed it, with the session that can unseal it.
#[derive(Debug)]
pub struct SealedEntropy {
    hsm: Hsm,
    iv: [u8; IV_LEN],
    ct: Vec<u8>,
    aad: Vec<u8>,
}

impl SealedEntropy {
    pub(crate) fn from_parts(hsm: Hsm, file: &HsmFile) -> Result<SealedEntropy, SignerError> {
        let bad = || SignerError::Hsm("sealed entropy does not parse".into());
        let iv = hex::decode(&file.iv).ok().and_then(|b| b.try_into().ok()).ok_or_else(bad)?;
        Ok(SealedEntropy { hsm, iv, ct: hex::decode(&file.ciphertext).map_err(|_| bad())?, aad: file.aad() })
    }

    /// The entropy, decrypted in the HSM into memory that is zeroized on drop.
    pub fn unseal(&self) -> Result<Zeroizing<Vec<u8>>, SignerError> {
        self.hsm.unseal(&self.iv, &self.ct, &self.aad)
    }
}
