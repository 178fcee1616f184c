//! The phantom-signer command line: init prints the words, restore rebuilds the same address,
//! a wrong password fails with a clear message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

fn signer(dir: &std::path::Path, password: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_phantom-signer"))
        .args(args)
        .args(["--kdf-memory-kib", "64"])
        .env("PHANTOM_SIGNER_PASSWORD", password)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn init_restore_and_address_agree_and_a_wrong_password_is_clear() {
    let dir = tempfile::tempdir().unwrap();
    let init = signer(dir.path(), "pw", &["init", "--keystore", "a.json"]);
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let words = String::from_utf8(init.stdout).unwrap();
    assert_eq!(words.split_whitespace().count(), 24);
    let mut restore = Command::new(env!("CARGO_BIN_EXE_phantom-signer"))
        .args(["restore", "--keystore", "b.json", "--kdf-memory-kib", "64"])
        .env("PHANTOM_SIGNER_PASSWORD", "pw2")
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    restore.stdin.take().unwrap().write_all(words.as_bytes()).unwrap();
    assert!(restore.wait().unwrap().success());
    let a = signer(dir.path(), "pw", &["address", "--keystore", "a.json", "--purpose", "seat", "--index", "2"]);
    let b = signer(dir.path(), "pw2", &["address", "--keystore", "b.json", "--purpose", "seat", "--index", "2"]);
    assert!(a.status.success() && b.status.success());
    assert_eq!(a.stdout, b.stdout);
    assert!(String::from_utf8_lossy(&a.stdout).starts_with("pc1"));
    let wrong = signer(dir.path(), "nope", &["address", "--keystore", "a.json"]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("wrong password"));
    let again = signer(dir.path(), "pw", &["init", "--keystore", "a.json"]);
    assert!(!again.status.success(), "init never overwrites a keystore");
}
