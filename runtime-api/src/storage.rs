//! Namespaced, typed module storage.
//!
//! Every key a module touches is `<module name>/<item>/<SCALE key>`; the wrappers add the
//! prefix, so a module cannot reach outside its namespace except to read (or, through the
//! dependency's own functions, write) a module it declared in `depends_on`.

use crate::ModuleError;
use pc_codec::{Decode, Encode, decode_canonical};
use std::marker::PhantomData;

/// Largest value a typed item will decode (guards against corrupt state).
const MAX_VALUE: usize = 16 << 20;

/// Key-value pairs returned by scans, in key order.
pub type KvPairs = Vec<(Vec<u8>, Vec<u8>)>;

/// A storage failure reported by the host's backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage: {0}")]
pub struct StorageError(pub String);

/// Read access to the whole state, implemented by the host.
pub trait StateRead {
    /// Reads a key.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError>;
    /// Up to `limit` entries under `prefix`, from `from` on, in key order.
    fn scan(&self, prefix: &[u8], from: &[u8], limit: usize) -> Result<KvPairs, StorageError>;
    /// Whether the key was written (set or deleted) since the committed state: always false
    /// for a view of the committed state itself.
    fn written(&self, _key: &[u8]) -> bool {
        false
    }
}

/// Write access to the whole state, implemented by the host over the anchor's overlay.
pub trait StateWrite: StateRead {
    /// Sets a key.
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>);
    /// Deletes a key.
    fn delete(&mut self, key: Vec<u8>);
}

/// Prefix of auxiliary keys: committed with the anchor but outside the state root (the state
/// layer routes them; see `pc_state::AUX_KEY_PREFIX`, which must equal this).
pub const AUX_KEY_PREFIX: &[u8] = b"\xffaux/";

fn aux_prefixed(ns: &str, rel: &[u8]) -> Vec<u8> {
    let mut k = AUX_KEY_PREFIX.to_vec();
    k.extend_from_slice(&prefixed(ns, rel));
    k
}

fn aux_unprefixed(ns: &str, mut entries: KvPairs) -> KvPairs {
    let n = AUX_KEY_PREFIX.len() + ns.len() + 1;
    for (k, _) in entries.iter_mut() {
        k.drain(..n.min(k.len()));
    }
    entries
}

fn prefixed(ns: &str, rel: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(ns.len() + 1 + rel.len());
    k.extend_from_slice(ns.as_bytes());
    k.push(b'/');
    k.extend_from_slice(rel);
    k
}

fn unprefixed(ns: &str, mut entries: KvPairs) -> KvPairs {
    let n = ns.len() + 1;
    for (k, _) in entries.iter_mut() {
        k.drain(..n.min(k.len()));
    }
    entries
}

/// Reads relative to one module's namespace.
pub trait StorageRead {
    /// The namespace (module name).
    fn namespace(&self) -> &str;
    /// Reads a key relative to the namespace.
    fn raw_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ModuleError>;
    /// Scans relative keys under `prefix`; returned keys are relative too.
    fn raw_scan(&self, prefix: &[u8], from: &[u8], limit: usize) -> Result<KvPairs, ModuleError>;
    /// Reads an auxiliary key (outside the state root) relative to the namespace.
    fn raw_aux_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ModuleError>;
    /// Scans auxiliary keys, like [`raw_scan`](Self::raw_scan).
    fn raw_aux_scan(&self, prefix: &[u8], from: &[u8], limit: usize) -> Result<KvPairs, ModuleError>;
}

/// The declared dependencies of registered module `name`: what a dependency's own code may
/// reach when a dependent calls it (bonding's functions, run for slashing, use the ledger).
fn deps_of(name: &str) -> &'static [&'static str] {
    crate::registered_modules().find(|d| d.name == name).map_or(&[], |d| d.depends_on)
}

fn check_dep(own: &'static str, deps: &[&'static str], wanted: &str) -> Result<&'static str, ModuleError> {
    deps.iter()
        .find(|d| **d == wanted)
        .copied()
        .ok_or_else(|| ModuleError::UndeclaredDependency { module: own, wanted: wanted.to_string() })
}

