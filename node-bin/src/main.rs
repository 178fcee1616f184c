//! `phantom-node`: the PhantomCoin full node / validator.
#![forbid(unsafe_code)]

/// The node allocates and frees many small buffers per transaction on several threads
/// (decoding, keys, overlay entries); glibc's allocator spent milliseconds per anchor
/// consolidating them, mimalloc's thread-local free lists do not (docs/bench/utxo.md).
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    phantom_node::main()
}
