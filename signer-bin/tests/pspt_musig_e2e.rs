//! PSPT and MuSig2 end to end with real processes on a dev chain: every step below is a
//! separate `phantom-signer` process, and each keystore is touched only by its own commands.
//!
//! - a MuSig2 2-of-2 aggregate key receives coins and spends them with one BIP-340 signature
//!   made from two signers' nonces and partial signatures;
//! - watch-only creation and offline signing of a key output;
//! - a 2-of-3 threshold behind a predicate-hash address, signed by two keystores apart and
//!   combined.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use pc_codec::Hash32;
use pc_utxo_tx::{Address, OutPoint, Predicate, TxOut, XOnly, keypair_from_seed, signed_transfer};
use phantom_signer::wallet::Node;
use phantom_signer::{KdfParams, Keystore, Purpose};
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{sibling, start_node, wait_finalized};

/// Runs phantom-signer with `keystore`; Ok(stdout) or Err(stderr).
fn signer(keystore: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new(env!("CARGO_BIN_EXE_phantom-signer"))
        .arg("--keystore")
        .arg(keystore)
        .args(args)
        .env("PHANTOM_SIGNER_PASSWORD", "pw")
        .output()
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap().trim().to_string();
    if out.status.success() { Ok(text(out.stdout)) } else { Err(text(out.stderr)) }
}

