//! The consensus engine under an adversarial DAG: the input is a script (committee size, up to
//! f forking seats, arbitrary parents, deliveries to observers, signature variance), and every
//! observer must decide the same anchors, never halt, and never refuse an honest event
//! (`pc_sim::adversarial_dag`; the same property runs in CI as a proptest).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violations) = pc_sim::adversarial_dag(data) {
        panic!("{violations:#?}");
    }
});
