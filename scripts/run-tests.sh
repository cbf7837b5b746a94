#!/usr/bin/env bash
# Installs what is missing, builds vdrt (Release), runs every test suite, then
# rebuilds the importer under AddressSanitizer + UBSan and runs its tests
# (malformed and fuzzed models). Exit code 0 means everything passed.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

scripts/install-deps.sh

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVDRT_SANITIZE=ON -DVDRT_BUILD_BENCH=OFF
cmake --build build-asan -j "$jobs" --target vdrt_importer_tests
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build-asan/tests/vdrt_importer_tests
