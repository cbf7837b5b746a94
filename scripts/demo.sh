#!/usr/bin/env bash
# Installs what is missing, builds vdrt (Release), and generates a 3-second
# video with the bundled trained tiny model (models/trained_tiny: a Wan-style
# causal DiT trained on procedural video; the prompt class_0, "red and yellow
# discs over gratings" (contexts/classes.txt names the others),
# classifier-free guidance 3 from the model's metadata): trained_tiny.mp4 in
# the repo root. Arguments go to `vdrt generate`, e.g.
#   scripts/demo.sh --context models/trained_tiny/pipeline/contexts/class_3.pb   # rings
#   scripts/demo.sh --seconds 10 --seed 7
#
# It shares the build folder ($VDRT_BUILD_DIR, default build/) with
# scripts/run-tests.sh and configures it with the very same options (tests and
# benchmarks ON, see scripts/common.sh), but builds only the `vdrt` target.
# A demo-only folder would be cleaner to reason about, but the test command
# run next would then compile every library a second time (about doubling the
# compile time on CI's 2 cores); with one folder and explicit options nothing
# the demo caches can turn a suite off, and nothing is compiled twice.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

scripts/install-deps.sh
vdrt_configure "$VDRT_BUILD_DIR" "${vdrt_release_options[@]}"
cmake --build "$VDRT_BUILD_DIR" -j "$(nproc)" --target vdrt
"$VDRT_BUILD_DIR/tools/vdrt" generate models/trained_tiny/pipeline --seconds 3 --seed 42 -o trained_tiny.mp4 "$@"
