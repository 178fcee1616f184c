//! Module JSON-RPC methods, independent of the transport (the node serves them with jsonrpsee).

use crate::{ModuleError, ModuleView};
use pc_codec::{Decode, Encode, Hash32, decode_canonical};

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

    /// The module's state could not be read (JSON-RPC -32603).
    pub fn storage(e: ModuleError) -> Self {
        Self { code: -32603, message: format!("state unavailable: {e}") }
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

/// [`str_param`] as hex bytes (a `0x` prefix allowed).
pub fn hex_param(params: &serde_json::Value, i: usize, name: &str) -> Result<Vec<u8>, RpcError> {
    let h = str_param(params, i, name)?;
    hex::decode(h.strip_prefix("0x").unwrap_or(h))
        .map_err(|e| RpcError::invalid_params(format!("{name} is not hex: {e}")))
}

/// [`str_param`] as a 32-byte hash in hex.
pub fn hash_param(params: &serde_json::Value, i: usize, name: &str) -> Result<Hash32, RpcError> {
    Hash32::from_hex(str_param(params, i, name)?)
        .map_err(|e| RpcError::invalid_params(format!("`{name}` must be 64 hex characters: {e}")))
}

/// The reply of a module's submit method: parameter 0 (`name`) as hex bytes that decode
/// canonically as a `T` of at most `max` bytes, handed to the mempool as the call.
pub fn submit_param<T: Decode + Encode>(
    params: &serde_json::Value,
    name: &str,
    max: usize,
    what: &str,
) -> Result<RpcReply, RpcError> {
    let bytes = hex_param(params, 0, name)?;
    decode_canonical::<T>(&bytes, max).map_err(|e| RpcError::invalid_params(format!("not {what}: {e}")))?;
    Ok(RpcReply::Submit(bytes))
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
