#!/usr/bin/env bash
# Installs what is missing, builds vdrt (Release), and generates a 3-second
# video with the bundled tiny Wan-style model: tiny_wan.mp4 in the repo root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DVDRT_BUILD_TESTS=OFF -DVDRT_BUILD_BENCH=OFF
cmake --build build -j "$(nproc)" --target vdrt
build/tools/vdrt generate models/tiny_wan/ts17 --seconds 3 --seed 42 -o tiny_wan.mp4 "$@"
