#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build PhantomCoin: a C/C++ toolchain and
# clang/libclang (RocksDB's bindings are generated with bindgen). With --test, also what the
# test suite needs: SoftHSM2 (the PKCS#11 backend of phantom-signer is tested against it).
# Safe to run repeatedly.
set -euo pipefail

need=()
command -v cc >/dev/null 2>&1 || need+=(build-essential)
command -v c++ >/dev/null 2>&1 || need+=(g++)
command -v clang >/dev/null 2>&1 || need+=(clang)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || ls /usr/lib/x86_64-linux-gnu/libclang*.so* >/dev/null 2>&1 || need+=(libclang-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
if [ "${1:-}" = "--test" ]; then
  command -v softhsm2-util >/dev/null 2>&1 || need+=(softhsm2)
  [ -e /usr/lib/softhsm/libsofthsm2.so ] || need+=(libsofthsm2)
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust 1.88 or newer (https://rustup.rs) and re-run" >&2
  exit 1
fi