/// A read-only view of one module's namespace (validation, RPC, reading a dependency).
#[derive(Clone, Copy)]
pub struct ModuleView<'a> {
    ns: &'static str,
    deps: &'static [&'static str],
    backend: &'a dyn StateRead,
    next_anchor: u64,
}

impl std::fmt::Debug for ModuleView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuleView").field("namespace", &self.ns).finish()
    }
}

impl<'a> ModuleView<'a> {
    /// Built by the host for module `ns` with its declared dependencies, for calls that would
    /// land in anchor `next_anchor`.
    pub fn new(ns: &'static str, deps: &'static [&'static str], backend: &'a dyn StateRead, next_anchor: u64) -> Self {
        Self { ns, deps, backend, next_anchor }
    }

    /// The anchor a call checked against this view would be applied in: the committed head + 1
    /// at admission and in RPC, the anchor itself while one is applied (0 at genesis). Windows
    /// such as maturity count from it, so no module needs to store the anchor index itself.
    pub fn next_anchor(&self) -> u64 {
        self.next_anchor
    }

    /// The committee of the grid epoch that holds anchor `anchor` (docs/runtime-api.md §13),
    /// if the host still keeps it: committees stay while their offences can be proven.
    pub fn committee(&self, anchor: u64, epoch_anchors: u64) -> Result<Option<crate::Committee>, ModuleError> {
        let epoch = crate::EpochGrid { r: epoch_anchors }.start_of(anchor);
        let host = ModuleView { ns: crate::COMMITTEE_TARGET, deps: &[], backend: self.backend, next_anchor: 0 };
        crate::COMMITTEES.get(&host, &epoch.to_be_bytes())
    }

    /// A view of a declared dependency's namespace, with that module's own dependencies (so its
    /// public functions work when a dependent calls them).
    pub fn dependency(&self, name: &str) -> Result<ModuleView<'a>, ModuleError> {
        Ok(ModuleView {
            ns: check_dep(self.ns, self.deps, name)?,
            deps: deps_of(name),
            backend: self.backend,
            next_anchor: self.next_anchor,
        })
    }
}

impl StorageRead for ModuleView<'_> {
    fn namespace(&self) -> &str {
        self.ns
    }
    fn raw_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ModuleError> {
        Ok(self.backend.get(&prefixed(self.ns, key))?)
    }
    fn raw_scan(&self, prefix: &[u8], from: &[u8], limit: usize) -> Result<KvPairs, ModuleError> {
        Ok(unprefixed(self.ns, self.backend.scan(&prefixed(self.ns, prefix), &prefixed(self.ns, from), limit)?))
    }
    fn raw_aux_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ModuleError> {
        Ok(self.backend.get(&aux_prefixed(self.ns, key))?)
    }
    fn raw_aux_scan(&self, prefix: &[u8], from: &[u8], limit: usize) -> Result<KvPairs, ModuleError> {
        let (p, f) = (aux_prefixed(self.ns, prefix), aux_prefixed(self.ns, from));
        Ok(aux_unprefixed(self.ns, self.backend.scan(&p, &f, limit)?))
    }
}

/// Read-write access to one module's namespace during genesis and anchor application.
pub struct ModuleState<'a> {
    ns: &'static str,
    deps: &'static [&'static str],
    backend: &'a mut dyn StateWrite,
    next_anchor: u64,
}

impl std::fmt::Debug for ModuleState<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuleState").field("namespace", &self.ns).finish()
    }
}

