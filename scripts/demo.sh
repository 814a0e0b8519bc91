#!/usr/bin/env bash
# The main job: installs dependencies, builds the release preset and runs the
# demo on the sample data shipped in data/demo/ (see scripts/run-demo.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
# Paths relative to the checkout, so a fresh clone reuses the cache.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}" CCACHE_NOHASHDIR=1
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)"
exec bash scripts/run-demo.sh build/release
