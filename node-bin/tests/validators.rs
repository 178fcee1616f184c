//! Validators come and go by bond and VRF on real processes (docs/operators.md §4,
//! docs/spec/modules/bonding.md, committee-vrf.md): seven nodes on the `local` chain with
//! short windows. Four genesis-bonded seats; operator A bonds a transfer and an immature mint
//! through phantom-signer; operator B bonds two key sets under one operator id. Their nodes
//! ask their signers for a candidacy every epoch; A and one of B's sets are selected at later
//! epochs and sign events; B never holds two seats; A's node stops and is dropped for absence
//! and cools down; an unbond is withdrawable only once its window has passed, and gives back
//! the very outputs, the mint with its maturity. Finality goes on through every rotation and
//! every node holds the same committees and anchors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::testnet::{Node, agree, all_reach, keep_busy, lowest_best};
use common::{node_out, serve_signer, signer, wait_for};
use jsonrpsee_core::client::ClientT;
use jsonrpsee_core::rpc_params;
use parity_scale_codec::{Decode, Encode};
use pc_codec::Hash32;
use pc_module_mint_pow::MintHeader;
use pc_utxo_tx::{Address, OutPoint, TxOut, XOnly, signed_transfer};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;

const R: u64 = 20;
const SLASH: u64 = 8;
const HEARTBEAT: u64 = 6;
const COOLDOWN: u64 = 24;
const PC: u64 = 100_000_000;

fn out(mut c: std::process::Command) -> Result<String, String> {
    let o = c.stderr(Stdio::piped()).output().unwrap();
    if o.status.success() {
        Ok(String::from_utf8(o.stdout).unwrap().trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).to_string())
    }
}

fn keys(ks: &Path, index: u32) -> Value {
    serde_json::from_str(&out(signer(ks, &["validator-keys", "--index", &index.to_string()])).unwrap()).unwrap()
}

async fn rpc(n: &Node, method: &str, params: Vec<Value>) -> Value {
    let mut p = jsonrpsee_core::params::ArrayParams::new();
    for v in params {
        p.insert(v).unwrap();
    }
    n.client().request(method, p).await.unwrap()
}

/// Pays `outs` from development account `from` through `n`; returns the outpoints once final.
async fn fund(n: &Node, from: u32, outs: Vec<TxOut>) -> Vec<OutPoint> {
    let kp = pc_service::keys::dev_account_key(from).unwrap();
    let me = Address::Key(XOnly::of(&kp));
    let info = rpc(n, "chain_getInfo", vec![]).await;
    let g = Hash32::from_hex(info["genesis_hash"].as_str().unwrap()).unwrap();
    let list = rpc(n, "utxo_listUnspent", vec![me.to_string().into()]).await;
    let u = list.as_array().unwrap().iter().max_by_key(|u| u["value"].as_u64().unwrap()).unwrap();
    let op = OutPoint {
        tx: Hash32::from_hex(u["txid"].as_str().unwrap()).unwrap(),
        index: u["index"].as_u64().unwrap() as u32,
    };
    let value = u["value"].as_u64().unwrap();
    let mut outs = outs;
    let paid: u64 = outs.iter().map(|o| o.value).sum();
    let n_out = outs.len() as u32;
    outs.push(TxOut { value: value - paid - 100_000, predicate: me.predicate() });
    let tx = signed_transfer(&g, &kp, &[op], outs.clone());
    let id = tx.txid();
    let _: String = rpc(n, "tx_submit", vec![hex::encode(tx.encode()).into()]).await.as_str().unwrap().into();
    wait_for("a funding transfer", 120, async || (n.status(&id.to_hex()).await["status"] == "finalized").then_some(()))
        .await;
    // Outputs are in canonical order in the signed transaction: find ours (distinct values).
    outs.iter()
        .take(n_out as usize)
        .map(|want| OutPoint { tx: id, index: tx.outputs.iter().position(|o| o == want).unwrap() as u32 })
        .collect()
}

