//! The node's config file (TOML). Command-line flags override it.
//!
//! ```toml
//! [node.cache]
//! header_cap = 16384   # event headers; 0 = off
//! payload_cap = 2048   # payloads; 0 = off
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
}

/// The cache sizes: defaults, then the file, then the flags.
pub fn cache_caps(file: Option<&Path>, hdr: Option<usize>, pl: Option<usize>) -> Result<CacheCaps, NodeError> {
    let mut caps = CacheCaps::default();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|source| NodeError::Io { path: path.display().to_string(), source })?;
        let f: File = toml::from_str(&text).map_err(|e| NodeError::Usage(format!("{}: {e}", path.display())))?;
        caps.headers = f.node.cache.header_cap.unwrap_or(caps.headers);
        caps.payloads = f.node.cache.payload_cap.unwrap_or(caps.payloads);
    }
    caps.headers = hdr.unwrap_or(caps.headers);
    caps.payloads = pl.unwrap_or(caps.payloads);
    check(caps)
}

/// Most entries one cache may hold (the caches reserve their tables up front).
pub const MAX_CAP: usize = 1 << 24;

/// Refuses a cache size the node could not allocate.
pub fn check(caps: CacheCaps) -> Result<CacheCaps, NodeError> {
    if caps.headers > MAX_CAP || caps.payloads > MAX_CAP {
        return Err(NodeError::Usage(format!("cache sizes are limited to {MAX_CAP} entries")));
    }
    Ok(caps)
}
