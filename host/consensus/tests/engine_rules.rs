//! The engine's rules one by one: configuration limits, refusals that change nothing,
//! the k = 1 bootstrap, equivocation evidence.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pc_codec::{Hash32, Identified};
use pc_consensus::{Config, ConfigError, Engine, Event, InsertError, Output, SignatureVerifier, SignedEvent};

struct Keys;

fn sign(seat: u8, id: &Hash32) -> [u8; 64] {
    let a = blake3::keyed_hash(&[seat; 32], &id.0);
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(a.as_bytes());
    sig
}

impl SignatureVerifier for Keys {
    fn verify(&self, creator: u8, id: &Hash32, sig: &[u8; 64]) -> bool {
        sign(creator, id) == *sig
    }
}

fn cfg(seats: u8) -> Config {
    Config { shard: 0, seats, max_parents: 4, coin_period: 8, first_anchor_index: 1 }
}

fn signed(e: Event) -> SignedEvent {
    SignedEvent { sig: sign(e.creator, &e.id()), event: e }
}

fn next(engine: &Engine, seat: u8) -> SignedEvent {
    signed(engine.next_event(seat, Hash32([seat; 32]), 0).unwrap())
}

#[test]
fn committee_limits_are_enforced() {
    assert_eq!(Engine::new(cfg(65)).unwrap_err(), ConfigError::Seats(65));
    assert_eq!(Engine::new(cfg(0)).unwrap_err(), ConfigError::Seats(0));
    assert!(Engine::new(Config { max_parents: 5, ..cfg(4) }).is_err());
    assert!(Engine::new(Config { max_parents: 1, ..cfg(4) }).is_err(), "k ≥ 2 needs a cross-link");
    assert!(Engine::new(Config { max_parents: 1, ..cfg(1) }).is_ok());
    assert!(Engine::new(cfg(64)).is_ok());
}

#[test]
fn single_seat_finalizes_every_frame_two_events_later() {
    let mut e = Engine::new(cfg(1)).unwrap();
    let mut anchors = Vec::new();
    for i in 1..=10u64 {
        let ev = next(&e, 0);
        assert_eq!(ev.event.frame, i, "with k = 1 every event is a root of a new frame");
        for o in e.insert(ev, &Keys).unwrap() {
            if let Output::Finalized(b) = o {
                anchors.push(b);
            }
        }
    }
    assert_eq!(anchors.len(), 8, "frames 1..=8 are decided by the roots of frames 3..=10");
    for (i, a) in anchors.iter().enumerate() {
        assert_eq!(a.index, i as u64 + 1);
        assert_eq!(a.frame, i as u64 + 1);
        assert_eq!(a.events.len(), 1);
    }
}

#[test]
fn bad_events_are_refused_and_change_nothing() {
    let mut e = Engine::new(cfg(4)).unwrap();
    for s in 0..4 {
        let ev = next(&e, s);
        e.insert(ev, &Keys).unwrap();
    }
    let good = next(&e, 0);
    let before = e.stats();
    let mut cases: Vec<(SignedEvent, &str)> = Vec::new();
    let mut bad_sig = good.clone();
    bad_sig.sig[0] ^= 1;
    cases.push((bad_sig, "signature"));
    let mut wrong_frame = good.event.clone();
    wrong_frame.frame += 3;
    cases.push((signed(wrong_frame), "frame"));
    let mut wrong_lamport = good.event.clone();
    wrong_lamport.lamport += 1;
    cases.push((signed(wrong_lamport), "lamport"));
    let mut missing = good.event.clone();
    missing.parents[1] = Hash32([9; 32]);
    cases.push((signed(missing), "missing"));
    let mut dup = good.event.clone();
    dup.parents[1] = dup.parents[0];
    cases.push((signed(dup), "duplicate"));
    let mut no_link = good.event.clone();
    no_link.parents.truncate(1);
    cases.push((signed(no_link), "cross-link"));
    let mut stranger = good.event.clone();
    stranger.creator = 7;
    cases.push((signed(stranger), "seat"));
    for (ev, what) in cases {
        assert!(e.insert(ev, &Keys).is_err(), "{what} accepted");
        assert_eq!(e.stats(), before, "{what} changed the engine");
    }
    e.insert(good.clone(), &Keys).unwrap();
    assert_eq!(e.insert(good, &Keys), Err(InsertError::Known));
}

