//! Per-frame elections over seat slots (§5).

use crate::dag::Idx;

/// The election of frame `F`'s anchor.
#[derive(Debug, Clone)]
pub(crate) struct Election {
    /// Slots decided so far.
    pub decided: u64,
    /// Slots decided yes.
    pub yes: u64,
    /// The root of each slot named by level-1 yes votes (unique by the fork-exclusion lemma).
    pub slot_root: Vec<Option<Idx>>,
}

impl Election {
    pub fn new(k: usize) -> Self {
        Election { decided: 0, yes: 0, slot_root: vec![None; k] }
    }

    /// Records a decision; the first one for a slot stands (later ones agree, §7).
    pub fn decide(&mut self, slot: usize, yes: bool) {
        let bit = 1u64 << slot;
        if self.decided & bit == 0 {
            self.decided |= bit;
            if yes {
                self.yes |= bit;
            }
        }
    }

    /// The outcome once known: `Some(Some(slot))` anchor slot, `Some(None)` no anchor in this
    /// frame, `None` still open. Slots are visited from `start`, wrapping around.
    pub fn outcome(&self, k: usize, start: usize) -> Option<Option<usize>> {
        for i in 0..k {
            let s = (start + i) % k;
            let bit = 1u64 << s;
            if self.decided & bit == 0 {
                return None;
            }
            if self.yes & bit != 0 {
                return Some(Some(s));
            }
        }
        Some(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_waits_for_earlier_slots_in_rotated_order() {
        let mut e = Election::new(4);
        e.decide(3, true);
        assert_eq!(e.outcome(4, 2), None, "slot 2 comes first and is open");
        e.decide(2, false);
        assert_eq!(e.outcome(4, 2), Some(Some(3)));
        e.decide(3, false); // a later decision never overrides the first
        assert_eq!(e.outcome(4, 2), Some(Some(3)));
    }

    #[test]
    fn all_no_means_no_anchor() {
        let mut e = Election::new(3);
        for s in 0..3 {
            e.decide(s, false);
        }
        assert_eq!(e.outcome(3, 1), Some(None));
    }
}
