use super::*;

fn dev_value() -> serde_json::Value {
    serde_json::from_str(DEV_JSON).unwrap()
}

fn err_of(v: serde_json::Value) -> String {
    ChainSpec::from_json(&v.to_string()).unwrap_err().to_string()
}

#[test]
fn shipped_specs_parse_and_validate() {
    for (name, _) in BUILT_IN {
        let spec = ChainSpec::load(name).unwrap();
        assert_eq!(spec.id, name);
        assert!(spec.modules.contains_key("genesis"));
    }
}

#[test]
fn raw_form_round_trips_and_is_stable() {
    let spec = ChainSpec::from_json(DEV_JSON).unwrap();
    let raw = spec.to_raw_json().unwrap();
    assert_eq!(raw, ChainSpec::from_json(&raw).unwrap().to_raw_json().unwrap());
    assert!(raw.contains(&spec.genesis_hash().unwrap().to_hex()));
    // Key order and whitespace in the source do not change the genesis hash.
    let reordered: serde_json::Value = serde_json::from_str(DEV_JSON).unwrap();
    let pretty = serde_json::to_string_pretty(&reordered).unwrap();
    assert_eq!(ChainSpec::from_json(&pretty).unwrap().genesis_hash().unwrap(), spec.genesis_hash().unwrap());
}

#[test]
fn tampered_raw_spec_is_refused() {
    let raw = ChainSpec::from_json(DEV_JSON).unwrap().to_raw_json().unwrap();
    let tampered = raw.replace("\"committee_size\":1", "\"committee_size\":2");
    assert_ne!(raw, tampered);
    assert!(matches!(ChainSpec::from_json(&tampered), Err(ChainSpecError::HashMismatch { .. })));
}

#[test]
fn missing_field_is_named() {
    let mut v = dev_value();
    v["constants"]["windows"].as_object_mut().unwrap().remove("slash_window");
    let e = err_of(v);
    assert!(e.contains("constants.windows") && e.contains("slash_window"), "{e}");
    let mut v = dev_value();
    v.as_object_mut().unwrap().remove("network_id");
    assert!(err_of(v).contains("network_id"));
}

#[test]
fn unknown_field_and_wrong_type_are_named() {
    let mut v = dev_value();
    v["constants"]["windows"]["slash_windw"] = 5.into();
    let e = err_of(v);
    assert!(e.contains("constants.windows") && e.contains("slash_windw"), "{e}");
    let mut v = dev_value();
    v["constants"]["committee_size"] = "many".into();
    assert!(err_of(v).contains("constants.committee_size"));
}

#[test]
fn rule_violations_are_named() {
    let cases: [(&str, &str, serde_json::Value); 5] = [
        ("committee_size", "constants.committee_size", 65.into()),
        ("max_parents", "constants.max_parents", 5.into()),
        ("shards", "constants.shards", 0.into()),
        ("supply_cap", "constants.supply_cap", 0.into()),
        ("supply_cap", "constants.supply_cap", 5_000_000_000_000_001u64.into()),
    ];
    for (key, name, bad) in cases {
        let mut v = dev_value();
        v["constants"][key] = bad;
        let e = err_of(v);
        assert!(e.contains(name), "{e}");
    }
    let mut v = dev_value();
    v["constants"]["windows"]["epoch_anchors"] = 0.into();
    assert!(err_of(v).contains("constants.windows.epoch_anchors"));
}

#[test]
fn a_module_constant_in_the_host_sheet_is_refused() {
    // Module constants live in their module's section (docs/spec/constants.md): the host sheet
    // names none of them, so an old spec that still carries one fails loudly.
    for (path, value) in
        [("fees", serde_json::json!({})), ("emission", serde_json::json!({})), ("attestor_sample", 4.into())]
    {
        let mut v = dev_value();
        v["constants"][path] = value;
        let e = err_of(v);
        assert!(e.contains("constants") && e.contains(path), "{e}");
    }
}

#[test]
fn floats_are_refused() {
    let mut v = dev_value();
    v["modules"]["genesis"]["x"] = serde_json::json!(0.5);
    assert!(err_of(v).contains("modules.genesis.x"));
}

#[test]
fn garbage_is_refused() {
    assert!(ChainSpec::from_json("{").is_err());
    assert!(ChainSpec::from_json("[]").is_err());
    assert!(ChainSpec::from_json("").is_err());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn leaves(v: &serde_json::Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    path.push(k.clone());
                    leaves(x, path, out);
                    path.pop();
                }
            }
            _ => out.push(path.clone()),
        }
    }

    fn scalar() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            "[a-z0-9/ -]{0,12}".prop_map(serde_json::Value::from),
            Just(serde_json::json!([1, 2])),
            Just(serde_json::json!({})),
        ]
    }

    proptest! {
        /// A hostile edit of any field never panics; what is accepted still validates.
        #[test]
        fn any_field_edit_is_refused_or_valid(pick in any::<prop::sample::Index>(), value in scalar()) {
            let mut v = dev_value();
            let mut all = Vec::new();
            leaves(&v, &mut Vec::new(), &mut all);
            let path = pick.get(&all).clone();
            let mut slot = &mut v;
            for k in &path {
                slot = &mut slot[k.as_str()];
            }
            *slot = value;
            if let Ok(spec) = ChainSpec::from_json(&v.to_string()) {
                prop_assert!(spec.validate().is_ok());
                prop_assert!(spec.to_raw_json().is_ok());
            }
        }

        /// Arbitrary text never panics the parser.
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,200}") {
            let _ = ChainSpec::from_json(&text);
        }
    }
}

#[test]
fn a_committee_lists_one_distinct_key_per_seat() {
    let key = |b: u8| Hash32([b; 32]).to_hex();
    let mut v = dev_value();
    v["committee"] = serde_json::json!([key(1), key(2)]);
    assert!(err_of(v.clone()).contains("committee"), "two keys for one seat");
    v["constants"]["committee_size"] = 2.into();
    assert_eq!(ChainSpec::from_json(&v.to_string()).unwrap().committee.len(), 2);
    v["committee"] = serde_json::json!([key(1), key(1)]);
    assert!(err_of(v.clone()).contains("committee[1]"), "duplicate");
    v["committee"] = serde_json::json!([key(1), "nothex"]);
    assert!(err_of(v).contains("committee[1]"), "not hex");
    // Without a committee the field is absent, so existing genesis hashes do not change.
    assert!(!ChainSpec::from_json(DEV_JSON).unwrap().to_raw_json().unwrap().contains("committee\""));
}