fn keystore(dir: &Path, name: &str) -> (PathBuf, Keystore) {
    let path = dir.join(name);
    let (ks, _) = Keystore::create(&path, "pw", KdfParams { m_kib: 64, t: 1, p: 1 }).unwrap();
    (path, ks)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn musig2_threshold_and_offline_spends_finalize_on_a_dev_chain() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ka, a) = keystore(d, "a.json");
    let (kb, b) = keystore(d, "b.json");
    let (kc, c) = keystore(d, "c.json");

    // MuSig2 aggregate of A and B, from their published keys only.
    let pka = signer(&ka, &["pubkey"]).unwrap();
    let pkb = signer(&kb, &["pubkey"]).unwrap();
    let keys = format!("{pka},{pkb}");
    let agg: Address = signer(&ka, &["musig-address", "--keys", &keys]).unwrap().parse().unwrap();
    assert_eq!(signer(&kc, &["musig-address", "--keys", &format!("{pkb},{pka}")]).unwrap(), agg.to_string());
    // A 2-of-3 threshold of A, B and C behind a predicate-hash address.
    let mut tkeys: Vec<XOnly> = [&a, &b, &c].iter().map(|k| k.public_key(Purpose::Spend, 1).unwrap()).collect();
    tkeys.sort_by_key(|k| k.0);
    let threshold = Predicate::Threshold { k: 2, keys: tkeys };
    let t_addr = Address::for_predicate(&threshold);
    let c_addr = Address::Key(c.public_key(Purpose::Spend, 0).unwrap());

    // Fund all three from development account 0.
    let (_node, url) = start_node(&d.join("node"), &[]);
    let accounts = Command::new(sibling("phantom-node", "phantom-node")).args(["dev-accounts"]).output().unwrap();
    let line = String::from_utf8(accounts.stdout).unwrap().lines().next().unwrap().to_string();
    let mut parts = line.split(' ').skip(1);
    let dev_addr: Address = parts.next().unwrap().parse().unwrap();
    let dev = keypair_from_seed(hex::decode(parts.next().unwrap()).unwrap().try_into().unwrap()).unwrap();
    let node = Node::connect(&url).unwrap();
    let genesis = node.genesis().await.unwrap();
    let (coin, value): (OutPoint, u64) = node.spendable(&dev_addr).await.unwrap()[0];
    let unit = 1_000_000u64;
    let outputs = vec![
        TxOut { value: unit, predicate: agg.predicate() },
        TxOut { value: unit, predicate: c_addr.predicate() },
        TxOut { value: unit, predicate: t_addr.predicate() },
        TxOut { value: value - 3 * unit - 10_000, predicate: dev_addr.predicate() },
    ];
    let mut fund = signed_transfer(&genesis, &dev, &[coin], outputs);
    fund.sort_canonical();
    let fund = signed_transfer(&genesis, &dev, &[coin], fund.outputs);
    wait_finalized(&url, &node.submit(&fund).await.unwrap(), 20).await;
    let friend = Address::Key(XOnly::of(&keypair_from_seed([5; 32]).unwrap()));
    let to = friend.to_string();

    // --- MuSig2: create (watch-only), two nonce rounds, combine, two partial signatures, broadcast.
    let p = d.join("m.pspt");
    let (agg_s, amount) = (agg.to_string(), "400000");
    let created = ["pspt", "create", "--rpc-url", &url, "--from", &agg_s, "--to", &to, "--amount", amount];
    signer(&kc, &[&created[..], &["--musig-keys", &keys, "--out", s(&p)]].concat()).unwrap();
    let (na, nb, n) = (d.join("na.pspt"), d.join("nb.pspt"), d.join("n.pspt"));
    signer(&ka, &["pspt", "musig-nonce", "--in", s(&p), "--out", s(&na)]).unwrap();
    signer(&kb, &["pspt", "musig-nonce", "--in", s(&p), "--out", s(&nb)]).unwrap();
    let early = signer(&ka, &["pspt", "musig-sign", "--in", s(&na), "--out", s(&d.join("x"))]).unwrap_err();
    assert!(early.contains("waiting for the nonce"), "{early}");
    signer(&kc, &["pspt", "combine", "--in", s(&na), s(&nb), "--out", s(&n)]).unwrap();
    let (sa, sb, done) = (d.join("sa.pspt"), d.join("sb.pspt"), d.join("done.pspt"));
    let c_not_in = signer(&kc, &["pspt", "musig-sign", "--in", s(&n), "--out", s(&sa)]).unwrap_err();
    assert!(c_not_in.contains("not a participant"), "{c_not_in}");
    signer(&ka, &["pspt", "musig-sign", "--in", s(&n), "--out", s(&sa)]).unwrap();
    signer(&kb, &["pspt", "musig-sign", "--in", s(&n), "--out", s(&sb)]).unwrap();
    // A nonce signs once: a second round-2 attempt is refused and writes nothing.
    let again = signer(&ka, &["pspt", "musig-sign", "--in", s(&n), "--out", s(&d.join("again"))]).unwrap_err();
    assert!(again.contains("no secret nonce"), "{again}");
    assert!(!d.join("again").exists());
    signer(&kc, &["pspt", "combine", "--in", s(&sa), s(&sb), "--out", s(&done)]).unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(&signer(&kc, &["pspt", "inspect", "--in", s(&done)]).unwrap()).unwrap();
    assert_eq!(summary["complete"], true, "{summary}");
    let id = signer(&kc, &["pspt", "broadcast", "--in", s(&done), "--rpc-url", &url]).unwrap();
    wait_finalized(&url, &id, 20).await;
    assert_eq!(node.balance(&friend).await.unwrap().0, 400_000);

    // --- Watch-only creation, offline signing (no node address given), broadcast.
    let w = d.join("w.pspt");
    let c_s = c_addr.to_string();
    signer(
        &ka,
        &["pspt", "create", "--rpc-url", &url, "--from", &c_s, "--to", &to, "--amount", "1000", "--out", s(&w)],
    )
    .unwrap();
    let unsigned = signer(&kc, &["pspt", "broadcast", "--in", s(&w), "--rpc-url", &url]).unwrap_err();
    assert!(unsigned.contains("lacks signatures"), "{unsigned}");
    let wrong = signer(&ka, &["pspt", "sign", "--in", s(&w)]).unwrap_err();
    assert!(wrong.contains("none of this keystore's spend keys"), "{wrong}");
    signer(&kc, &["pspt", "sign", "--in", s(&w)]).unwrap();
    let id = signer(&ka, &["pspt", "broadcast", "--in", s(&w), "--rpc-url", &url]).unwrap();
    wait_finalized(&url, &id, 20).await;
    assert_eq!(node.balance(&friend).await.unwrap().0, 401_000);

    // --- 2-of-3 threshold behind a predicate hash: A and C sign apart, the files are combined.
    let t = d.join("t.pspt");
    let (t_s, reveal) = (t_addr.to_string(), hex::encode(parity_scale_codec::Encode::encode(&threshold)));
    let base = ["pspt", "create", "--rpc-url", &url, "--from", &t_s, "--to", &to, "--amount", "2000"];
    let hidden = signer(&ka, &[&base[..], &["--out", s(&t)]].concat()).unwrap_err();
    assert!(hidden.contains("predicate it hides"), "{hidden}");
    signer(&ka, &[&base[..], &["--reveal", &reveal, "--out", s(&t)]].concat()).unwrap();
    let (ta, tc, tt) = (d.join("ta.pspt"), d.join("tc.pspt"), d.join("tt.pspt"));
    signer(&ka, &["pspt", "sign", "--in", s(&t), "--out", s(&ta)]).unwrap();
    let one = signer(&ka, &["pspt", "broadcast", "--in", s(&ta), "--rpc-url", &url]).unwrap_err();
    assert!(one.contains("lacks signatures"), "one of two signatures is not enough: {one}");
    signer(&kc, &["pspt", "sign", "--in", s(&t), "--out", s(&tc)]).unwrap();
    signer(&kb, &["pspt", "combine", "--in", s(&ta), s(&tc), "--out", s(&tt)]).unwrap();
    let id = signer(&kb, &["pspt", "broadcast", "--in", s(&tt), "--rpc-url", &url]).unwrap();
    wait_finalized(&url, &id, 20).await;
    assert_eq!(node.balance(&friend).await.unwrap().0, 403_000);

    // A PSPT for another network is refused before anything is sent.
    let mut other = phantom_signer::pspt::Pspt::load(&t).unwrap();
    other.genesis = Hash32([9; 32]).to_hex();
    let o = d.join("other.pspt");
    other.save(&o).unwrap();
    let refused = signer(&ka, &["pspt", "broadcast", "--in", s(&o), "--rpc-url", &url]).unwrap_err();
    assert!(refused.contains("another network"), "{refused}");
    let mixed = signer(&ka, &["pspt", "combine", "--in", s(&o), s(&t), "--out", s(&d.join("mixed"))]).unwrap_err();
    assert!(mixed.contains("another network"), "{mixed}");
    assert!(!d.join("mixed").exists());
}
