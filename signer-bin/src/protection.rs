//! Slashing protection: never two different events for one slot.

use crate::SignerError;
use crate::error::io;
use pc_codec::Hash32;
use std::collections::BTreeMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where an event sits: one seat signs at most one event per slot. The epoch is part of the
/// signed event (docs/spec/consensus.md §2), so a new DAG never reuses a slot of an old one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot {
    /// Shard of the DAG.
    pub shard: u16,
    /// DAG epoch (global index of its first anchor).
    pub epoch: u64,
    /// Seat index.
    pub seat: u8,
    /// The seat's event number.
    pub seq: u64,
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shard {} epoch {} seat {} seq {}", self.shard, self.epoch, self.seat, self.seq)
    }
}

/// The persistent record of signed events: one line `shard epoch seat seq event-id` per
/// signature, appended and synced before the signature leaves the signer.
#[derive(Debug)]
pub struct Protection {
    path: PathBuf,
    signed: BTreeMap<Slot, Hash32>,
    file: File,
}

fn parse_line(line: &str) -> Option<(Slot, Hash32)> {
    let mut parts = line.split(' ');
    let slot = Slot {
        shard: parts.next()?.parse().ok()?,
        epoch: parts.next()?.parse().ok()?,
        seat: parts.next()?.parse().ok()?,
        seq: parts.next()?.parse().ok()?,
    };
    let id = Hash32::from_hex(parts.next()?).ok()?;
    parts.next().is_none().then_some((slot, id))
}

impl Protection {
    /// Opens (or creates) the record and loads it. A malformed line is an error: a signer that
    /// cannot read its history must not sign. So are two different events recorded for one
    /// slot, which protection never writes.
    ///
    /// One exception: a last line without its newline that does not parse is a write torn by
    /// a crash. Its signature never left (a record is synced before the signature is made, and
    /// a synced line is whole), so it is cut off and the signer starts.
    pub fn open(path: &Path) -> Result<Protection, SignerError> {
        let corrupt = |why: String| SignerError::Corrupt { path: path.display().to_string(), why };
        let bytes = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(path)(e)),
        };
        let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let torn = &bytes[whole..];
        let torn_parses = std::str::from_utf8(torn).ok().and_then(parse_line);
        let text = std::str::from_utf8(&bytes[..whole]).map_err(|e| corrupt(e.to_string()))?;
        let mut records = Vec::new();
        for (n, line) in text.lines().enumerate() {
            records.push(parse_line(line).ok_or_else(|| corrupt(format!("line {}: {line:?}", n + 1)))?);
        }
        records.extend(torn_parses);
        let mut signed = BTreeMap::new();
        for (n, (slot, id)) in records.into_iter().enumerate() {
            if signed.insert(slot, id).is_some_and(|prev| prev != id) {
                return Err(corrupt(format!("line {}: a second event for {slot}", n + 1)));
            }
        }
        let mut file = OpenOptions::new().create(true).append(true).open(path).map_err(io(path))?;
        if !torn.is_empty() {
            if torn_parses.is_some() {
                // Whole but for its newline: finish it, so the next record starts a line.
                file.write_all(b"\n").and_then(|()| file.sync_data()).map_err(io(path))?;
            } else {
                file.set_len(whole as u64).and_then(|()| file.sync_data()).map_err(io(path))?;
            }
        }
        Ok(Protection { path: path.to_path_buf(), signed, file })
    }

    /// The event recorded at `slot`, if any.
    pub fn signed(&self, slot: &Slot) -> Option<Hash32> {
        self.signed.get(slot).copied()
    }

    /// Records that `event` is signed at `slot`, or refuses if another event was signed there.
    /// Signing the same event again is allowed (a resend after a crash is not a fault).
    pub fn record(&mut self, slot: Slot, event: &Hash32) -> Result<(), SignerError> {
        match self.signed.get(&slot) {
            Some(prev) if prev == event => Ok(()),
            Some(prev) => Err(SignerError::DoubleSign { slot, signed: prev.to_hex() }),
            None => {
                let line = format!("{} {} {} {} {}\n", slot.shard, slot.epoch, slot.seat, slot.seq, event.to_hex());
                self.file.write_all(line.as_bytes()).and_then(|()| self.file.sync_data()).map_err(io(&self.path))?;
                self.signed.insert(slot, *event);
                Ok(())
            }
        }
    }
}
