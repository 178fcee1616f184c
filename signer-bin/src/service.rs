//! The signing service: phantom-node's seat key behind a unix socket and a token.
//!
//! One JSON object per line each way (docs/signer.md, "Signing service"). Seat keys sign DAG
//! events only as the service decodes them itself, so the slot it protects is the one the
//! signature covers, never one the caller claims. The validator's duties are served too: a
//! committee candidacy (VRF key) and a heartbeat (seat key over its own hash domain, which no
//! event id can equal); the service builds those calls itself and never signs a digest the
//! caller hands it.

use crate::{Keystore, Protection, Purpose, Request, SignerError, Slot};
use pc_codec::{Hash32, Identified};
use pc_consensus::{Event, MAX_EVENT_BYTES};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

pub use pc_signer_client::{Call, Client, ClientError, MAX_LINE, Reply};

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
        if !same_token(call.token(), &self.token) {
            return refusal("unauthorized", "wrong token");
        }
        match call {
            Call::SeatKey { index, .. } => match self.keystore.public_key(Purpose::Seat, index) {
                Ok(k) => Reply::Ok(hex::encode(k.0)),
                Err(e) => refusal("internal", e),
            },
            Call::SignEvent { index, event, .. } => self.sign_event(index, &event),
            Call::Candidacy { index, genesis, bond, epoch, seed, .. } => {
                let (Ok(genesis), Ok(bond), Ok(seed)) =
                    (Hash32::from_hex(&genesis), Hash32::from_hex(&bond), Hash32::from_hex(&seed))
                else {
                    return refusal("bad-request", "genesis, bond and seed are 32-byte hex");
                };
                match crate::validator::candidacy_call(&self.keystore, index, &genesis, &bond, epoch, &seed) {
                    Ok(call) => Reply::Ok(hex::encode(call)),
                    Err(e) => refusal("internal", e),
                }
            }
            Call::Heartbeat { index, genesis, bond, anchor, .. } => {
                let (Ok(genesis), Ok(bond)) = (Hash32::from_hex(&genesis), Hash32::from_hex(&bond)) else {
                    return refusal("bad-request", "genesis and bond are 32-byte hex");
                };
                match crate::validator::heartbeat_call(&self.keystore, index, &genesis, &bond, anchor) {
                    Ok(call) => Reply::Ok(hex::encode(call)),
                    Err(e) => refusal("internal", e),
                }
            }
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