#[test]
fn equivocation_produces_evidence_once() {
    let mut e = Engine::new(cfg(4)).unwrap();
    for s in 0..4 {
        let ev = next(&e, s);
        e.insert(ev, &Keys).unwrap();
    }
    let a = next(&e, 1);
    let mut b = a.event.clone();
    b.payload_root = Hash32([0xee; 32]);
    let b = signed(b);
    let mut c = a.event.clone();
    c.payload_root = Hash32([0xdd; 32]);
    let c = signed(c);
    assert!(e.insert(a.clone(), &Keys).unwrap().is_empty());
    let out = e.insert(b.clone(), &Keys).unwrap();
    assert!(matches!(&out[..], [Output::Equivocation(ev)] if ev.first == a && ev.second == b));
    // A third variant is refused by the fork bound; accepted because an event needs it, it
    // yields no second piece of evidence.
    assert!(matches!(e.insert(c.clone(), &Keys), Err(InsertError::ForkBound { .. })));
    assert!(e.insert_needed(c, &Keys).unwrap().iter().all(|o| !matches!(o, Output::Equivocation(_))));
    assert_eq!(e.known_cheaters(), 1 << 1);
    // Honest seats stop citing the cheater.
    let honest = next(&e, 2);
    let cheater_ids = [a.event.id(), b.event.id()];
    assert!(honest.event.parents.iter().all(|p| !cheater_ids.contains(p)));
}

#[test]
fn a_third_variant_at_one_seq_is_refused_unless_an_event_needs_it() {
    let mut e = Engine::new(cfg(4)).unwrap();
    let base = next(&e, 0);
    let variant = |n: u8| {
        let mut ev = base.event.clone();
        ev.payload_root = Hash32([n; 32]);
        signed(ev)
    };
    assert!(e.insert(variant(1), &Keys).unwrap().is_empty());
    let second = e.insert(variant(2), &Keys).unwrap();
    assert!(matches!(second.as_slice(), [Output::Equivocation(_)]), "the second variant is evidence");
    let before = e.stats().events;
    assert_eq!(e.insert(variant(3), &Keys), Err(InsertError::ForkBound { creator: 0, seq: 1 }));
    assert_eq!(e.stats().events, before, "a refused variant changes nothing");
    // An honest event that cites the third variant makes it needed.
    e.insert_needed(variant(3), &Keys).unwrap();
    assert_eq!(e.stats().events, before + 1);
    assert!(e.contains(&variant(3).event.id()));
}

/// Builds `creator`'s event on `parents` in `e`, signs it and inserts it as needed.
fn build(e: &mut Engine, creator: u8, parents: &[&SignedEvent], tag: u8) -> SignedEvent {
    let ids: Vec<Hash32> = parents.iter().map(|p| p.event.id()).collect();
    let ev = signed(e.event_on(creator, &ids, Hash32([tag; 32]), 0).unwrap());
    e.insert_needed(ev.clone(), &Keys).unwrap();
    ev
}

