//! `modules.bonding` in a chainspec, and the key checks a call and a genesis bond share.

use crate::types::BondTerms;
use pc_crypto::bls::{BlsKey, BlsPublic, BlsSignature};
use pc_crypto::vrf::VrfPublic;
use pc_runtime_api::{ModuleError, Windows};
use pc_utxo_tx::Address;
use serde::{Deserialize, Serialize};

/// The module's constants (docs/spec/modules/bonding.md §1).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BondingConfig {
    /// Least value of one bond, in units.
    pub min_bond: u64,
    /// Anchors from the bond's anchor until it is Active.
    pub activation_buffer: u64,
    /// Anchors from an `Unbond` until the bond may be withdrawn.
    pub unbonding: u64,
    /// Bonds that exist at genesis.
    #[serde(default)]
    pub genesis_bonds: Vec<GenesisBond>,
}

/// One genesis bond, as the chainspec writes it (§6): keys in hex, addresses `pc1…`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisBond {
    /// 32 bytes, hex.
    pub operator: String,
    /// x-only, hex.
    pub seat_key: String,
    /// x-only, hex.
    pub bond_key: String,
    /// Address.
    pub payout: String,
    /// sr25519 public key, hex.
    pub vrf_key: String,
    /// BLS public key, 48 bytes hex.
    pub bls_key: String,
    /// Its proof of possession, 96 bytes hex.
    pub bls_pop: String,
    /// The address the bonded value returns to at withdrawal.
    pub owner: String,
    /// Units bonded (issued at genesis).
    pub value: u64,
}

fn config_err(field: String, reason: impl Into<String>) -> ModuleError {
    ModuleError::Config { field, reason: reason.into() }
}

fn hex_array<const N: usize>(s: &str, field: String) -> Result<[u8; N], ModuleError> {
    hex::decode(s)
        .ok()
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .ok_or_else(|| config_err(field, format!("must be {N} bytes in hex")))
}

fn address(s: &str, field: String) -> Result<Address, ModuleError> {
    s.parse::<Address>().map_err(|e| config_err(field, format!("not an address: {e}")))
}

impl GenesisBond {
    /// The entry that bonds `value` units with `terms`, returned to `owner` at withdrawal.
    pub fn of(terms: &BondTerms, owner: &Address, value: u64) -> GenesisBond {
        GenesisBond {
            operator: hex::encode(terms.operator),
            seat_key: hex::encode(terms.seat_key),
            bond_key: hex::encode(terms.bond_key),
            payout: Address::from_bytes(&terms.payout).map(|a| a.to_string()).unwrap_or_default(),
            vrf_key: hex::encode(terms.vrf_key.0),
            bls_key: hex::encode(terms.bls_key.0),
            bls_pop: hex::encode(terms.bls_pop.0),
            owner: owner.to_string(),
            value,
        }
    }

    /// The terms and owner of entry `i`, every key checked (`Config` errors name the field).
    pub fn terms(&self, i: usize) -> Result<(BondTerms, Address), ModuleError> {
        let f = |name: &str| format!("genesis_bonds[{i}].{name}");
        let terms = BondTerms {
            operator: hex_array(&self.operator, f("operator"))?,
            seat_key: hex_array(&self.seat_key, f("seat_key"))?,
            bond_key: hex_array(&self.bond_key, f("bond_key"))?,
            payout: address(&self.payout, f("payout"))?.to_bytes(),
            vrf_key: VrfPublic(hex_array(&self.vrf_key, f("vrf_key"))?),
            bls_key: BlsPublic(hex_array(&self.bls_key, f("bls_key"))?),
            bls_pop: BlsSignature(hex_array(&self.bls_pop, f("bls_pop"))?),
        };
        check_keys(&terms).map_err(|e| match e {
            ModuleError::Invalid { code, reason } => {
                let field = code.strip_prefix("bonding.").unwrap_or(code).replace('-', "_");
                config_err(f(&field), reason)
            }
            other => other,
        })?;
        Ok((terms, address(&self.owner, f("owner"))?))
    }
}

impl BondingConfig {
    /// Every rule of §1 against the host windows; genesis bonds are checked in `build`.
    pub fn validate(&self, windows: &Windows) -> Result<(), ModuleError> {
        if self.min_bond == 0 {
            return Err(config_err("min_bond".into(), "must be at least 1 unit"));
        }
        let floor = windows.slash_window.saturating_add(windows.epoch_anchors);
        if self.unbonding < floor {
            return Err(config_err(
                "unbonding".into(),
                format!(
                    "must be at least constants.windows.slash_window + epoch_anchors = {floor}: a shorter unbonding lets a bond leave before the evidence of its last epoch can land"
                ),
            ));
        }
        for (i, g) in self.genesis_bonds.iter().enumerate() {
            if g.value < self.min_bond {
                return Err(config_err(
                    format!("genesis_bonds[{i}].value"),
                    format!("below min_bond ({})", self.min_bond),
                ));
            }
        }
        Ok(())
    }
}

fn invalid(code: &'static str, reason: impl Into<String>) -> ModuleError {
    ModuleError::invalid(code, reason)
}

/// The checks of §3 that need no state: distinct valid x-only keys, an address, a VRF key that
/// is not the identity, a BLS key with its proof of possession. Codes `bonding.operator`, `bonding.shape`,
/// `bonding.seat-key`, `bonding.bond-key`, `bonding.payout`, `bonding.vrf-key`,
/// `bonding.bls-key`.
pub fn check_keys(t: &BondTerms) -> Result<(), ModuleError> {
    if !pc_crypto::XOnly(t.operator).is_valid() {
        return Err(invalid("bonding.operator", "the operator id is not a valid x-only key"));
    }
    if !pc_crypto::XOnly(t.seat_key).is_valid() {
        return Err(invalid("bonding.seat-key", "the seat key is not a valid x-only key"));
    }
    if !pc_crypto::XOnly(t.bond_key).is_valid() {
        return Err(invalid("bonding.bond-key", "the bond key is not a valid x-only key"));
    }
    if t.seat_key == t.bond_key {
        return Err(invalid("bonding.shape", "the seat key and the bond key must differ (key separation)"));
    }
    Address::from_bytes(&t.payout).map_err(|e| invalid("bonding.payout", e.to_string()))?;
    pc_crypto::vrf::check_key(&t.vrf_key).map_err(|e| invalid("bonding.vrf-key", e.to_string()))?;
    BlsKey::with_possession(&t.bls_key, &t.bls_pop).map_err(|e| invalid("bonding.bls-key", e.to_string()))?;
    Ok(())
}
