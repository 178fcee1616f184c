//! The signing service with real processes: phantom-node signs its events through
//! `phantom-signer serve`, pauses while the signer is down, and the signer's slashing
//! protection refuses a double sign across its own restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pc_codec::{Hash32, Identified};
use pc_consensus::Event;
use pc_utxo_tx::Bip340;
use phantom_signer::service::{Client, ClientError};
use phantom_signer::{KdfParams, Keystore, Purpose};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{Proc, best_anchor, load, start_node};

struct Signer {
    dir: PathBuf,
}

impl Signer {
    fn new(dir: &Path) -> Signer {
        Keystore::create(&dir.join("k.json"), "pw", KdfParams { m_kib: 64, t: 1, p: 1 }).unwrap();
        Signer { dir: dir.to_path_buf() }
    }
    fn socket(&self) -> PathBuf {
        self.dir.join("signer.sock")
    }
    fn token(&self) -> PathBuf {
        self.dir.join("signer.token")
    }
    fn protection(&self) -> PathBuf {
        self.dir.join("protection.log")
    }
    /// Starts `phantom-signer serve` and waits for its socket.
    fn start(&self) -> Proc {
        let _ = std::fs::remove_file(self.socket());
        let child = Command::new(env!("CARGO_BIN_EXE_phantom-signer"))
            .arg("--keystore")
            .arg(self.dir.join("k.json"))
            .arg("serve")
            .arg("--socket")
            .arg(self.socket())
            .arg("--token-file")
            .arg(self.token())
            .arg("--protection")
            .arg(self.protection())
            .env("PHANTOM_SIGNER_PASSWORD", "pw")
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.socket().exists() {
            assert!(Instant::now() < deadline, "the signer did not bind its socket");
            std::thread::sleep(Duration::from_millis(20));
        }
        Proc(child)
    }
}

fn event(epoch: u64, seq: u64, payload: u8) -> Event {
    Event {
        shard: 0,
        epoch,
        creator: 0,
        seq,
        parents: vec![],
        lamport: 1,
        frame: 1,
        payload_root: Hash32([payload; 32]),
        payload_len: 0,
    }
}

#[test]
fn a_double_sign_is_refused_after_the_signer_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let signer = Signer::new(dir.path());
    let a = event(1, 5, 1);
    let b = event(1, 5, 2); // same slot, another event
    {
        let _s = signer.start();
        let mut c = Client::new(&signer.socket(), &signer.token()).unwrap();
        let key = c.seat_key(0).unwrap();
        let sig = c.sign_event(0, &key, &a).unwrap();
        assert!(Bip340::verify(&key, &a.id().0, &sig));
        assert!(matches!(c.sign_event(0, &key, &b), Err(ClientError::Refused(_))));
    } // SIGKILL
    let _s = signer.start();
    let mut c = Client::new(&signer.socket(), &signer.token()).unwrap();
    let key = c.seat_key(0).unwrap();
    let refused = c.sign_event(0, &key, &b).unwrap_err();
    assert!(matches!(&refused, ClientError::Refused(m) if m.contains("seq 5")), "{refused}");
    c.sign_event(0, &key, &a).unwrap(); // the same event again is a resend, not a fault
    c.sign_event(0, &key, &event(2, 5, 2)).unwrap(); // a new DAG epoch is a new slot

    // The key is the keystore's seat key 0, never another purpose's.
    let ks = Keystore::open(&dir.path().join("k.json"), "pw").unwrap();
    assert_eq!(key, ks.public_key(Purpose::Seat, 0).unwrap());
    assert_ne!(key, ks.public_key(Purpose::Spend, 0).unwrap());

    // A caller without the token gets nothing signed and nothing recorded.
    let before = std::fs::read_to_string(signer.protection()).unwrap();
    let wrong = dir.path().join("wrong.token");
    std::fs::write(&wrong, "00".repeat(32)).unwrap();
    let mut intruder = Client::new(&signer.socket(), &wrong).unwrap();
    let denied = intruder.sign_event(0, &key, &event(1, 9, 9)).unwrap_err();
    assert!(denied.to_string().contains("unauthorized"), "{denied}");
    assert_eq!(std::fs::read_to_string(signer.protection()).unwrap(), before);
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(signer.token()).unwrap().permissions());
    assert_eq!(mode & 0o077, 0, "the token file is owner-only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_signs_through_the_signer_and_pauses_while_it_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let signer = Signer::new(dir.path());
    let mut s = signer.start();
    let socket = signer.socket().display().to_string();
    let token = signer.token().display().to_string();
    let args = ["--signer-socket", socket.as_str(), "--signer-token-file", token.as_str()];
    let base = dir.path().join("node");
    let (node, url) = start_node(&base, &args);
    let traffic = load(&url);
    let wait_for = |min: u64, url: String| async move {
        let deadline = Instant::now() + Duration::from_secs(30);
        while best_anchor(&url).await < min {
            assert!(Instant::now() < deadline, "no anchor {min} in 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    wait_for(3, url.clone()).await;
    let log = std::fs::read_to_string(signer.protection()).unwrap();
    assert!(log.lines().count() >= 3, "every event went through the signer: {log}");
    assert!(log.lines().all(|l| l.starts_with("0 1 0 ")), "shard 0, epoch 1, seat 0: {log}");

    // Signer down: no new events, so finality stops; the node keeps serving.
    drop(s);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let paused = best_anchor(&url).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(best_anchor(&url).await, paused, "no finality without the seat key");

    // Signer back: production resumes on the same slot, with no double-sign refusal.
    s = signer.start();
    wait_for(paused + 2, url.clone()).await;

    // The node killed and restarted keeps signing through the same signer.
    drop(traffic);
    drop(node);
    let (_node, url) = start_node(&base, &args);
    let _traffic = load(&url);
    let now = best_anchor(&url).await;
    wait_for(now + 2, url.clone()).await;
    drop(s);
}
