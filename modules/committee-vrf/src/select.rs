//! The selection rule (docs/spec/modules/committee-vrf.md §5) as a pure function, so that it
//! is tested apart from state: rank, anti-collocation, leavers by standing, the churn cap.

use pc_runtime_api::CommitteeSeat;
use pc_runtime_api::codec::Hash32;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};

/// An eligible candidate, in rank order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    /// Its bond.
    pub bond: Hash32,
    /// Its operator.
    pub operator: [u8; 32],
    /// The seat it would take.
    pub seat: CommitteeSeat,
}

/// Why a sitting seat may have to go, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Standing {
    /// No bond, or a bond that is not Active (unbonding, withdrawn).
    Unbonded,
    /// Not seen within the heartbeat window.
    Absent,
    /// Neither.
    Good,
}

/// A seat of the ending epoch's committee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sitting {
    /// The seat as the host stores it.
    pub seat: CommitteeSeat,
    /// Its bond, if it has one.
    pub bond: Option<Hash32>,
    /// Its operator, if bonded.
    pub operator: Option<[u8; 32]>,
    /// Its standing.
    pub standing: Standing,
}

/// What the rule decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Fewer than k eligible candidates of distinct operators: the committee stays.
    Keep {
        /// How many there were.
        eligible: usize,
    },
    /// The next committee.
    Next {
        /// Its seats, in seat order (staying seats keep their index).
        seats: Vec<CommitteeSeat>,
        /// Bonds that entered.
        entered: Vec<Hash32>,
        /// Seat keys that left.
        left: Vec<[u8; 32]>,
    },
}