/// Mines a mint at tier 2 paying `to` through `n`; returns its outpoint and maturity.
async fn mine(n: &Node, to: &str) -> (OutPoint, u64) {
    let t = rpc(n, "get_mint_template", vec![to.into(), 2.into()]).await;
    let mut h = MintHeader::decode(&mut &hex::decode(t["header"].as_str().unwrap()).unwrap()[..]).unwrap();
    while !h.meets_target() {
        h.nonce += 1;
    }
    let _ = rpc(n, "submit_mint_solution", vec![hex::encode(h.encode()).into()]).await;
    let id = h.id();
    let st = wait_for("the mint to finalize", 120, async || {
        let s = rpc(n, "mint_status", vec![id.to_hex().into()]).await;
        (s["status"] == "finalized").then_some(s)
    })
    .await;
    (pc_module_utxo::module_outpoint("mint-pow", &id, 0), st["spendable_from_anchor"].as_u64().unwrap())
}

fn op_arg(op: &OutPoint) -> String {
    format!("{}:{}", op.tx.to_hex(), op.index)
}

/// The committee's seat keys for the epoch holding `anchor`, if still kept.
async fn committee_at(n: &Node, anchor: u64) -> Option<Vec<String>> {
    let c: Value = n.client().request("chain_getCommittee", rpc_params![anchor]).await.ok()?;
    Some(c["seats"].as_array()?.iter().map(|s| s["key"].as_str().unwrap().to_string()).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_bond_get_selected_by_vrf_leave_by_absence_or_unbond_and_finality_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut spec: Value = serde_json::from_str(&node_out(&["build-spec", "--chain", "local"])).unwrap();
    spec["constants"]["windows"] = serde_json::json!({ "slash_window": SLASH, "epoch_anchors": R });
    spec["modules"]["bonding"]["activation_buffer"] = 2.into();
    spec["modules"]["bonding"]["unbonding"] = (SLASH + R).into();
    spec["modules"]["committee-vrf"] = serde_json::json!({ "heartbeat": HEARTBEAT, "cooldown": COOLDOWN });
    let path = d.join("local-short.json");
    std::fs::write(&path, spec.to_string()).unwrap();
    let chain = path.to_str().unwrap().to_string();

    // Operator A: key set 0. Operator B: key sets 0 and 1, both under set 0's operator id.
    let (ka, kb) = (d.join("a.json"), d.join("b.json"));
    for ks in [&ka, &kb] {
        assert!(signer(ks, &["--kdf-memory-kib", "64", "init"]).stdout(Stdio::null()).status().unwrap().success());
    }
    let (seat_a, seat_b0, seat_b1) =
        (keys(&ka, 0)["seat_key"].clone(), keys(&kb, 0)["seat_key"].clone(), keys(&kb, 1)["seat_key"].clone());
    let (seat_a, seat_b0, seat_b1) = (
        seat_a.as_str().unwrap().to_string(),
        seat_b0.as_str().unwrap().to_string(),
        seat_b1.as_str().unwrap().to_string(),
    );
    let addr_a = out(signer(&ka, &["address", "--purpose", "spend"])).unwrap();
    let addr_b = out(signer(&kb, &["address", "--purpose", "spend"])).unwrap();
    let (_sa, sock_a, tok_a) = serve_signer(&ka);
    let (_sb, sock_b, tok_b) = serve_signer(&kb);

    // Seven nodes: four well-known genesis seats, A's, and B's two.
    let mut v: Vec<Node> = (0..4u8).map(|s| Node::new(d, &format!("v{s}"), Some(s), s)).collect();
    for (name, sock, tok, index, n) in
        [("a0", &sock_a, &tok_a, 0, 4u8), ("b0", &sock_b, &tok_b, 0, 5), ("b1", &sock_b, &tok_b, 1, 6)]
    {
        let mut node = Node::new(d, name, None, n);
        node.extra = vec![
            "--signer-socket".into(),
            sock.to_str().unwrap().into(),
            "--signer-token-file".into(),
            tok.to_str().unwrap().into(),
            "--seat-index".into(),
            index.to_string(),
        ];
        v.push(node);
    }
    let mut boot = Vec::new();
    for n in v.iter_mut() {
        n.chain = chain.clone();
        n.start(&boot);
        boot.push(n.addr());
    }
    let _load = keep_busy(v[..4].iter().map(|n| n.url.clone()).collect());
    let url = v[0].url.clone();

    // Funds: A gets a transfer and an immature mint (80-anchor tier); B two outputs.
    let pay = |a: &str, value: u64| TxOut { value, predicate: a.parse::<Address>().unwrap().predicate() };
    let a_coin = fund(&v[0], 0, vec![pay(&addr_a, 20 * PC)]).await[0];
    let b_coins = fund(&v[0], 1, vec![pay(&addr_b, 10 * PC), pay(&addr_b, 11 * PC)]).await;
    let (mint, mint_mature) = mine(&v[0], &addr_a).await;
    let a_utxos = rpc(&v[0], "utxo_listUnspent", vec![addr_a.clone().into()]).await;
    let mint_entry = a_utxos.as_array().unwrap().iter().find(|u| u["txid"] == mint.tx.to_hex()).unwrap().clone();
    assert_eq!(mint_entry["mature"], false, "the mint is immature when bonded");

    // Bonds, through the signer's commands.
    let bond = |ks: &Path, index: &str, extra: &[&str], ops: &[OutPoint]| {
        let mut args = vec!["bond", "--rpc-url", &url, "--index", index];
        args.extend_from_slice(extra);
        let ops: Vec<String> = ops.iter().map(op_arg).collect();
        for o in &ops {
            args.extend_from_slice(&["--outpoint", o]);
        }
        Hash32::from_hex(&out(signer(ks, &args)).unwrap()).unwrap()
    };
    let bond_a = bond(&ka, "0", &[], &[a_coin, mint]);
    let bond_b0 = bond(&kb, "0", &[], &[b_coins[0]]);
    let bond_b1 = bond(&kb, "1", &["--operator-index", "0"], &[b_coins[1]]);
    for b in [bond_a, bond_b0, bond_b1] {
        wait_for("the bonds to be active", 180, async || {
            (rpc(&v[0], "bonding_getBond", vec![b.to_hex().into()]).await["state"] == "active").then_some(())
        })
        .await;
    }
    let rec_a = rpc(&v[0], "bonding_getBond", vec![bond_a.to_hex().into()]).await;
    assert_eq!(rec_a["mature_from"].as_u64(), Some(mint_mature));
    assert_eq!(rec_a["operator"], rec_a["bond_key"]);
    let rec_b1 = rpc(&v[0], "bonding_getBond", vec![bond_b1.to_hex().into()]).await;
    assert_eq!(rec_b1["operator"], keys(&kb, 0)["bond_key"], "B's second bond is under B's operator id");

    // Rotations: watch every epoch's committee (as two nodes hold it) until A and one of B's
    // sets have sat, and both of B's bonds have stood as candidates at once.
    let mut seen: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut b_both_candidates = false;
    let (hb0, hb1) = (bond_b0.to_hex(), bond_b1.to_hex());
    let watch = async |seen: &mut BTreeMap<u64, Vec<String>>, both: &mut bool, v: &[Node]| {
        let best = v[0].best().await;
        let epoch = (best / R) * R + 1;
        for e in [epoch.saturating_sub(R), epoch] {
            if e >= 1
                && !seen.contains_key(&e)
                && let Some(c) = committee_at(&v[0], e).await
            {
                if let Some(other) = committee_at(&v[1], e).await {
                    assert_eq!(other, c, "epoch {e}: two nodes hold different committees");
                }
                seen.insert(e, c);
            }
        }
        let next = rpc(&v[0], "committee_next", vec![]).await;
        let cands: Vec<String> =
            next["candidates"].as_array().unwrap().iter().map(|c| c["bond"].as_str().unwrap().to_string()).collect();
        *both |= cands.contains(&hb0) && cands.contains(&hb1);
    };
    wait_for("A and B to be selected", 600, async || {
        watch(&mut seen, &mut b_both_candidates, &v).await;
        let sat = |k: &str| seen.values().any(|c| c.iter().any(|s| s == k));
        (sat(&seat_a) && (sat(&seat_b0) || sat(&seat_b1)) && b_both_candidates).then_some(())
    })
    .await;
    let check_rotations = |seen: &BTreeMap<u64, Vec<String>>| {
        for (e, c) in seen {
            assert_eq!(c.iter().collect::<BTreeSet<_>>().len(), 4, "epoch {e}: {c:?}");
            assert!(!(c.contains(&seat_b0) && c.contains(&seat_b1)), "epoch {e}: operator B holds two seats");
            if let Some(next) = seen.get(&(e + R)) {
                let changed = c.iter().zip(next).filter(|(x, y)| x != y).count();
                assert!(changed <= 1, "epoch {}: {changed} seats changed, more than f = 1", e + R);
            }
        }
    };
    check_rotations(&seen);

    // B's seated node signs too.
    let b_epoch = *seen.iter().find(|(_, c)| c.contains(&seat_b0) || c.contains(&seat_b1)).unwrap().0;
    let b_node = if seen[&b_epoch].contains(&seat_b0) { 5 } else { 6 };
    all_reach(&v.iter().collect::<Vec<_>>(), b_epoch + 2, 120).await;
    wait_for("B's node to sign", 60, async || {
        let info = rpc(&v[b_node], "chain_getInfo", vec![]).await;
        (info["consensus"]["own_events"].as_u64().unwrap_or(0) > 0).then_some(())
    })
    .await;

    // A signs events once seated.
    let a_epoch = *seen.iter().find(|(_, c)| c.contains(&seat_a)).unwrap().0;
    all_reach(&v.iter().collect::<Vec<_>>(), a_epoch + 2, 120).await;
    wait_for("A's node to sign", 60, async || {
        let info = rpc(&v[4], "chain_getInfo", vec![]).await;
        (info["consensus"]["own_events"].as_u64().unwrap_or(0) > 0).then_some(())
    })
    .await;
    assert!(!v[4].log_lines("candidacy submitted").is_empty());

    // A's node stops early in an epoch in which it sits: more than `heartbeat` anchors before
    // the epoch's end, so the next rotation finds it absent, drops it and cools it down. (Its
    // last events may still be ordered a few anchors after the kill: R − heartbeat = 14
    // anchors leave room for that.)
    let stop_at = wait_for("A seated at an epoch's start", 600, async || {
        watch(&mut seen, &mut b_both_candidates, &v).await;
        let best = v[0].best().await;
        if best % R > 1 {
            return None;
        }
        committee_at(&v[0], best + 1).await.filter(|c| c.contains(&seat_a)).map(|_| best)
    })
    .await;
    v[4].kill();
    let running: Vec<&Node> = v.iter().enumerate().filter(|(i, _)| *i != 4).map(|(_, n)| n).collect();
    let dropped = wait_for("A to be dropped", 300, async || {
        let best = lowest_best(&running).await;
        let c = committee_at(&v[0], best + 1).await?;
        (!c.contains(&seat_a)).then_some(best)
    })
    .await;
    let cand = rpc(&v[0], "committee_candidacy", vec![bond_a.to_hex().into()]).await;
    let until = cand["cooldown_until"].as_u64().expect("a cooldown after the absence");
    let selection = (stop_at / R + 1) * R;
    assert_eq!(until, selection + COOLDOWN, "dropped at the next rotation, for absence: {cand}");
    assert!(dropped >= selection);
    assert_eq!(
        rpc(&v[0], "bonding_getBond", vec![bond_a.to_hex().into()]).await["state"],
        "active",
        "absence costs no bond"
    );
    // A comes back at once: it stands as a candidate again (asked by its seat key here) but is
    // neither eligible nor selected until its cooldown has passed.
    v[4].start(&boot[..4]);
    let running: Vec<&Node> = v.iter().collect();
    let cand = wait_for("A's candidacy while cooling down", 300, async || {
        let c = rpc(&v[0], "committee_candidacy", vec![seat_a.clone().into()]).await;
        (c["candidate"] == true && c["bond"] == bond_a.to_hex()).then_some(c)
    })
    .await;
    assert_eq!(cand["eligible_at_selection"], false, "{cand}");
    assert!(cand["reason"].as_str().unwrap().contains("cooling down"), "{cand}");
    wait_for("the cooldown to pass", 600, async || {
        watch(&mut seen, &mut b_both_candidates, &v).await;
        (lowest_best(&running).await > until + R).then_some(())
    })
    .await;
    for (e, c) in &seen {
        if *e > selection && *e <= until + 1 {
            assert!(!c.contains(&seat_a), "epoch {e}: A selected while cooling down");
        }
    }
    check_rotations(&seen);

    // B leaves with whichever bond is not seated: too early first, then on time.
    let now = committee_at(&v[0], v[0].best().await + 1).await.unwrap();
    let (leave, set) = if now.contains(&seat_b1) { (bond_b0, "0") } else { (bond_b1, "1") };
    out(signer(&kb, &["unbond", "--rpc-url", &url, "--index", set, "--bond", &leave.to_hex()])).unwrap();
    let rec = wait_for("the unbond", 120, async || {
        let r = rpc(&v[0], "bonding_getBond", vec![leave.to_hex().into()]).await;
        (r["state"] == "unbonding").then_some(r)
    })
    .await;
    let from = rec["withdrawable_from"].as_u64().unwrap();
    let release = |r: &Value| {
        let g = |k: &str| r[k].as_u64().unwrap();
        (g("requested_at") + SLASH + R).max(g("mature_from")).max(g("served_until") + SLASH + 1)
    };
    assert_eq!(rec["release_at"].as_u64().unwrap(), release(&rec), "{rec}");
    assert!(from >= rec["release_at"].as_u64().unwrap());
    let early = out(signer(&kb, &["withdraw", "--rpc-url", &url, "--index", set, "--bond", &leave.to_hex()]));
    assert!(early.as_ref().is_err_and(|e| e.contains("bonding.too-early")), "{early:?}");
    all_reach(&running, from, 300).await;
    out(signer(&kb, &["withdraw", "--rpc-url", &url, "--index", set, "--bond", &leave.to_hex()])).unwrap();
    let back = if leave == bond_b0 { b_coins[0] } else { b_coins[1] };
    wait_for("B's output back", 120, async || {
        let l = rpc(&v[0], "utxo_listUnspent", vec![addr_b.clone().into()]).await;
        l.as_array().unwrap().iter().any(|u| u["txid"] == back.tx.to_hex() && u["index"] == back.index).then_some(())
    })
    .await;

    // A unbonds and gets its mint back as it was. It may sit again by now: then its withdrawal
    // waits for the slash window of its last epoch too, so go by `withdrawable_from` as it moves.
    out(signer(&ka, &["unbond", "--rpc-url", &url, "--index", "0", "--bond", &bond_a.to_hex()])).unwrap();
    let rec = wait_for("A's unbond", 120, async || {
        let r = rpc(&v[0], "bonding_getBond", vec![bond_a.to_hex().into()]).await;
        (r["state"] == "unbonding").then_some(r)
    })
    .await;
    let g = |k: &str| rec[k].as_u64().unwrap();
    assert!(g("release_at") >= (g("requested_at") + SLASH + R).max(mint_mature), "{rec}");
    wait_for("A's withdrawal", 600, async || {
        let r = rpc(&v[0], "bonding_getBond", vec![bond_a.to_hex().into()]).await;
        if lowest_best(&running).await < r["withdrawable_from"].as_u64()? {
            return None;
        }
        out(signer(&ka, &["withdraw", "--rpc-url", &url, "--index", "0", "--bond", &bond_a.to_hex()])).ok()
    })
    .await;
    let back = wait_for("A's mint back", 120, async || {
        let l = rpc(&v[0], "utxo_listUnspent", vec![addr_a.clone().into()]).await;
        l.as_array().unwrap().iter().find(|u| u["txid"] == mint.tx.to_hex()).cloned()
    })
    .await;
    assert_eq!(back["spendable_from_anchor"], mint_entry["spendable_from_anchor"], "the mint keeps its maturity");
    assert_eq!(back["value"], mint_entry["value"]);

    // Finality never stopped; every running node holds the same anchors and committees.
    let best = lowest_best(&running).await;
    agree(&running, best).await;
    // Committees are kept only for the slash window: compare the current epoch's, once every
    // node (A restarted late) has reached it.
    let top = v[0].best().await;
    let e = top / R * R + 1;
    all_reach(&running, e, 300).await;
    let first = committee_at(running[0], e).await.expect("the current committee");
    for n in &running[1..] {
        assert_eq!(committee_at(n, e).await.as_ref(), Some(&first), "epoch {e} at {}", n.url);
    }
    assert!(seen.len() >= 4, "rotations watched: {}", seen.len());
}
