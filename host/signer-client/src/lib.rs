//! The signing service's protocol: one JSON object per line each way over a unix socket
//! (docs/signer.md, "Signing service"), and the node's side of it.
//!
//! The server is `phantom-signer serve`; it lives in the signer binary crate with the keystore
//! and the slashing-protection record. This crate is what a node needs to talk to it, so no
//! host crate depends on a binary crate.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use parity_scale_codec::Encode;
use pc_codec::{Hash32, Identified};
use pc_consensus::Event;
use pc_crypto::{Bip340, XOnly};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest line either side accepts (an event is at most 1 KiB, hex doubles it).
pub const MAX_LINE: u64 = 8 * 1024;

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
    /// A committee candidacy of `bond` for the epoch starting at anchor `epoch` over `seed`,
    /// proved with VRF key `index`: the encoded `committee-vrf` call, hex.
    Candidacy {
        /// The shared secret (hex).
        token: String,
        /// Key set index (the VRF key of the seat's index).
        index: u32,
        /// The chain's genesis hash (hex).
        genesis: String,
        /// The bond id (hex).
        bond: String,
        /// First anchor of the epoch.
        epoch: u64,
        /// The epoch's seed (hex).
        seed: String,
    },
    /// A heartbeat of `bond` bound to finalized anchor `anchor`, signed by seat key `index`:
    /// the encoded `committee-vrf` call, hex.
    Heartbeat {
        /// The shared secret (hex).
        token: String,
        /// Seat key index.
        index: u32,
        /// The chain's genesis hash (hex).
        genesis: String,
        /// The bond id (hex).
        bond: String,
        /// The anchor it is bound to.
        anchor: u64,
    },
}

impl Call {
    /// The token the call carries.
    pub fn token(&self) -> &str {
        match self {
            Call::SeatKey { token, .. }
            | Call::SignEvent { token, .. }
            | Call::Candidacy { token, .. }
            | Call::Heartbeat { token, .. } => token,
        }
    }
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

/// What went wrong on the node's side of the socket.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The service refused to sign (slashing protection: the slot is taken).
    #[error("the signer refused: {0}")]
    Refused(String),
    /// The service could not be reached, or answered something else.
    #[error("signing service: {0}")]
    Service(String),
}

/// The node's side: a connection to the service, re-opened after an error.
#[derive(Debug)]
pub struct Client {
    socket: PathBuf,
    token: String,
    conn: Option<(BufReader<UnixStream>, UnixStream)>,
}

impl Client {
    /// A client for `socket` with the token read from `token_file` (nothing is sent yet).
    pub fn new(socket: &Path, token_file: &Path) -> Result<Client, ClientError> {
        let token = std::fs::read_to_string(token_file)
            .map_err(|e| ClientError::Service(format!("{}: {e}", token_file.display())))?
            .trim()
            .to_string();
        Ok(Client { socket: socket.to_path_buf(), token, conn: None })
    }

    fn call(&mut self, call: &Call) -> Result<String, ClientError> {
        let res = self.exchange(call);
        if res.is_err() {
            self.conn = None;
        }
        match res? {
            Reply::Ok(v) => Ok(v),
            Reply::Error { kind, message } if kind == "double-sign" => Err(ClientError::Refused(message)),
            Reply::Error { kind, message } => Err(ClientError::Service(format!("{kind}: {message}"))),
        }
    }

    fn exchange(&mut self, call: &Call) -> Result<Reply, ClientError> {
        let svc = |e: std::io::Error| ClientError::Service(format!("{}: {e}", self.socket.display()));
        if self.conn.is_none() {
            let s = UnixStream::connect(&self.socket).map_err(svc)?;
            s.set_read_timeout(Some(Duration::from_secs(10))).map_err(svc)?;
            self.conn = Some((BufReader::new(s.try_clone().map_err(svc)?), s));
        }
        let Some((reader, writer)) = self.conn.as_mut() else {
            return Err(ClientError::Service("not connected".into()));
        };
        let mut line = serde_json::to_string(call).map_err(|e| ClientError::Service(e.to_string()))?;
        line.push('\n');
        writer.write_all(line.as_bytes()).map_err(svc)?;
        let mut answer = String::new();
        if reader.take(MAX_LINE).read_line(&mut answer).map_err(svc)? == 0 {
            return Err(ClientError::Service("the signer closed the connection".into()));
        }
        serde_json::from_str(&answer).map_err(|e| ClientError::Service(format!("reply: {e}")))
    }

    /// The public key of seat key `index`.
    pub fn seat_key(&mut self, index: u32) -> Result<XOnly, ClientError> {
        let hex_key = self.call(&Call::SeatKey { token: self.token.clone(), index })?;
        let raw: [u8; 32] = hex::decode(&hex_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| ClientError::Service("the signer sent a malformed key".into()))?;
        Ok(XOnly(raw))
    }

    /// The encoded `committee-vrf` candidacy call of `bond` for `epoch` over `seed` (module
    /// calls are opaque here: the node checks them at admission like any call).
    pub fn candidacy(
        &mut self,
        index: u32,
        genesis: &Hash32,
        bond: &Hash32,
        epoch: u64,
        seed: &Hash32,
    ) -> Result<Vec<u8>, ClientError> {
        let call = Call::Candidacy {
            token: self.token.clone(),
            index,
            genesis: genesis.to_hex(),
            bond: bond.to_hex(),
            epoch,
            seed: seed.to_hex(),
        };
        hex::decode(self.call(&call)?).map_err(|_| ClientError::Service("the signer sent a malformed call".into()))
    }

    /// The encoded `committee-vrf` heartbeat call of `bond` bound to `anchor`.
    pub fn heartbeat(
        &mut self,
        index: u32,
        genesis: &Hash32,
        bond: &Hash32,
        anchor: u64,
    ) -> Result<Vec<u8>, ClientError> {
        let call = Call::Heartbeat {
            token: self.token.clone(),
            index,
            genesis: genesis.to_hex(),
            bond: bond.to_hex(),
            anchor,
        };
        hex::decode(self.call(&call)?).map_err(|_| ClientError::Service("the signer sent a malformed call".into()))
    }

    /// Signs `event` with seat key `index`; the signature is checked against `key` before it is
    /// returned, so a misconfigured signer cannot make the node publish a bad event.
    pub fn sign_event(&mut self, index: u32, key: &XOnly, event: &Event) -> Result<[u8; 64], ClientError> {
        let call = Call::SignEvent { token: self.token.clone(), index, event: hex::encode(event.encode()) };
        let sig: [u8; 64] = hex::decode(self.call(&call)?)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| ClientError::Service("the signer sent a malformed signature".into()))?;
        let id: Hash32 = event.id();
        if !Bip340::verify(key, &id.0, &sig) {
            return Err(ClientError::Service("the signer's signature does not verify under the seat key".into()));
        }
        Ok(sig)
    }
}