impl<'a> ModuleState<'a> {
    /// Built by the host for module `ns` with its declared dependencies, while anchor
    /// `anchor` is applied (0 at genesis).
    pub fn new(ns: &'static str, deps: &'static [&'static str], backend: &'a mut dyn StateWrite, anchor: u64) -> Self {
        Self { ns, deps, backend, next_anchor: anchor }
    }

    /// Writes a key relative to the namespace.
    pub fn raw_put(&mut self, key: &[u8], value: Vec<u8>) {
        self.backend.put(prefixed(self.ns, key), value);
    }

    /// Deletes a key relative to the namespace.
    pub fn raw_delete(&mut self, key: &[u8]) {
        self.backend.delete(prefixed(self.ns, key));
    }

    /// Writes an auxiliary key (outside the state root) relative to the namespace.
    pub fn raw_aux_put(&mut self, key: &[u8], value: Vec<u8>) {
        self.backend.put(aux_prefixed(self.ns, key), value);
    }

    /// Deletes an auxiliary key.
    pub fn raw_aux_delete(&mut self, key: &[u8]) {
        self.backend.delete(aux_prefixed(self.ns, key));
    }

    /// Whether a key relative to the namespace was written earlier in this anchor. If not, it
    /// still holds its committed value: what a read of the committed state before the anchor
    /// (a precheck) found stands.
    pub fn raw_written(&self, key: &[u8]) -> bool {
        self.backend.written(&prefixed(self.ns, key))
    }

    /// A read-only view of this namespace.
    pub fn view(&self) -> ModuleView<'_> {
        ModuleView { ns: self.ns, deps: self.deps, backend: &*self.backend, next_anchor: self.next_anchor }
    }

    /// Read-write access to a declared dependency's namespace, for calling that module's own
    /// public functions (as FRAME pallets call each other); never for writing its keys by hand.
    /// The state carries the dependency's own declared dependencies, so those functions can
    /// call theirs (bonding's, called by slashing, open the ledger of `utxo`).
    pub fn dependency_mut(&mut self, name: &str) -> Result<ModuleState<'_>, ModuleError> {
        Ok(ModuleState {
            ns: check_dep(self.ns, self.deps, name)?,
            deps: deps_of(name),
            backend: &mut *self.backend,
            next_anchor: self.next_anchor,
        })
    }
}

/// Reads go through the same code as a [`ModuleView`] of this namespace.
impl StorageRead for ModuleState<'_> {
    fn namespace(&self) -> &str {
        self.ns
    }
    fn raw_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ModuleError> {
        self.view().raw_get(key)
    }
    fn raw_scan(&self, prefix: &[u8], from: &[u8], limit: usize) -> Result<KvPairs, ModuleError> {
        self.view().raw_scan(prefix, from, limit)
    }
    fn raw_aux_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ModuleError> {
        self.view().raw_aux_get(key)
    }
    fn raw_aux_scan(&self, prefix: &[u8], from: &[u8], limit: usize) -> Result<KvPairs, ModuleError> {
        self.view().raw_aux_scan(prefix, from, limit)
    }
}

fn decode_value<V: Decode + Encode>(bytes: Option<Vec<u8>>) -> Result<Option<V>, ModuleError> {
    bytes
        .map(|b| decode_canonical::<V>(&b, MAX_VALUE))
        .transpose()
        .map_err(|e| ModuleError::Fatal(format!("corrupt state value: {e}")))
}

/// One typed value in a module's namespace, stored under `<item>/`.
#[derive(Debug)]
pub struct StorageValue<V> {
    item: &'static str,
    _v: PhantomData<fn() -> V>,
}

impl<V: Encode + Decode> StorageValue<V> {
    /// Declares the value; `item` is unique within the module.
    pub const fn new(item: &'static str) -> Self {
        Self { item, _v: PhantomData }
    }

    fn key(&self) -> Vec<u8> {
        let mut k = self.item.as_bytes().to_vec();
        k.push(b'/');
        k
    }

    /// Reads the value.
    pub fn get(&self, s: &impl StorageRead) -> Result<Option<V>, ModuleError> {
        decode_value(s.raw_get(&self.key())?)
    }

    /// Writes the value.
    pub fn put(&self, s: &mut ModuleState<'_>, v: &V) {
        s.raw_put(&self.key(), v.encode());
    }

    /// Removes the value.
    pub fn kill(&self, s: &mut ModuleState<'_>) {
        s.raw_delete(&self.key());
    }
}

/// A typed map in a module's namespace: `<item>/<SCALE(key)>` → `SCALE(value)`. An
/// [`aux`](Self::aux) map holds derived data (an index for RPC) outside the state root: it
/// commits atomically with the anchor and rolls back with a failed call, but costs no
/// commitment hashing and is not covered by the root.
#[derive(Debug)]
pub struct StorageMap<K, V> {
    item: &'static str,
    aux: bool,
    _kv: PhantomData<fn() -> (K, V)>,
}

