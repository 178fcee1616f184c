//! The mempool: calls waiting to be put into events.
//!
//! - **Admission** validates against the committed state through the runtime (signatures
//!   included) *before* taking the pool's lock, so concurrent submitters and
//!   [`Mempool::submit_batch`] (rayon) verify on all cores, off the consensus path.
//! - **Priority**: the module's `Validity::priority` (fee per kilobyte for transactions), then
//!   arrival order.
//! - **Conflicts**: two pending calls that require the same tag (spend the same output) cannot
//!   both be pending; the second is refused with the first one's key.
//! - **Size cap**: beyond `max_calls` or `max_bytes` the lowest-priority calls are evicted if
//!   the newcomer pays more, otherwise the newcomer is refused.
//! - **Finality**: [`Mempool::finalized`] removes what an anchor finalized; [`Mempool::select`]
//!   re-validates what it hands to the next event and drops what became invalid (e.g. spent by
//!   another finalized transaction) with its reason, so per-anchor work is bounded by one
//!   event's capacity, not by the pool's size.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod pool;

pub use pool::{Mempool, MempoolConfig, PoolStatus, Share, SubmitError};
