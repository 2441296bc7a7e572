#!/usr/bin/env bash
# The main job: the 10000 hotline on the embedded defaults. Installs the system
# packages the runtime uses (espeak-ng, pocketsphinx) when missing, builds
# Dialect in release mode and runs `dialect run`: SIP on 127.0.0.1:5060,
# HTTP API on 127.0.0.1:8080, data in ./data, the project ./flows/hotline.
# Extra arguments go to `dialect run` (e.g. --config dialect.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
exec cargo run --release -p dialect -- run "$@"