/// k = 4, seat 3 keeps two branches from seq 1 (A and B). Seats 0 and 1 cite branch A and
/// reach frame 2 with seat 3's help; seat 2 holds branch B. Seat 2's next event cites branch B
/// (its own w2) and seat 0's frame-2 root: its ancestry shows seat 3 forking, so it
/// forkless-causes the frame-1 roots of seats 0 and 1 only, two of q = 3. Inheriting frame 2
/// from its parent (the rule before) made it a frame-2 root below quorum, which then votes on
/// too few votes and can decide, or halt every engine, where honest roots would not.
#[test]
fn a_root_that_newly_sees_a_fork_needs_a_quorum_of_its_own() {
    let mut e = Engine::new(cfg(4)).unwrap();
    let x0 = build(&mut e, 0, &[], 0);
    let x1 = build(&mut e, 1, &[], 1);
    let x2 = build(&mut e, 2, &[], 2);
    let a1 = build(&mut e, 3, &[], 0xa1);
    let b1 = build(&mut e, 3, &[], 0xb1);
    let y0 = build(&mut e, 0, &[&x0, &x1, &a1], 10);
    let y1 = build(&mut e, 1, &[&x1, &x0, &a1], 11);
    let a2 = build(&mut e, 3, &[&a1, &x0, &x1], 0xa2);
    let z0 = build(&mut e, 0, &[&y0, &y1, &a2], 20);
    assert_eq!(z0.event.frame, 2, "seats 0, 1 and 3 (branch A) make frame 2");
    let w2 = build(&mut e, 2, &[&x2, &b1], 12);
    assert_eq!(w2.event.frame, 1);
    let ev = e.event_on(2, &[w2.event.id(), z0.event.id()], Hash32([22; 32]), 0).unwrap();
    assert_eq!(ev.frame, 1, "below quorum the event stays in its self-parent's frame: not a root");
    // The same event claiming its parent's frame is refused.
    let mut claimed = ev.clone();
    claimed.frame = 2;
    assert_eq!(e.insert(signed(claimed), &Keys), Err(InsertError::WrongFrame { claimed: 2, computed: 1 }));
    e.insert(signed(ev), &Keys).unwrap();
    assert_eq!(e.known_cheaters(), 1 << 3);
}

/// A seat alone cannot advance frames (k = 4 needs three), so its own chain stays in frame 1:
/// past 64 events in one frame an event must bring news (a parent its self-parent does not
/// have); without, it is refused and an honest creator waits. News is always allowed, so a
/// stalled committee resumes once the others' events arrive (a partition heals).
#[test]
fn past_its_bound_a_seat_adds_events_to_a_frame_only_with_news() {
    use pc_consensus::MAX_EVENTS_PER_FRAME;
    let mut e = Engine::new(cfg(4)).unwrap();
    let other = build(&mut e, 1, &[], 1);
    let mut last = build(&mut e, 0, &[], 0);
    for i in 1..MAX_EVENTS_PER_FRAME {
        last = build(&mut e, 0, &[&last, &other], i as u8);
    }
    assert_eq!(last.event.frame, 1);
    assert!(e.event_on(0, &[last.event.id(), other.event.id()], Hash32([0; 32]), 0).is_err());
    assert!(e.next_event(0, Hash32([0; 32]), 0).is_none(), "an honest creator waits");
    let mut over = last.event.clone();
    over.seq += 1;
    over.parents = vec![last.event.id(), other.event.id()];
    over.lamport += 1;
    assert_eq!(
        e.insert(signed(over), &Keys),
        Err(InsertError::Invalid("too many events of one seat in one frame without news"))
    );
    // Seat 2's first event is news to seat 0: the 65th event citing it is accepted.
    let news = build(&mut e, 2, &[], 2);
    let ev = e.next_event(0, Hash32([0; 32]), 0).expect("news lets the seat go on");
    assert!(ev.parents.contains(&news.event.id()));
    e.insert(signed(ev), &Keys).unwrap();
}

/// For a seat known to fork every event counts as not held, so a pull answer must start from
/// what was asked and go down, not from the seat's oldest events: a capped answer that began
/// at seq 1 would never reach the requested id once the chain is longer than the cap.
#[test]
fn a_capped_pull_answer_holds_the_asked_event_even_for_a_forked_seat() {
    let mut e = Engine::new(cfg(4)).unwrap();
    let other = build(&mut e, 1, &[], 1);
    let mut last = build(&mut e, 0, &[], 0);
    for i in 1..40u8 {
        last = build(&mut e, 0, &[&last, &other], i);
    }
    // The requester knows seat 0 forks; its heads say it holds everything.
    let got: Vec<u64> = e
        .ancestry(&[last.event.id()], &[100, 100, 100, 100], 1 << 0, 10, &mut |_| true)
        .iter()
        .map(|ev| ev.event.seq)
        .collect();
    assert_eq!(got.len(), 10);
    assert_eq!(got.last(), Some(&40), "the asked event comes, last (parents first)");
    assert_eq!(got[0], 31, "with the nine nearest ancestors before it");
    // A byte budget that fits five events keeps the asked one and its four nearest ancestors.
    let mut room = 5;
    let got: Vec<u64> = e
        .ancestry(&[last.event.id()], &[100, 100, 100, 100], 1 << 0, 10, &mut |_| {
            room -= 1;
            room >= 0
        })
        .iter()
        .map(|ev| ev.event.seq)
        .collect();
    assert_eq!(got, vec![36, 37, 38, 39, 40]);
}

