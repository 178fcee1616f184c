//! The host's side of the committee (docs/runtime-api.md §13): the genesis committee from the
//! chainspec, the provider's answer at every epoch's last anchor, checked and stored in the
//! same commit, and the history kept for the slash window.

use pc_runtime_api::{
    COMMITTEE_TARGET, COMMITTEES, Committee, CommitteeChanged, CommitteeRefused, CommitteeSeat, EpochGrid, EventSink,
    MAX_SEAT_META, ModuleError, ModuleState, StorageRead,
};

/// Committees scanned per pruning step (at most one leaves the window per epoch).
const PRUNE_SCAN: usize = 4;

/// The committee stored for the grid epoch that starts at `epoch`.
pub(crate) fn stored(state: &impl StorageRead, epoch: u64) -> Result<Option<Committee>, ModuleError> {
    COMMITTEES.get(state, &epoch.to_be_bytes())
}

/// Writes the genesis committee (the chainspec's keys) for the first epoch.
pub(crate) fn genesis(state: &mut ModuleState<'_>, keys: &[[u8; 32]]) {
    let seats = keys.iter().map(|k| CommitteeSeat { key: *k, meta: Vec::new() }).collect();
    COMMITTEES.insert(state, &1u64.to_be_bytes(), &Committee { epoch: 1, decided_at: 0, seats });
}

/// Why a provider's answer cannot be a committee of `size` seats, if it cannot.
pub(crate) fn refusal(seats: &[CommitteeSeat], size: u8) -> Option<String> {
    if seats.len() != usize::from(size) {
        return Some(format!("{} seats given, the chain has {size}", seats.len()));
    }
    let mut keys = std::collections::BTreeSet::new();
    for (i, s) in seats.iter().enumerate() {
        if !pc_crypto::XOnly(s.key).is_valid() {
            return Some(format!("seat {i}: the key is not a valid x-only point"));
        }
        if !keys.insert(s.key) {
            return Some(format!("seat {i}: the key holds another seat too"));
        }
        if s.meta.len() > MAX_SEAT_META {
            return Some(format!("seat {i}: meta of {} bytes, at most {MAX_SEAT_META}", s.meta.len()));
        }
    }
    None
}

/// Stores the committee of the epoch after anchor `end` (the last of its epoch): `proposed`
/// if it is one, else the current one again, so every epoch has its entry. Emits
/// `CommitteeChanged` or `CommitteeRefused`, and drops the committees whose offences are
/// past the slash window. Returns the stored committee and the epochs dropped.
pub(crate) fn close_epoch(
    state: &mut ModuleState<'_>,
    events: &mut EventSink<'_>,
    end: u64,
    grid: EpochGrid,
    slash_window: u64,
    size: u8,
    proposed: Option<Vec<CommitteeSeat>>,
) -> Result<(Committee, Vec<u64>), ModuleError> {
    let current = stored(state, grid.start_of(end))?
        .ok_or_else(|| ModuleError::Fatal(format!("no committee is stored for the epoch that ends at anchor {end}")))?;
    let next = end + 1;
    let seats = match proposed {
        Some(seats) => match refusal(&seats, size) {
            None => seats,
            Some(reason) => {
                tracing::warn!(target: "pc::runtime", epoch = next, %reason, "committee refused; the committee stays");
                events.emit(&CommitteeRefused { epoch: next, reason });
                current.seats.clone()
            }
        },
        None => current.seats.clone(),
    };
    let committee = Committee { epoch: next, decided_at: end, seats };
    if committee.seats != current.seats {
        events.emit(&CommitteeChanged { epoch: next, keys: committee.keys() });
    }
    COMMITTEES.insert(state, &next.to_be_bytes(), &committee);
    let mut pruned = Vec::new();
    for (key, old) in COMMITTEES.iter(state, None, PRUNE_SCAN)? {
        if grid.end_of(old.epoch).saturating_add(slash_window) >= next {
            break;
        }
        COMMITTEES.remove(state, &key);
        pruned.push(old.epoch);
    }
    debug_assert_eq!(state.namespace(), COMMITTEE_TARGET);
    Ok((committee, pruned))
}
