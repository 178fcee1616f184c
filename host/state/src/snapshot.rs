//! Snapshot export and restore (plan item t15).
//!
//! A snapshot is the whole module state at one committed anchor:
//!
//! ```text
//! record(Header) record(Body::Entry)* record(Body::End)
//! record(x) = u32-LE length ‖ SCALE(x)
//! ```
//!
//! `Body::End` holds the entry count and a BLAKE3 checksum (own domain) over every byte before
//! it. Restore checks the checksum, recomputes the state commitment from the entries and refuses
//! the snapshot unless its root equals the header's state root, so a snapshot is self-verifying
//! and a node never starts from state that does not match the root it claims.

use crate::commitment::Accumulator;
use crate::db::AUX_KEY_PREFIX;
use crate::{Head, StateDb, StateError};
use pc_codec::{Decode, Domain, Encode, Hash32, decode_canonical};
use pc_store::{Column, Durability, Scan, WriteBatch};
use rayon::prelude::*;
use std::io::{Read, Write};

/// Format marker; `02` is the lattice-hash state commitment (state format 2).
const MAGIC: [u8; 8] = *b"PCSNAP02";
/// The marker of snapshots of the sparse-Merkle-tree format (state format 1).
const MAGIC_TREE_FORMAT: [u8; 8] = *b"PCSNAP01";
const CHECKSUM: Domain = Domain::new("phantomcoin/v1/snapshot/checksum");
/// Largest record accepted when reading (a state value is far smaller).
const MAX_RECORD: usize = 16 << 20;

/// What a snapshot says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Header {
    /// Format marker.
    pub magic: [u8; 8],
    /// The chain the state belongs to.
    pub genesis: Hash32,
    /// The anchor the state is at, with the state root the entries must reproduce.
    pub head: Head,
}

#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
enum Body {
    Entry(Vec<u8>, Vec<u8>),
    End { entries: u64, checksum: Hash32 },
}

struct Writer<W: Write> {
    out: W,
    hasher: blake3::Hasher,
}

impl<W: Write> Writer<W> {
    fn record(&mut self, bytes: &[u8]) -> Result<(), StateError> {
        let len = u32::try_from(bytes.len()).map_err(|_| StateError::Snapshot("record over 4 GiB".into()))?;
        for part in [&len.to_le_bytes()[..], bytes] {
            self.hasher.update(part);
            self.out.write_all(part)?;
        }
        Ok(())
    }
}

