//! `phantom-node` with the toy committee provider `rotate` (tests/src/rotate.rs) linked in,
//! for the process test `node-bin/tests/rotation.rs`. Not for any real chain.
#![forbid(unsafe_code)]

#[allow(dead_code)]
#[path = "../../../tests/src/rotate.rs"]
mod rotate;

fn main() -> std::process::ExitCode {
    phantom_node::main()
}
