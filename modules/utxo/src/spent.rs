//! A bounded memory of recent spends, for error messages only.
//!
//! State keeps no spent outputs (they would grow it forever), so "unknown" and "already
//! spent" look alike to the ledger. This node-local memo, filled by `apply`, lets admission tell
//! a wallet which transaction spent its output. It never decides validity, is lost on restart,
//! and forgets the oldest entries first.

use pc_runtime_api::codec::Hash32;
use pc_utxo_tx::OutPoint;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

const CAP: usize = 100_000;

/// Spent outpoint → (spending transaction, anchor), and insertion order for eviction. Only
/// looked up, never iterated, so the map's order cannot leak anywhere.
type Memo = (HashMap<OutPoint, (Hash32, u64)>, VecDeque<OutPoint>);

#[derive(Debug, Default)]
pub(crate) struct SpentMemo(Mutex<Memo>);

impl SpentMemo {
    pub fn insert(&self, op: OutPoint, by: Hash32, at: u64) {
        if let Ok(mut g) = self.0.lock() {
            let (map, order) = &mut *g;
            if map.insert(op, (by, at)).is_none() {
                order.push_back(op);
            }
            while order.len() > CAP {
                if let Some(old) = order.pop_front() {
                    map.remove(&old);
                }
            }
        }
    }

    pub fn get(&self, op: &OutPoint) -> Option<(Hash32, u64)> {
        self.0.lock().ok()?.0.get(op).copied()
    }
}
