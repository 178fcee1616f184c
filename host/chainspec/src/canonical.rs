//! Canonical JSON: sorted object keys, no whitespace, integers only.

use crate::ChainSpecError;
use serde_json::Value;

/// Serialises `v` canonically: object keys in byte order at every level, no whitespace.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write(v, &mut out);
    out
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, val)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write(val, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Floats have no canonical text form and must never reach a state root: refuse them.
pub(crate) fn reject_floats(v: &Value, path: &str) -> Result<(), ChainSpecError> {
    match v {
        Value::Number(n) if !(n.is_u64() || n.is_i64()) => Err(ChainSpecError::Field {
            field: path.trim_start_matches('.').to_string(),
            reason: "floating-point numbers are not allowed; use integers".into(),
        }),
        Value::Object(map) => map.iter().try_for_each(|(k, x)| reject_floats(x, &format!("{path}.{k}"))),
        Value::Array(items) => {
            items.iter().enumerate().try_for_each(|(i, x)| reject_floats(x, &format!("{path}[{i}]")))
        }
        _ => Ok(()),
    }
}
