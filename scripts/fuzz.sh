#!/usr/bin/env bash
# Fuzzes the protocol decoder with cargo-fuzz (libFuzzer) from the committed corpus.
#   scripts/fuzz.sh [RUNS]      default 10,000,000 runs; the test command runs 200,000
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10000000}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --quiet
cd fuzz
# New inputs go to a scratch folder: the committed corpus only changes by `cargo fuzz cmin`.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
RUSTC_BOOTSTRAP=1 cargo fuzz run decode "$scratch" corpus/decode -- -runs="$runs" -max_len=4096 2>&1 | tail -n 3
echo "fuzz: 1 passed, 0 failed ($runs runs of the decoder, no crash)"
