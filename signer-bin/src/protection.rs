//! Slashing protection: never two different events for one (seat, seq).

use crate::SignerError;
use crate::error::io;
use pc_codec::Hash32;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The persistent record of signed events: one line `seat seq event-id` per signature,
/// appended and synced before the signature leaves the signer.
#[derive(Debug)]
pub struct Protection {
    path: PathBuf,
    signed: BTreeMap<(u8, u64), Hash32>,
    file: File,
}

impl Protection {
    /// Opens (or creates) the record and loads it. A malformed line is an error: a signer that
    /// cannot read its history must not sign.
    pub fn open(path: &Path) -> Result<Protection, SignerError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io(path)(e)),
        };
        let mut signed = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let bad =
                || SignerError::Corrupt { path: path.display().to_string(), why: format!("line {}: {line:?}", n + 1) };
            let mut parts = line.split(' ');
            let seat = parts.next().and_then(|s| s.parse::<u8>().ok()).ok_or_else(bad)?;
            let seq = parts.next().and_then(|s| s.parse::<u64>().ok()).ok_or_else(bad)?;
            let id = parts.next().and_then(|s| Hash32::from_hex(s).ok()).ok_or_else(bad)?;
            if parts.next().is_some() {
                return Err(bad());
            }
            signed.insert((seat, seq), id);
        }
        let file = OpenOptions::new().create(true).append(true).open(path).map_err(io(path))?;
        Ok(Protection { path: path.to_path_buf(), signed, file })
    }

    /// Records that `seat` signs `event` at `seq`, or refuses if it signed another event there.
    /// Signing the same event again is allowed (a resend after a crash is not a fault).
    pub fn record(&mut self, seat: u8, seq: u64, event: &Hash32) -> Result<(), SignerError> {
        match self.signed.get(&(seat, seq)) {
            Some(prev) if prev == event => Ok(()),
            Some(prev) => Err(SignerError::DoubleSign { seat, seq, signed: prev.to_hex() }),
            None => {
                let line = format!("{seat} {seq} {}\n", event.to_hex());
                self.file.write_all(line.as_bytes()).and_then(|()| self.file.sync_data()).map_err(io(&self.path))?;
                self.signed.insert((seat, seq), *event);
                Ok(())
            }
        }
    }
}