/// Every ancestor of `id` (itself included), by walking parents.
fn ancestors(e: &Engine, id: Hash32) -> std::collections::BTreeSet<Hash32> {
    let mut seen = std::collections::BTreeSet::new();
    let mut stack = vec![id];
    while let Some(x) = stack.pop() {
        if seen.insert(x) {
            stack.extend(e.get(&x).unwrap().event.parents.iter().copied());
        }
    }
    seen
}

/// A k = 4 committee where seat 3 links to others only every third event, so it acks late and
/// some of its events miss a batch. The facts of every batch match an independent computation
/// over the DAG: the creator of the anchor event, the mask of the batch's creators, and for
/// each seat the lowest frame among its batch events that descend from the previous anchor.
#[test]
fn anchor_facts_are_the_creator_the_batch_creators_and_each_seats_first_ack() {
    let mut e = Engine::new(cfg(4)).unwrap();
    let mut batches = Vec::new();
    let mut head: Vec<Option<SignedEvent>> = vec![None; 4];
    for round in 0..30u32 {
        for seat in 0..4u8 {
            let own = head[usize::from(seat)].clone();
            let lonely = seat == 3 && round % 3 != 0;
            let mut parents: Vec<&SignedEvent> = own.iter().collect();
            if !lonely {
                let others: Vec<&SignedEvent> =
                    (0..4u8).filter(|s| *s != seat).filter_map(|s| head[usize::from(s)].as_ref()).collect();
                parents.extend(others.into_iter().take(2));
            }
            if parents.len() < 2 && own.is_some() && lonely {
                // A self-parent alone is a valid event only for k = 1: link the nearest seat.
                parents.push(head[0].as_ref().unwrap());
            }
            let ids: Vec<Hash32> = parents.iter().map(|p| p.event.id()).collect();
            let Ok(ev) = e.event_on(seat, &ids, Hash32([seat; 32]), 0) else { continue };
            let ev = signed(ev);
            for o in e.insert(ev.clone(), &Keys).unwrap() {
                if let Output::Finalized(b) = o {
                    batches.push(b);
                }
            }
            head[usize::from(seat)] = Some(ev);
        }
    }
    assert!(batches.len() >= 5, "only {} anchors", batches.len());
    assert!(batches[0].acks.is_empty(), "the epoch's first anchor has no previous one to ack");
    let mut late = false;
    for pair in batches.windows(2) {
        let (prev, b) = (&pair[0], &pair[1]);
        let anchor = e.get(&b.anchor).unwrap().event.clone();
        assert_eq!((b.creator, b.epoch, b.shard), (anchor.creator, 1, 0));
        let mask = b.events.iter().fold(0u64, |m, id| m | 1 << e.get(id).unwrap().event.creator);
        assert_eq!(b.creators, mask);
        let prev_frame = e.get(&prev.anchor).unwrap().event.frame;
        let mut want = std::collections::BTreeMap::new();
        for id in &b.events {
            let ev = &e.get(id).unwrap().event;
            if ancestors(&e, *id).contains(&prev.anchor) {
                let d = ev.frame - prev_frame + 1;
                let w = want.entry(ev.creator).or_insert(d);
                *w = (*w).min(d);
            }
        }
        let want: Vec<(u8, u64)> = want.into_iter().collect();
        assert_eq!(b.acks, want, "anchor {}", b.index);
        late |= b.acks.iter().any(|&(s, d)| s == 3 && d > 1) || !b.acks.iter().any(|&(s, _)| s == 3);
    }
    assert!(late, "the lonely seat acked late or not at all somewhere");
}