/// Writes the state as of the current head to `out`. Returns the header written.
pub fn export(db: &StateDb, out: impl Write) -> Result<Header, StateError> {
    let head = db.head()?.ok_or_else(|| StateError::Snapshot("nothing committed yet".into()))?;
    let genesis = db.genesis_hash()?.ok_or_else(|| StateError::Snapshot("no genesis hash recorded".into()))?;
    let header = Header { magic: MAGIC, genesis, head };
    let mut w = Writer { out, hasher: CHECKSUM.hasher() };
    w.record(&header.encode())?;
    let mut entries = 0u64;
    let mut failure = None;
    // State entries, then auxiliary ones (their keys sort after every state key).
    for col in [Column::State, Column::Aux] {
        db.kv().scan(col, &[], &[], &mut |k, v| match w.record(&Body::Entry(k.to_vec(), v.to_vec()).encode()) {
            Ok(()) => {
                entries += 1;
                Scan::Continue
            }
            Err(e) => {
                failure = Some(e);
                Scan::Stop
            }
        })?;
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let checksum = Hash32(*w.hasher.finalize().as_bytes());
    w.record(&Body::End { entries, checksum }.encode())?;
    w.out.flush()?;
    Ok(header)
}

fn read_record(input: &mut impl Read, hasher: Option<&mut blake3::Hasher>) -> Result<Vec<u8>, StateError> {
    let mut len = [0u8; 4];
    input.read_exact(&mut len).map_err(|e| StateError::Snapshot(format!("truncated: {e}")))?;
    let n = u32::from_le_bytes(len) as usize;
    if n > MAX_RECORD {
        return Err(StateError::Snapshot(format!("record of {n} bytes exceeds {MAX_RECORD}")));
    }
    let mut buf = vec![0u8; n];
    input.read_exact(&mut buf).map_err(|e| StateError::Snapshot(format!("truncated: {e}")))?;
    if let Some(h) = hasher {
        h.update(&len);
        h.update(&buf);
    }
    Ok(buf)
}

fn corrupt(what: &'static str) -> impl FnOnce(pc_codec::CodecError) -> StateError {
    move |e| StateError::Snapshot(format!("bad {what}: {e}"))
}

/// Restores a snapshot of chain `genesis` into an empty database. Verifies the chain, the
/// checksum and the rebuilt state root before writing anything; on any error the database is
/// left untouched.
pub fn restore(db: &StateDb, genesis: Hash32, mut input: impl Read) -> Result<Header, StateError> {
    let _commits = db.lock_commits();
    if let Some(h) = db.head()? {
        return Err(StateError::NotEmpty(h.anchor));
    }
    let mut hasher = CHECKSUM.hasher();
    let first = read_record(&mut input, Some(&mut hasher))?;
    // The magic leads the header, and an older header does not decode as this one: check it
    // first so that an old snapshot is named as such.
    if first.starts_with(&MAGIC_TREE_FORMAT) {
        return Err(StateError::Snapshot(
            "this snapshot is of the sparse-Merkle-tree state format (PCSNAP01), which this version no longer \
             reads: export it again with this version"
                .into(),
        ));
    }
    let header: Header = decode_canonical(&first, 256).map_err(corrupt("header"))?;
    if header.magic != MAGIC {
        return Err(StateError::Snapshot("not a PhantomCoin snapshot (bad magic)".into()));
    }
    if header.genesis != genesis {
        return Err(StateError::Snapshot(format!("snapshot is of chain {}, this node runs {genesis}", header.genesis)));
    }
    let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    loop {
        let before = hasher.clone();
        let rec = read_record(&mut input, Some(&mut hasher))?;
        match decode_canonical::<Body>(&rec, MAX_RECORD).map_err(corrupt("record"))? {
            Body::Entry(k, v) => {
                if entries.last().is_some_and(|(last, _)| *last >= k) {
                    return Err(StateError::Snapshot("entries out of order".into()));
                }
                entries.push((k, v));
            }
            Body::End { entries: n, checksum } => {
                if n != entries.len() as u64 {
                    return Err(StateError::Snapshot(format!("trailer counts {n} entries, found {}", entries.len())));
                }
                if checksum != Hash32(*before.finalize().as_bytes()) {
                    return Err(StateError::Snapshot("checksum mismatch".into()));
                }
                break;
            }
        }
    }
    let mut rest = [0u8; 1];
    if input.read(&mut rest)? != 0 {
        return Err(StateError::Snapshot("bytes after the trailer".into()));
    }

    let mut batch = WriteBatch::new();
    // Auxiliary entries are derived data outside the root: restored as the file has them.
    let (aux, entries): (Vec<_>, Vec<_>) = entries.into_iter().partition(|(k, _)| k.starts_with(AUX_KEY_PREFIX));
    for (k, v) in aux {
        batch.put(Column::Aux, k, v);
    }
    let acc = Accumulator::of_entries(entries.par_iter().map(|(k, v)| (k.as_slice(), v.as_slice())));
    if acc.root() != header.head.state_root {
        return Err(StateError::Snapshot(format!(
            "recomputed state root {} differs from the header's {}",
            acc.root(),
            header.head.state_root
        )));
    }
    StateDb::write_accumulator(&mut batch, &acc);
    for (k, v) in entries {
        batch.put(Column::State, k, v);
    }
    let head = header.head;
    StateDb::write_head(&mut batch, &head);
    StateDb::write_genesis(&mut batch, &header.genesis);
    db.kv().write(batch, Durability::Sync)?;
    db.clear_cache();
    Ok(Header { head, ..header })
}
