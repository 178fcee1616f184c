//! Module JSON-RPC methods, independent of the transport (the node serves them with jsonrpsee).

use crate::ModuleView;

/// A JSON-RPC error a module handler returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct RpcError {
    /// JSON-RPC error code (-32602 for bad parameters; module codes are listed with the RPC server).
    pub code: i32,
    /// Human-readable reason.
    pub message: String,
}

impl RpcError {
    /// Bad parameters (JSON-RPC -32602).
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self { code: -32602, message: message.into() }
    }
}

/// Parameter `i` of a positional call, or the one called `name` of a call with named
/// parameters.
pub fn param<'a>(params: &'a serde_json::Value, i: usize, name: &str) -> Option<&'a serde_json::Value> {
    match params {
        serde_json::Value::Array(a) => a.get(i),
        serde_json::Value::Object(o) => o.get(name),
        _ => None,
    }
}

/// [`param`] as a string, or an invalid-params error naming it.
pub fn str_param<'a>(params: &'a serde_json::Value, i: usize, name: &str) -> Result<&'a str, RpcError> {
    param(params, i, name)
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| RpcError::invalid_params(format!("expected string parameter `{name}`")))
}

/// What a handler answers.
#[derive(Debug, Clone, PartialEq)]
pub enum RpcReply {
    /// Return this JSON.
    Value(serde_json::Value),
    /// Submit this call (the module's own call bytes) to the mempool; the node answers with the
    /// call id or the validation error.
    Submit(Vec<u8>),
}

/// A handler: reads committed state of its module, never writes it.
pub type RpcHandler = Box<dyn Fn(&ModuleView<'_>, serde_json::Value) -> Result<RpcReply, RpcError> + Send + Sync>;

/// One JSON-RPC method of a module.
pub struct RpcMethod {
    /// Full method name, e.g. `mint_status`.
    pub name: &'static str,
    /// The handler.
    pub handler: RpcHandler,
}

impl std::fmt::Debug for RpcMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcMethod").field("name", &self.name).finish()
    }
}
