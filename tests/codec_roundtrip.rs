//! Every record type this repository puts on disk or the wire round-trips through the canonical
//! codec, and arbitrary bytes are either refused or are the one encoding of what they decode to.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pc_codec::{ConsensusTime, Decode, Encode, Hash32, decode_canonical};
use pc_runtime::{AnchorRecord, CallDropped, EventRecord};
use pc_runtime_api::Call;
use pc_state::Head;
use proptest::prelude::*;

fn hash() -> impl Strategy<Value = Hash32> {
    any::<[u8; 32]>().prop_map(Hash32)
}

fn check<T: Encode + Decode + PartialEq + std::fmt::Debug>(v: T) -> Result<(), TestCaseError> {
    prop_assert_eq!(decode_canonical::<T>(&v.encode(), 1 << 20), Ok(v));
    Ok(())
}

fn refused_or_canonical<T: Encode + Decode>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(v) = decode_canonical::<T>(bytes, 1 << 20) {
        prop_assert_eq!(v.encode(), bytes.to_vec());
    }
    Ok(())
}

proptest! {
    #[test]
    fn records_round_trip(
        index in any::<u64>(), id in hash(), root in hash(), ev in hash(), shard in any::<u16>(),
        lamport in any::<u64>(), calls in any::<u32>(), dropped in any::<u32>(),
        module in "[a-z-]{0,12}", name in "[A-Za-z]{0,12}", data in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let ct = ConsensusTime { anchor: index, lamport };
        check(AnchorRecord { index, anchor_id: id, shard, consensus_time: ct, state_root: root, events_root: ev, calls, dropped })?;
        check(EventRecord { anchor: index, index: calls, module: module.clone(), name: name.clone(), data: data.clone() })?;
        check(Call { module: module.clone(), data })?;
        check(CallDropped { call_id: id, module, code: name })?;
        check(Head { anchor: index, anchor_id: id, state_root: root })?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        refused_or_canonical::<AnchorRecord>(&bytes)?;
        refused_or_canonical::<EventRecord>(&bytes)?;
        refused_or_canonical::<Call>(&bytes)?;
        refused_or_canonical::<CallDropped>(&bytes)?;
        refused_or_canonical::<Head>(&bytes)?;
    }
}
