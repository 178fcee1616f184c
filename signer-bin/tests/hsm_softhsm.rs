//! The PKCS#11 backend against SoftHSM2 (Debian packages softhsm2 and libsofthsm2), each test
//! with its own token directory. Every step is a phantom-signer process with `SOFTHSM2_CONF`
//! pointing at that directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pc_codec::{Hash32, Identified};
use pc_utxo_tx::{Address, Bip340};
use phantom_signer::service::Client;
use phantom_signer::{KdfParams, Keystore, Purpose};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::Proc;

const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PIN: &str = "87654321";

/// A private SoftHSM2 token directory with one token initialized per label.
struct SoftHsm {
    dir: PathBuf,
    conf: PathBuf,
}

impl SoftHsm {
    fn new(dir: &Path, labels: &[&str]) -> SoftHsm {
        assert!(Path::new(MODULE).exists(), "{MODULE} is missing: install the softhsm2 and libsofthsm2 packages");
        let tokens = dir.join("tokens");
        std::fs::create_dir_all(&tokens).unwrap();
        let conf = dir.join("softhsm2.conf");
        let text =
            format!("directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n", tokens.display());
        std::fs::write(&conf, text).unwrap();
        for label in labels {
            let ok = Command::new("softhsm2-util")
                .args(["--init-token", "--free", "--label", label, "--so-pin", "12345678", "--pin", PIN])
                .env("SOFTHSM2_CONF", &conf)
                .stdout(Stdio::null())
                .status()
                .expect("softhsm2-util (package softhsm2)")
                .success();
            assert!(ok, "softhsm2-util could not initialize token {label}");
        }
        SoftHsm { dir: dir.to_path_buf(), conf }
    }

    fn signer(&self, keystore: &str, pin: &str, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_phantom-signer"));
        c.arg("--keystore").arg(self.dir.join(keystore)).args(args);
        c.env("SOFTHSM2_CONF", &self.conf).env("PHANTOM_SIGNER_PASSWORD", pin);
        c
    }

    /// Ok(stdout) or Err(stderr).
    fn run(&self, keystore: &str, pin: &str, args: &[&str]) -> Result<String, String> {
        let out = self.signer(keystore, pin, args).output().unwrap();
        let text = |b: Vec<u8>| String::from_utf8(b).unwrap().trim().to_string();
        if out.status.success() { Ok(text(out.stdout)) } else { Err(text(out.stderr)) }
    }
}

#[test]
fn an_hsm_keystore_keeps_no_secret_in_clear_and_derives_the_mnemonics_keys() {
    let dir = tempfile::tempdir().unwrap();
    let hsm = SoftHsm::new(dir.path(), &["pc-test", "pc-empty"]);
    let phrase = hsm.run("hsm.json", PIN, &["init", "--hsm-token", "pc-test", "--hsm-module", MODULE]).unwrap();
    assert_eq!(phrase.split_whitespace().count(), 24);

    let file = std::fs::read_to_string(dir.path().join("hsm.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&file).unwrap();
    assert_eq!(v["backend"], "pkcs11");
    let entropy = bip39::Mnemonic::parse(&phrase).unwrap().to_entropy();
    assert!(!file.contains(&hex::encode(&entropy)), "the entropy is stored sealed, never in clear");

    // The HSM keystore derives exactly the keys of its mnemonic.
    let addr = hsm.run("hsm.json", PIN, &["address", "--purpose", "spend"]).unwrap();
    let soft =
        Keystore::restore(&dir.path().join("soft.json"), &phrase, "pw", KdfParams { m_kib: 64, t: 1, p: 1 }).unwrap();
    assert_eq!(addr, Address::Key(soft.public_key(Purpose::Spend, 0).unwrap()).to_string());
    // Restoring into the HSM (the same token, the same key) gives the same keys again.
    let mut restore = hsm.signer("again.json", PIN, &["restore", "--hsm-token", "pc-test"]);
    let mut child = restore.stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), phrase.as_bytes()).unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    assert_eq!(hsm.run("again.json", PIN, &["address", "--purpose", "spend"]).unwrap(), addr);

    // A wrong PIN, an altered file and a token without the key are clear errors; nothing changes.
    let wrong = hsm.run("hsm.json", "11111111", &["address"]).unwrap_err();
    assert!(wrong.contains("wrong password"), "{wrong}");
    let mut altered = v.clone();
    let ct = altered["ciphertext"].as_str().unwrap().to_string();
    let first = if ct.starts_with('0') { '1' } else { '0' };
    let flipped = format!("{first}{}", &ct[1..]);
    altered["ciphertext"] = flipped.into();
    std::fs::write(dir.path().join("altered.json"), altered.to_string()).unwrap();
    let e = hsm.run("altered.json", PIN, &["address"]).unwrap_err();
    assert!(e.contains("could not decrypt"), "{e}");
    let mut elsewhere = v.clone();
    elsewhere["token"] = "pc-empty".into();
    std::fs::write(dir.path().join("elsewhere.json"), elsewhere.to_string()).unwrap();
    let e = hsm.run("elsewhere.json", PIN, &["address"]).unwrap_err();
    assert!(e.contains("no key labelled"), "{e}");
    let e = hsm.run("x.json", PIN, &["init", "--hsm-token", "no-such-token"]).unwrap_err();
    assert!(e.contains("no initialized token"), "{e}");
    assert!(!dir.path().join("x.json").exists());
    assert_eq!(std::fs::read_to_string(dir.path().join("hsm.json")).unwrap(), file);
}

#[test]
fn the_signing_service_signs_events_with_an_hsm_seat_key() {
    let dir = tempfile::tempdir().unwrap();
    let hsm = SoftHsm::new(dir.path(), &["pc-seat"]);
    let phrase = hsm.run("seat.json", PIN, &["init", "--hsm-token", "pc-seat"]).unwrap();
    let socket = dir.path().join("s.sock");
    let token = dir.path().join("s.token");
    let protection = dir.path().join("p.log");
    let serve = ["serve", "--socket", socket.to_str().unwrap(), "--token-file", token.to_str().unwrap()];
    let child = hsm
        .signer("seat.json", PIN, &[&serve[..], &["--protection", protection.to_str().unwrap()]].concat())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _serve = Proc(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "the signer did not bind its socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut c = Client::new(&socket, &token).unwrap();
    let key = c.seat_key(0).unwrap();
    let soft =
        Keystore::restore(&dir.path().join("soft.json"), &phrase, "pw", KdfParams { m_kib: 64, t: 1, p: 1 }).unwrap();
    assert_eq!(key, soft.public_key(Purpose::Seat, 0).unwrap());
    let event = pc_consensus::Event {
        shard: 0,
        epoch: 1,
        creator: 0,
        seq: 1,
        parents: vec![],
        lamport: 1,
        frame: 1,
        payload_root: Hash32([4; 32]),
        payload_len: 0,
    };
    let sig = c.sign_event(0, &key, &event).unwrap();
    assert!(Bip340::verify(&key, &event.id().0, &sig));
}
