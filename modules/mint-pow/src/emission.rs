//! The emission curve and the difficulty retarget: integers only.

use primitive_types::{U256, U512};

/// Base reward of the mint at `height` (≥ 1): `initial >> ((height − 1) / halving)`.
pub fn base_reward(initial: u64, halving: u64, height: u64) -> u64 {
    if height == 0 || halving == 0 {
        return 0;
    }
    let era = (height - 1) / halving;
    if era >= 64 { 0 } else { initial >> era }
}

/// Reward actually paid for tier `tier` of `tiers`: `base × (tier + 1) / tiers`.
pub fn tier_reward(base: u64, tier: u8, tiers: usize) -> u64 {
    if tiers == 0 || usize::from(tier) >= tiers {
        return 0;
    }
    let r = u128::from(base) * (u128::from(tier) + 1) / tiers as u128;
    u64::try_from(r).unwrap_or(u64::MAX)
}

/// Σ of the whole curve, exactly (every era has `halving` mints).
pub fn curve_total(initial: u64, halving: u64) -> u128 {
    (0..64).map(|e| u128::from(halving) * u128::from(initial >> e)).sum()
}

/// The next target after a window with `minted` mints where `expected` were intended:
/// `target × expected / minted`, within a factor of 4 either way and never easier than
/// `limit`. No mints counts as the easiest step (×4).
pub fn retarget(target: [u8; 32], expected: u64, minted: u64, limit: [u8; 32]) -> [u8; 32] {
    let t = U256::from_big_endian(&target);
    let limit = U256::from_big_endian(&limit);
    let expected = expected.max(1);
    let next: U512 = if minted == 0 {
        U512::from(t) * U512::from(4u64)
    } else {
        U512::from(t) * U512::from(expected) / U512::from(minted)
    };
    let lo = U512::from(t / 4u64).max(U512::from(1u64));
    let hi = U512::from(t) * U512::from(4u64);
    let clamped = next.max(lo).min(hi).min(U512::from(limit));
    let out = U256::try_from(clamped).unwrap_or(limit);
    out.to_big_endian()
}
