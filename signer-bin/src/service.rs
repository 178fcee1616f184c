//! The signing service: phantom-node's seat key behind a unix socket and a token.
//!
//! One JSON object per line each way (docs/signer.md, "Signing service"). Only seat keys are
//! served, and only for DAG events: the service decodes the event itself, so the slot it
//! protects is the one the signature covers, never one the caller claims.

use crate::{Keystore, Protection, Purpose, Request, SignerError, Slot};
use parity_scale_codec::Encode;
use pc_codec::{Hash32, Identified};
use pc_consensus::{Event, MAX_EVENT_BYTES};
use pc_utxo_tx::{Bip340, XOnly};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Longest request line accepted (an event is at most 1 KiB, hex doubles it).
const MAX_LINE: u64 = 8 * 1024;

/// A request on the socket.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Call {
    /// The x-only public key of seat key `index`.
    SeatKey {
        /// The shared secret (hex).
        token: String,
        /// Seat key index in the keystore.
        index: u32,
    },
    /// Signs a SCALE-encoded event with seat key `index`, after recording its slot.
    SignEvent {
        /// The shared secret (hex).
        token: String,
        /// Seat key index in the keystore.
        index: u32,
        /// SCALE(Event), hex.
        event: String,
    },
}

/// The answer: `{"ok": …}` or `{"error": {"kind": …, "message": …}}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Reply {
    /// Success: a public key or a signature, hex.
    Ok(String),
    /// Refusal.
    Error {
        /// `unauthorized`, `bad-request`, `double-sign` or `internal`.
        kind: String,
        /// Why.
        message: String,
    },
}

fn refusal(kind: &str, message: impl ToString) -> Reply {
    Reply::Error { kind: kind.into(), message: message.to_string() }
}

/// Reads the token file, or creates it (owner-only) with a fresh random token.
pub fn load_or_create_token(path: &Path) -> Result<String, SignerError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t.trim().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut raw = [0u8; 32];
            getrandom::fill(&mut raw).map_err(|e| SignerError::Crypto(e.to_string()))?;
            let token = hex::encode(raw);
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(crate::error::io(path))?;
            f.write_all(token.as_bytes()).and_then(|()| f.sync_all()).map_err(crate::error::io(path))?;
            Ok(token)
        }
        Err(e) => Err(crate::error::io(path)(e)),
    }
}

/// Compares without an early exit, so the time taken says nothing about the token.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The server's state: the unlocked keystore and the protection record, shared by connections.
pub struct Service {
    keystore: Keystore,
    protection: Mutex<Protection>,
    token: String,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Service { .. }")
    }
}

impl Service {
    /// A service signing with `keystore`'s seat keys under `protection`.
    pub fn new(keystore: Keystore, protection: Protection, token: String) -> Service {
        Service { keystore, protection: Mutex::new(protection), token }
    }

    /// Answers one request line.
    pub fn handle(&self, line: &str) -> Reply {
        let call: Call = match serde_json::from_str(line) {
            Ok(c) => c,
            Err(e) => return refusal("bad-request", e),
        };
        let (Call::SeatKey { token, .. } | Call::SignEvent { token, .. }) = &call;
        if !same_token(token, &self.token) {
            return refusal("unauthorized", "wrong token");
        }
        match call {
            Call::SeatKey { index, .. } => match self.keystore.public_key(Purpose::Seat, index) {
                Ok(k) => Reply::Ok(hex::encode(k.0)),
                Err(e) => refusal("internal", e),
            },
            Call::SignEvent { index, event, .. } => self.sign_event(index, &event),
        }
    }

    fn sign_event(&self, index: u32, event_hex: &str) -> Reply {
        let Ok(bytes) = hex::decode(event_hex) else { return refusal("bad-request", "event is not hex") };
        let event: Event = match pc_codec::decode_canonical(&bytes, MAX_EVENT_BYTES) {
            Ok(e) => e,
            Err(e) => return refusal("bad-request", format!("event: {e}")),
        };
        let slot = Slot { shard: event.shard, epoch: event.epoch, seat: event.creator, seq: event.seq };
        let id = event.id();
        // Record first, sign second: a crash in between leaves a record and no signature.
        let recorded = match self.protection.lock() {
            Ok(mut p) => p.record(slot, &id),
            Err(_) => return refusal("internal", "protection record poisoned"),
        };
        if let Err(e) = recorded {
            let kind = if matches!(e, SignerError::DoubleSign { .. }) { "double-sign" } else { "internal" };
            return refusal(kind, e);
        }
        match self.keystore.sign(Purpose::Seat, index, &Request::Event(id.0)) {
            Ok(sig) => Reply::Ok(hex::encode(sig)),
            Err(e) => refusal("internal", e),
        }
    }

