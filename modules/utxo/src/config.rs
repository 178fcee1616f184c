//! The module's chainspec section.

use pc_runtime_api::ModuleError;
use pc_utxo_tx::{Address, DEFAULT_DUST};
use serde::Deserialize;

/// `modules.utxo` in a chainspec.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UtxoConfig {
    /// Smallest output value in units.
    #[serde(default = "default_dust")]
    pub dust: u64,
    /// Smallest fee per encoded byte, in units.
    #[serde(default = "default_fee_rate")]
    pub min_fee_per_byte: u64,
    /// Outputs created at genesis.
    #[serde(default)]
    pub allocations: Vec<Allocation>,
}

/// A genesis allocation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allocation {
    /// Bech32m address (`pc1…`).
    #[serde(deserialize_with = "address")]
    pub address: Address,
    /// Units.
    pub value: u64,
}

fn default_dust() -> u64 {
    DEFAULT_DUST
}

fn default_fee_rate() -> u64 {
    1
}

fn address<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

impl Default for UtxoConfig {
    fn default() -> Self {
        UtxoConfig { dust: DEFAULT_DUST, min_fee_per_byte: 1, allocations: Vec::new() }
    }
}

impl UtxoConfig {
    /// Parses the section strictly; `null` means all defaults.
    pub fn parse(v: &serde_json::Value) -> Result<Self, ModuleError> {
        if v.is_null() {
            return Ok(Self::default());
        }
        let c: UtxoConfig = pc_runtime_api::parse_config(v)?;
        for (i, a) in c.allocations.iter().enumerate() {
            if a.value < c.dust {
                return Err(ModuleError::Config {
                    field: format!("allocations[{i}].value"),
                    reason: format!("{} is below the dust limit {}", a.value, c.dust),
                });
            }
        }
        Ok(c)
    }
}