impl<K: Encode + Decode, V: Encode + Decode> StorageMap<K, V> {
    /// Declares the map; `item` is unique within the module.
    pub const fn new(item: &'static str) -> Self {
        Self { item, aux: false, _kv: PhantomData }
    }

    /// Declares an auxiliary map (outside the state root).
    pub const fn aux(item: &'static str) -> Self {
        Self { item, aux: true, _kv: PhantomData }
    }

    fn read(&self, s: &impl StorageRead, key: &[u8]) -> Result<Option<Vec<u8>>, ModuleError> {
        if self.aux { s.raw_aux_get(key) } else { s.raw_get(key) }
    }

    fn prefix(&self) -> Vec<u8> {
        let mut k = self.item.as_bytes().to_vec();
        k.push(b'/');
        k
    }

    fn key(&self, k: &K) -> Vec<u8> {
        let mut out = self.prefix();
        k.encode_to(&mut out);
        out
    }

    /// Reads an entry.
    pub fn get(&self, s: &impl StorageRead, k: &K) -> Result<Option<V>, ModuleError> {
        decode_value(self.read(s, &self.key(k))?)
    }

    /// Whether the entry was written earlier in this anchor (see [`ModuleState::raw_written`]).
    pub fn written(&self, s: &ModuleState<'_>, k: &K) -> bool {
        let key = self.key(k);
        if self.aux { s.backend.written(&aux_prefixed(s.ns, &key)) } else { s.raw_written(&key) }
    }

    /// True if the entry exists.
    pub fn contains(&self, s: &impl StorageRead, k: &K) -> Result<bool, ModuleError> {
        Ok(self.read(s, &self.key(k))?.is_some())
    }

    /// Writes an entry.
    pub fn insert(&self, s: &mut ModuleState<'_>, k: &K, v: &V) {
        if self.aux { s.raw_aux_put(&self.key(k), v.encode()) } else { s.raw_put(&self.key(k), v.encode()) }
    }

    /// Removes an entry.
    pub fn remove(&self, s: &mut ModuleState<'_>, k: &K) {
        if self.aux { s.raw_aux_delete(&self.key(k)) } else { s.raw_delete(&self.key(k)) }
    }

    /// Up to `limit` entries in encoded-key order, starting at `from` (inclusive) if given.
    pub fn iter(&self, s: &impl StorageRead, from: Option<&K>, limit: usize) -> Result<Vec<(K, V)>, ModuleError> {
        self.scan(s, self.prefix(), from, limit)
    }

    /// Like [`iter`](Self::iter), restricted to keys whose encoding starts with `SCALE(first)`:
    /// with a tuple key `(A, B)` and a fixed-size `A`, the entries of one `A`.
    pub fn iter_prefix<P: Encode>(
        &self,
        s: &impl StorageRead,
        first: &P,
        from: Option<&K>,
        limit: usize,
    ) -> Result<Vec<(K, V)>, ModuleError> {
        let mut prefix = self.prefix();
        first.encode_to(&mut prefix);
        self.scan(s, prefix, from, limit)
    }

    fn scan(
        &self,
        s: &impl StorageRead,
        prefix: Vec<u8>,
        from: Option<&K>,
        limit: usize,
    ) -> Result<Vec<(K, V)>, ModuleError> {
        let item_len = self.item.len() + 1;
        let start = from.map_or_else(|| prefix.clone(), |k| self.key(k));
        let mut out = Vec::new();
        let entries =
            if self.aux { s.raw_aux_scan(&prefix, &start, limit)? } else { s.raw_scan(&prefix, &start, limit)? };
        for (rk, rv) in entries {
            let kb = rk.get(item_len..).unwrap_or_default();
            let k = decode_canonical::<K>(kb, MAX_VALUE)
                .map_err(|e| ModuleError::Fatal(format!("corrupt state key: {e}")))?;
            let v = decode_value::<V>(Some(rv))?.ok_or_else(|| ModuleError::Fatal("missing value".into()))?;
            out.push((k, v));
        }
        Ok(out)
    }
}