/// The next committee of `k` seats from the sitting one and the ranked eligible candidates,
/// replacing at most `cap` seats.
pub fn select(k: usize, cap: usize, sitting: &[Sitting], ranked: &[Ranked]) -> Outcome {
    let mut operators = BTreeSet::new();
    let target: Vec<&Ranked> = ranked.iter().filter(|c| operators.insert(c.operator)).take(k).collect();
    if target.len() < k {
        return Outcome::Keep { eligible: target.len() };
    }
    let in_target: BTreeSet<Hash32> = target.iter().map(|c| c.bond).collect();
    let position: BTreeMap<Hash32, usize> = ranked.iter().enumerate().map(|(i, c)| (c.bond, i)).collect();
    let seated: BTreeSet<Hash32> = sitting.iter().filter_map(|s| s.bond).collect();

    let mut leaving: Vec<usize> =
        (0..sitting.len()).filter(|&i| sitting[i].bond.is_none_or(|b| !in_target.contains(&b))).collect();
    leaving.sort_by_key(|&i| {
        let s = &sitting[i];
        (s.standing, Reverse(s.bond.and_then(|b| position.get(&b).copied()).unwrap_or(usize::MAX)), i)
    });
    leaving.truncate(cap);
    // Entrants fill the leavers' seats; a leaver that finds no entrant stays, which may let
    // its operator's stay block an entrant in turn, so repeat until nothing changes.
    loop {
        let staying: BTreeSet<[u8; 32]> =
            (0..sitting.len()).filter(|i| !leaving.contains(i)).filter_map(|i| sitting[i].operator).collect();
        let mut taken = staying;
        let entrants: Vec<&Ranked> = target
            .iter()
            .filter(|c| !seated.contains(&c.bond))
            .filter(|c| taken.insert(c.operator))
            .take(leaving.len())
            .copied()
            .collect();
        if entrants.len() == leaving.len() {
            let mut seats: Vec<CommitteeSeat> = sitting.iter().map(|s| s.seat.clone()).collect();
            let mut left = Vec::with_capacity(leaving.len());
            for (&i, c) in leaving.iter().zip(&entrants) {
                if let Some(seat) = seats.get_mut(i) {
                    left.push(seat.key);
                    *seat = c.seat.clone();
                }
            }
            return Outcome::Next { seats, entered: entrants.iter().map(|c| c.bond).collect(), left };
        }
        leaving.truncate(entrants.len());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn seat(n: u8) -> CommitteeSeat {
        CommitteeSeat { key: [n; 32], meta: vec![n] }
    }

    fn ranked(n: u8, operator: u8) -> Ranked {
        Ranked { bond: Hash32([n; 32]), operator: [operator; 32], seat: seat(n) }
    }

    fn sitting(n: u8, operator: u8, standing: Standing) -> Sitting {
        Sitting { seat: seat(n), bond: Some(Hash32([n; 32])), operator: Some([operator; 32]), standing }
    }

    fn keys(o: &Outcome) -> Vec<u8> {
        match o {
            Outcome::Next { seats, .. } => seats.iter().map(|s| s.key[0]).collect(),
            Outcome::Keep { .. } => vec![],
        }
    }

    #[test]
    fn too_few_candidates_of_distinct_operators_keep_the_committee() {
        let now: Vec<Sitting> = (1..=4).map(|n| sitting(n, n, Standing::Good)).collect();
        // Five candidates, but two operators hold two bonds each: three distinct operators.
        let r = vec![ranked(1, 1), ranked(5, 1), ranked(2, 2), ranked(6, 2), ranked(3, 3)];
        assert_eq!(select(4, 1, &now, &r), Outcome::Keep { eligible: 3 });
    }

    #[test]
    fn the_churn_cap_replaces_at_most_a_third_and_staying_seats_keep_their_index() {
        let now: Vec<Sitting> = (1..=6).map(|n| sitting(n, n, Standing::Good)).collect();
        // The ranking wants six new bonds; with k = 6 only two may enter.
        let r: Vec<Ranked> = (11..=16).map(|n| ranked(n, n)).collect();
        let o = select(6, 2, &now, &r);
        let Outcome::Next { entered, left, .. } = &o else { panic!("{o:?}") };
        assert_eq!(entered, &vec![Hash32([11; 32]), Hash32([12; 32])]);
        assert_eq!(left.len(), 2);
        let k = keys(&o);
        assert_eq!(k.iter().filter(|n| **n > 10).count(), 2);
        for (i, n) in k.iter().enumerate() {
            assert!(*n > 10 || usize::from(*n) == i + 1, "seat {i} moved: {k:?}");
        }
    }

    #[test]
    fn unbonded_then_absent_seats_leave_first() {
        let now = vec![
            sitting(1, 1, Standing::Good),
            sitting(2, 2, Standing::Absent),
            Sitting { bond: None, operator: None, ..sitting(3, 3, Standing::Unbonded) },
            sitting(4, 4, Standing::Good),
            sitting(5, 5, Standing::Good),
            sitting(6, 6, Standing::Good),
        ];
        // Seats 1, 4, 5, 6 are wanted; 7 and 8 rank after them.
        let r = vec![ranked(1, 1), ranked(4, 4), ranked(5, 5), ranked(6, 6), ranked(7, 7), ranked(8, 8)];
        assert_eq!(keys(&select(6, 1, &now, &r)), vec![1, 2, 7, 4, 5, 6], "cap 1: the unbonded seat goes first");
        assert_eq!(keys(&select(6, 2, &now, &r)), vec![1, 8, 7, 4, 5, 6], "cap 2: the absent one too");
    }

    #[test]
    fn an_operator_never_holds_two_seats_even_when_its_second_bond_ranks_first() {
        let now: Vec<Sitting> = (1..=4).map(|n| sitting(n, n, Standing::Good)).collect();
        // Operator 1's second bond (9) ranks first; seat 4 is not wanted.
        let r = vec![ranked(9, 1), ranked(1, 1), ranked(2, 2), ranked(3, 3), ranked(5, 5)];
        let o = select(4, 1, &now, &r);
        let Outcome::Next { seats, .. } = &o else { panic!("{o:?}") };
        assert_eq!(keys(&o), vec![1, 2, 3, 5], "bond 9 would give operator 1 two seats");
        assert_eq!(seats.len(), 4);
    }

    #[test]
    fn an_operator_may_move_its_seat_to_its_other_bond_and_cap_zero_moves_nothing() {
        let now: Vec<Sitting> = (1..=4).map(|n| sitting(n, n, Standing::Good)).collect();
        // The target is 1, 2, 3 and operator 4's other bond 8: seat 4 leaves, and its
        // operator's other bond may take the seat (one seat per operator still holds).
        let r = vec![ranked(1, 1), ranked(2, 2), ranked(3, 3), ranked(8, 4)];
        let o = select(4, 1, &now, &r);
        assert_eq!(keys(&o), vec![1, 2, 3, 8], "seat 4 leaves for its operator's other bond");
        // With a cap of 0 nothing moves.
        assert_eq!(keys(&select(4, 0, &now, &r)), vec![1, 2, 3, 4]);
    }
}
