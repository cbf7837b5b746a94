#!/usr/bin/env bash
# Tests the newcomer path: the README's two commands, in the README's order,
# in this one clone (what CI runs, .ci/run). Checks that
#   1. scripts/demo.sh writes a playable trained_tiny.mp4: not empty, an MP4
#      `ftyp` box first, and, when ffprobe is installed, a video stream with
#      at least one frame;
#   2. scripts/run-tests.sh, run afterwards (issue 15: it used to find the
#      demo's cached VDRT_BUILD_TESTS=OFF, run no ctest suite and exit 0),
#      exits 0 and ends with a summary line that counts the full suite: at
#      least every test `ctest -N` lists plus every ASan importer test.
# Ends by repeating the test command's summary line. Honours VDRT_BUILD_DIR
# and VDRT_ASAN_BUILD_DIR like the other scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh

fail() { echo "newcomer-path: FAILED: $*" >&2; exit 1; }

# --- 1. The demo command --------------------------------------------------
video=trained_tiny.mp4
rm -f "$video"
echo "newcomer-path: running scripts/demo.sh"
scripts/demo.sh || fail "scripts/demo.sh exited with $?"
[ -s "$video" ] || fail "scripts/demo.sh wrote no $video, or an empty one"
# An MP4 (ISO base media) file starts with a box: 4 bytes of size, then 'ftyp'.
[ "$(head -c 8 "$video" | tail -c 4)" = ftyp ] ||
  fail "$video does not start with an MP4 'ftyp' box (first bytes: $(head -c 16 "$video" | od -An -c | tr -s ' '))"
video_note="$(wc -c <"$video") bytes"
if command -v ffprobe >/dev/null; then
  probe=$(ffprobe -v error -select_streams v:0 -count_frames \
                  -show_entries stream=codec_type,nb_read_frames -of csv=p=0 "$video") ||
    fail "ffprobe cannot read $video"
  frames=${probe#video,}
  [[ $probe == video,* && $frames =~ ^[0-9]+$ && $frames -gt 0 ]] ||
    fail "ffprobe finds no video frames in $video (ffprobe says: '$probe')"
  video_note+=", $frames frames (ffprobe)"
else
  video_note+=", ftyp box (ffprobe not installed: frames not counted)"
fi
echo "newcomer-path: the demo wrote $video: $video_note"

# --- 2. The test command, in the same clone -------------------------------
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "newcomer-path: running scripts/run-tests.sh"
set +e
scripts/run-tests.sh 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
summary=$(tail -n 1 "$log")
[[ $summary =~ ^tests:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]] ||
  fail "the last line of scripts/run-tests.sh is not its summary line: '$summary'"
passed=${BASH_REMATCH[1]} failed=${BASH_REMATCH[2]} skipped=${BASH_REMATCH[3]}
[ "$rc" -eq 0 ] || fail "scripts/run-tests.sh exited with $rc ($summary)"
[ "$failed" -eq 0 ] || fail "scripts/run-tests.sh exited 0 but its summary says '$summary'"

# The full suite: what ctest lists in the build folder, plus the ASan suite.
listed=$(ctest --test-dir "$VDRT_BUILD_DIR" -N | sed -n 's/^Total Tests: *//p')
[[ $listed =~ ^[0-9]+$ && $listed -gt 0 ]] ||
  fail "ctest -N lists no tests in $VDRT_BUILD_DIR ('$listed')"
# DISABLED_ tests (opt-in GPU timing runs) are listed but never part of the suite.
disabled=$(ctest --test-dir "$VDRT_BUILD_DIR" --show-only=json-v1 | grep -c '"name" : "DISABLED"' || true)
listed=$((listed - disabled))
asan_bin="$VDRT_ASAN_BUILD_DIR/tests/vdrt_importer_tests"
[ -x "$asan_bin" ] || fail "$asan_bin is missing"
asan_listed=$(ASAN_OPTIONS=detect_leaks=0 "$asan_bin" --gtest_list_tests | grep -c '^  [^ ]' || true)
[ "$asan_listed" -gt 0 ] || fail "$asan_bin lists no tests"
counted=$((passed + failed + skipped))
expected=$((listed + asan_listed))
[ "$counted" -ge "$expected" ] ||
  fail "the summary counts $counted tests, but ctest lists $listed in $VDRT_BUILD_DIR and the ASan importer suite $asan_listed ($expected)"

echo "newcomer-path: OK: demo video playable; the test command counted $counted tests" \
     "(ctest lists $listed besides $disabled disabled, the ASan importer suite $asan_listed)"
echo "$summary"
