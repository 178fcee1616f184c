//! Typed module events.

use pc_codec::{Decode, Encode};

/// An event type of a module. The host stores it SCALE-encoded with its name and indexes it by
/// (anchor, index-within-anchor) together with its module and name; RPC subscribers receive it as such.
pub trait ModuleEvent: Encode + Decode {
    /// Stable name within the module, e.g. `"Minted"`.
    const NAME: &'static str;
}

/// An event as the host stores it.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct RawEvent {
    /// The emitting module (or `"system"` for the host's own events).
    pub module: String,
    /// The event type's name.
    pub name: String,
    /// SCALE-encoded body.
    pub data: Vec<u8>,
}

/// Where a module emits events while the host runs one of its methods.
pub struct EventSink<'a> {
    module: &'static str,
    out: &'a mut Vec<RawEvent>,
}

impl std::fmt::Debug for EventSink<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSink").field("module", &self.module).field("pending", &self.out.len()).finish()
    }
}

impl<'a> EventSink<'a> {
    /// Built by the host for one module.
    pub fn new(module: &'static str, out: &'a mut Vec<RawEvent>) -> Self {
        Self { module, out }
    }

    /// Emits a typed event.
    pub fn emit<E: ModuleEvent>(&mut self, event: &E) {
        self.out.push(RawEvent { module: self.module.to_string(), name: E::NAME.to_string(), data: event.encode() });
    }
}
