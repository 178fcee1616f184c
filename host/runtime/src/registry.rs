//! The module catalogue: every linked descriptor, validated and deterministically ordered.

use crate::RuntimeError;
use pc_runtime_api::{ModuleDescriptor, is_valid_name, registered_modules};
use std::collections::BTreeSet;

/// A registered module as listed to operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInfo {
    /// Name.
    pub name: &'static str,
    /// Position in the hook chain.
    pub order: u32,
    /// Declared dependencies.
    pub depends_on: &'static [&'static str],
    /// Cargo feature that links it.
    pub feature: &'static str,
}

/// Every module linked into this binary, sorted by (order, name). Link order never matters.
pub fn catalogue() -> Result<Vec<&'static ModuleDescriptor>, RuntimeError> {
    let mut all: Vec<&'static ModuleDescriptor> = registered_modules().collect();
    all.sort_by(|a, b| (a.order, a.name).cmp(&(b.order, b.name)));
    let mut seen = BTreeSet::new();
    for d in &all {
        if !is_valid_name(d.name) {
            return Err(RuntimeError::BadModuleName(d.name));
        }
        if !seen.insert(d.name) {
            return Err(RuntimeError::DuplicateModule(d.name));
        }
    }
    Ok(all)
}

/// Checks that every dependency of every selected module is selected too and runs earlier in
/// the hook chain (which also rules out cycles). `selected` is in hook-chain order.
pub(crate) fn check_dependencies(selected: &[&'static ModuleDescriptor]) -> Result<(), RuntimeError> {
    let names: BTreeSet<&str> = selected.iter().map(|d| d.name).collect();
    let mut earlier = BTreeSet::new();
    for d in selected {
        for dep in d.depends_on {
            if !names.contains(dep) {
                return Err(RuntimeError::MissingDependency { module: d.name, missing: dep });
            }
            if !earlier.contains(dep) {
                return Err(RuntimeError::DependencyOrder { module: d.name, dependency: dep });
            }
        }
        earlier.insert(d.name);
    }
    Ok(())
}

impl From<&ModuleDescriptor> for ModuleInfo {
    fn from(d: &ModuleDescriptor) -> Self {
        ModuleInfo { name: d.name, order: d.order, depends_on: d.depends_on, feature: d.feature }
    }
}