    /// Binds `socket` (owner-only; a stale socket file is replaced) and serves each connection
    /// on its own thread until the process ends.
    pub fn serve(self: Arc<Self>, socket: &Path) -> Result<(), SignerError> {
        if socket.exists() {
            std::fs::remove_file(socket).map_err(crate::error::io(socket))?;
        }
        let listener = UnixListener::bind(socket).map_err(crate::error::io(socket))?;
        std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600)).map_err(crate::error::io(socket))?;
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let me = Arc::clone(&self);
            std::thread::spawn(move || me.connection(conn));
        }
        Ok(())
    }

    fn connection(&self, conn: UnixStream) {
        let Ok(writer) = conn.try_clone() else { return };
        let mut writer = writer;
        let mut reader = BufReader::new(conn);
        loop {
            let mut line = String::new();
            match (&mut reader).take(MAX_LINE).read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let reply = if line.ends_with('\n') {
                self.handle(line.trim_end())
            } else {
                refusal("bad-request", "line too long")
            };
            let unauthorized =
                matches!(&reply, Reply::Error { kind, .. } if kind == "unauthorized" || kind == "bad-request");
            let Ok(mut out) = serde_json::to_string(&reply) else { return };
            out.push('\n');
            if writer.write_all(out.as_bytes()).is_err() || unauthorized {
                return; // a caller without the token, or speaking garbage, gets one answer
            }
        }
    }
}

/// phantom-node's side: a connection to the service, re-opened after an error.
#[derive(Debug)]
pub struct Client {
    socket: PathBuf,
    token: String,
    conn: Option<(BufReader<UnixStream>, UnixStream)>,
}

impl Client {
    /// A client for `socket` with the token read from `token_file` (nothing is sent yet).
    pub fn new(socket: &Path, token_file: &Path) -> Result<Client, SignerError> {
        let token = std::fs::read_to_string(token_file).map_err(crate::error::io(token_file))?.trim().to_string();
        Ok(Client { socket: socket.to_path_buf(), token, conn: None })
    }

    fn call(&mut self, call: &Call) -> Result<String, SignerError> {
        let res = self.exchange(call);
        if res.is_err() {
            self.conn = None;
        }
        match res? {
            Reply::Ok(v) => Ok(v),
            Reply::Error { kind, message } if kind == "double-sign" => Err(SignerError::Refused(message)),
            Reply::Error { kind, message } => Err(SignerError::Service(format!("{kind}: {message}"))),
        }
    }

    fn exchange(&mut self, call: &Call) -> Result<Reply, SignerError> {
        let svc = |e: std::io::Error| SignerError::Service(format!("{}: {e}", self.socket.display()));
        if self.conn.is_none() {
            let s = UnixStream::connect(&self.socket).map_err(svc)?;
            s.set_read_timeout(Some(Duration::from_secs(10))).map_err(svc)?;
            self.conn = Some((BufReader::new(s.try_clone().map_err(svc)?), s));
        }
        let Some((reader, writer)) = self.conn.as_mut() else {
            return Err(SignerError::Service("not connected".into()));
        };
        let mut line = serde_json::to_string(call).map_err(|e| SignerError::Service(e.to_string()))?;
        line.push('\n');
        writer.write_all(line.as_bytes()).map_err(svc)?;
        let mut answer = String::new();
        if reader.take(MAX_LINE).read_line(&mut answer).map_err(svc)? == 0 {
            return Err(SignerError::Service("the signer closed the connection".into()));
        }
        serde_json::from_str(&answer).map_err(|e| SignerError::Service(format!("reply: {e}")))
    }

    /// The public key of seat key `index`.
    pub fn seat_key(&mut self, index: u32) -> Result<XOnly, SignerError> {
        let hex_key = self.call(&Call::SeatKey { token: self.token.clone(), index })?;
        let raw: [u8; 32] = hex::decode(&hex_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| SignerError::Service("the signer sent a malformed key".into()))?;
        Ok(XOnly(raw))
    }

    /// Signs `event` with seat key `index`; the signature is checked against `key` before it is
    /// returned, so a misconfigured signer cannot make the node publish a bad event.
    pub fn sign_event(&mut self, index: u32, key: &XOnly, event: &Event) -> Result<[u8; 64], SignerError> {
        let call = Call::SignEvent { token: self.token.clone(), index, event: hex::encode(event.encode()) };
        let sig: [u8; 64] = hex::decode(self.call(&call)?)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| SignerError::Service("the signer sent a malformed signature".into()))?;
        let id: Hash32 = event.id();
        if !Bip340::verify(key, &id.0, &sig) {
            return Err(SignerError::Service("the signer's signature does not verify under the seat key".into()));
        }
        Ok(sig)
    }
}
