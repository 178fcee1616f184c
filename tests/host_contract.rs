//! The host knows no module and no binary: no crate under `host/` or `runtime-api/` depends
//! (in any section) on a crate under `modules/` or on a crate that builds a binary. Read from
//! the manifests, so a new dependency that breaks the rule fails here before review.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;

fn manifest(path: &Path) -> toml::Table {
    std::fs::read_to_string(path).unwrap().parse().unwrap()
}

#[test]
fn no_host_crate_depends_on_a_module_or_a_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let ws = manifest(&root.join("Cargo.toml"));
    // Our crates by name: their path, and whether they build a binary.
    let mut ours: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for (name, spec) in ws["workspace"]["dependencies"].as_table().unwrap() {
        if let Some(path) = spec.get("path").and_then(|p| p.as_str()) {
            let m = manifest(&root.join(path).join("Cargo.toml"));
            let bin = m.contains_key("bin") || root.join(path).join("src/main.rs").exists();
            ours.insert(name.clone(), (path.to_string(), bin));
        }
    }
    let mut checked = 0;
    for member in ws["workspace"]["members"].as_array().unwrap() {
        let path = member.as_str().unwrap();
        if !(path.starts_with("host/") || path == "runtime-api") {
            continue;
        }
        checked += 1;
        let m = manifest(&root.join(path).join("Cargo.toml"));
        for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
            let Some(deps) = m.get(section).and_then(|d| d.as_table()) else { continue };
            for dep in deps.keys() {
                if let Some((dep_path, bin)) = ours.get(dep) {
                    assert!(!dep_path.starts_with("modules/"), "{path} depends on module crate {dep} ({section})");
                    assert!(!bin, "{path} depends on binary crate {dep} ({section})");
                }
            }
        }
    }
    assert!(checked >= 10, "only {checked} host crates found: is the workspace layout what this test expects?");
}
