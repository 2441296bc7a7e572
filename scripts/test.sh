#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every test of the
# workspace (unit, snapshot, golden, robustness, end-to-end with SIPp).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc
