//! JSON-RPC from anyone who reaches the port: every method of the node (its own and each
//! module's) with any parameters answers a well-formed JSON-RPC response, a result or an
//! error, and never panics; nothing it is sent commits state.
//!
//! Input: one byte choosing the method (by index into the sorted method list; 255 sends the
//! rest of the input as the whole request), then the `params` JSON text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pc_mempool::{Mempool, MempoolConfig};
use pc_runtime::Runtime;
use pc_service::NodeCtx;
use pc_state::StateDb;
use std::sync::{Arc, OnceLock};

// Linked so that their `inventory` registrations are seen, as in the node binary.
use pc_module_bonding as _;
use pc_module_committee_vrf as _;
use pc_module_genesis as _;
use pc_module_mint_pow as _;
use pc_module_utxo as _;

struct Node {
    rt: tokio::runtime::Runtime,
    ctx: Arc<NodeCtx>,
    rpc: jsonrpsee::RpcModule<NodeCtx>,
    methods: Vec<String>,
}

fn node() -> &'static Node {
    static NODE: OnceLock<Node> = OnceLock::new();
    NODE.get_or_init(|| {
        let spec = pc_chainspec::ChainSpec::load("dev").expect("dev chainspec");
        let runtime = Runtime::new(spec).expect("runtime");
        let db = StateDb::new(Arc::new(pc_store::MemStore::new()));
        runtime.init_genesis(&db).expect("genesis");
        let ctx = NodeCtx::new(runtime, db, Mempool::new(MempoolConfig::default()));
        let rpc = pc_service::rpc::module(ctx.clone()).expect("methods");
        let mut methods: Vec<String> = rpc.method_names().map(str::to_string).collect();
        methods.sort();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().expect("tokio");
        Node { rt, ctx, rpc, methods }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let n = node();
    let request = if which == 255 {
        text.to_string()
    } else {
        let method = &n.methods[usize::from(which) % n.methods.len()];
        format!(r#"{{"jsonrpc":"2.0","id":7,"method":"{method}","params":{text}}}"#)
    };
    let head = n.ctx.db.head().expect("head");
    // Requests that are not JSON-RPC at all are the server's to refuse, before any method.
    let Ok((reply, _subscription)) = n.rt.block_on(n.rpc.raw_json_request(&request, 16)) else { return };
    let reply: serde_json::Value = serde_json::from_str(reply.get()).expect("the reply is JSON");
    assert_eq!(reply["jsonrpc"], "2.0");
    assert!(reply.get("result").is_some() != reply.get("error").is_some(), "{reply}");
    if let Some(e) = reply.get("error") {
        assert!(e["code"].is_i64() && e["message"].is_string(), "{reply}");
    }
    assert_eq!(n.ctx.db.head().expect("head"), head, "an RPC call committed state");
});
