//! The node's config file (TOML). Command-line flags override it.
//!
//! ```toml
//! [node.cache]
//! header_cap = 16384   # event headers; 0 = off
//! payload_cap = 2048   # payloads; 0 = off
//! state_cap = 262144   # committed state values; 0 = off
//! db_mib = 128         # RocksDB's block cache, MiB
//! ```

use crate::error::NodeError;
use pc_service::dag::CacheCaps;
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    node: Node,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Node {
    #[serde(default)]
    cache: Cache,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cache {
    header_cap: Option<usize>,
    payload_cap: Option<usize>,
    state_cap: Option<usize>,
    db_mib: Option<usize>,
}

/// Every cache size of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caches {
    /// The DAG store's header and payload caches.
    pub dag: CacheCaps,
    /// Committed state values cached in front of the store (`pc_state::ReadCache`).
    pub state: usize,
    /// RocksDB's block cache, bytes.
    pub db_bytes: usize,
}

/// Cache sizes given on the command line (each overrides the file).
#[derive(Debug, Clone, Copy, Default)]
pub struct CacheFlags {
    /// `--cache-hdr-cap`.
    pub headers: Option<usize>,
    /// `--cache-pl-cap`.
    pub payloads: Option<usize>,
    /// `--cache-state-cap`.
    pub state: Option<usize>,
    /// `--cache-db-mib`.
    pub db_mib: Option<usize>,
}

/// The cache sizes: defaults, then the file, then the flags.
pub fn caches(file: Option<&Path>, flags: CacheFlags) -> Result<Caches, NodeError> {
    let mut caps = Caches {
        dag: CacheCaps::default(),
        state: pc_state::DEFAULT_STATE_CACHE_ENTRIES,
        db_bytes: pc_store::DEFAULT_BLOCK_CACHE_BYTES,
    };
    let mut db_mib = None;
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|source| NodeError::Io { path: path.display().to_string(), source })?;
        let f: File = toml::from_str(&text).map_err(|e| NodeError::Usage(format!("{}: {e}", path.display())))?;
        caps.dag.headers = f.node.cache.header_cap.unwrap_or(caps.dag.headers);
        caps.dag.payloads = f.node.cache.payload_cap.unwrap_or(caps.dag.payloads);
        caps.state = f.node.cache.state_cap.unwrap_or(caps.state);
        db_mib = f.node.cache.db_mib;
    }
    if let Some(mib) = flags.db_mib.or(db_mib) {
        if !(1..=MAX_DB_MIB).contains(&mib) {
            return Err(NodeError::Usage(format!("the RocksDB block cache is 1..={MAX_DB_MIB} MiB")));
        }
        caps.db_bytes = mib << 20;
    }
    caps.dag.headers = flags.headers.unwrap_or(caps.dag.headers);
    caps.dag.payloads = flags.payloads.unwrap_or(caps.dag.payloads);
    caps.state = flags.state.unwrap_or(caps.state);
    check(caps.dag)?;
    if caps.state > MAX_CAP {
        return Err(NodeError::Usage(format!("cache sizes are limited to {MAX_CAP} entries")));
    }
    Ok(caps)
}

/// Largest RocksDB block cache, MiB.
pub const MAX_DB_MIB: usize = 1 << 16;

/// Most entries one cache may hold (the caches reserve their tables up front).
pub const MAX_CAP: usize = 1 << 24;

/// Refuses a cache size the node could not allocate.
pub fn check(caps: CacheCaps) -> Result<CacheCaps, NodeError> {
    if caps.headers > MAX_CAP || caps.payloads > MAX_CAP {
        return Err(NodeError::Usage(format!("cache sizes are limited to {MAX_CAP} entries")));
    }
    Ok(caps)
}
