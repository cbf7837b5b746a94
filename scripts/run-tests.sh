#!/usr/bin/env bash
# Installs what is missing, builds vdrt (Release) with its tests and
# benchmarks, runs every ctest suite, then rebuilds the importer under
# AddressSanitizer + UBSan and runs its tests (malformed and fuzzed models),
# then builds the Python package in the same build folder (the extension
# links the libraries already built) and runs its pytest suite (python/tests)
# in a virtual environment with nanobind, NumPy and pytest from PyPI.
#
# The last line of output is the summary, alone on its line:
#     tests: N passed, N failed, N skipped
# counting the ctest tests, the ASan importer tests and the Python tests together. "failed" also
# counts, as one each, a suite that did not build, found no tests, or died
# without a test failing (an ASan leak report at exit, a crash). Exit code 0
# only when nothing failed, every suite ran, and (with VDRT_REQUIRE_GPU=1, the
# default here) nothing was skipped.
#
# Environment:
#   VDRT_BUILD_DIR       build folder (default build; relative to the repo root)
#   VDRT_ASAN_BUILD_DIR  sanitizer build folder (default $VDRT_BUILD_DIR-asan)
#   VDRT_VENV_DIR        the Python tests' virtual environment (default $VDRT_BUILD_DIR-venv)
#   VDRT_PYTHON          the Python that creates it (default python3)
#   VDRT_REQUIRE_GPU     1 (default): a skipped test (a GPU test that found no
#                        device) is an error; 0: skips are allowed
#   VK_DRIVER_FILES / VK_ICD_FILENAMES   left alone when set; otherwise the
#                        Vulkan loader is pointed at Mesa lavapipe (see below)
#   VDRT_GPU_POISON      1 (default): every GPU buffer starts as NaNs, so a
#                        kernel that reads entries no one wrote fails its test
#                        instead of passing on zeroed memory; 0: off
set -uo pipefail   # no -e: every suite runs and is counted, and the summary is always printed
cd "$(dirname "$0")/.."
source scripts/common.sh
jobs=$(nproc)

export VDRT_REQUIRE_GPU="${VDRT_REQUIRE_GPU:-1}"
export VDRT_GPU_POISON="${VDRT_GPU_POISON:-1}"

scripts/install-deps.sh || { echo "run-tests: error: scripts/install-deps.sh failed; nothing was built or tested" >&2; exit 1; }

# Software GPU devices, so that the GPU suites run (rather than skip) on a
# machine without a GPU, such as CI: Mesa lavapipe for Vulkan
# (mesa-vulkan-drivers) and PoCL for OpenCL (pocl-opencl-icd), both installed
# by install-deps.sh. Check their loader files now rather than find out from
# skipped tests after a 20-minute build.
lvp_icd="/usr/share/vulkan/icd.d/lvp_icd.$(uname -m).json"
pocl_icd=/etc/OpenCL/vendors/pocl.icd
if [ "$VDRT_REQUIRE_GPU" = 1 ]; then
  for f in "$lvp_icd" "$pocl_icd"; do
    if [ ! -f "$f" ]; then
      echo "run-tests: error: $f not found: the software GPU devices (Mesa lavapipe for Vulkan," >&2
      echo "           PoCL for OpenCL) are not installed, so the GPU suites would be skipped." >&2
      echo "           Install mesa-vulkan-drivers and pocl-opencl-icd (scripts/install-deps.sh does)," >&2
      echo "           or run with VDRT_REQUIRE_GPU=0 to accept skipped GPU tests. Nothing was tested." >&2
      exit 1
    fi
  done
fi
# Vulkan: the loader would find lavapipe by itself in /usr/share/vulkan/icd.d,
# but also any other driver there, and a real GPU's driver would make results
# depend on the machine. Pin it to lavapipe unless the caller chose drivers
# (VK_DRIVER_FILES for loaders >= 1.3.207, VK_ICD_FILENAMES for older ones).
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ -f "$lvp_icd" ]; then
  export VK_DRIVER_FILES="$lvp_icd" VK_ICD_FILENAMES="$lvp_icd"
fi
# OpenCL: the ICD loader (ocl-icd) reads /etc/OpenCL/vendors/*.icd, where PoCL
# registers itself; nothing to set.

abs() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

passed=0 failed=0 skipped=0
suite_lines=() problems=() skipped_names=()

# record SUITE COUNTER_OUTPUT: adds a vdrt_count_* result to the totals.
record() {
  local suite="$1" out="$2" line p=0 f=0 k=0
  while IFS= read -r line; do
    case "$line" in
      "counts "*) read -r _ p f k <<<"$line" ;;
      "skipped "*) skipped_names+=("$suite: ${line#skipped }") ;;
    esac
  done <<<"$out"
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + k))
  suite_lines+=("run-tests: suite $suite: passed $p, failed $f, skipped $k")
  last_total=$((p + f + k)) last_failed=$f
}
# suite_problem SUITE MESSAGE: the suite did not run or died; counts one failure.
suite_problem() {
  failed=$((failed + 1))
  problems+=("$1: $2")
}

# The Python tests' environment first: the main build builds the extension
# with its Python (and its nanobind).
python_suite="python package ($VDRT_BUILD_DIR/python, pytest)"
venv="$(abs "$VDRT_VENV_DIR")"
python_options=(-DVDRT_BUILD_PYTHON=OFF)
if vdrt_python_venv "$venv"; then
  python_options=(-DVDRT_BUILD_PYTHON=ON "-DPython_EXECUTABLE=$venv/bin/python")
  python_ready=1
else
  python_ready=0
fi

# --- 1. Release build, every ctest suite ------------------------------------
ctest_suite="ctest ($VDRT_BUILD_DIR)"
main_built=0
if vdrt_configure "$VDRT_BUILD_DIR" "${vdrt_release_options[@]}" "${python_options[@]}" &&
   cmake --build "$VDRT_BUILD_DIR" -j "$jobs"; then
  main_built=1
  junit="$(abs "$VDRT_BUILD_DIR")/Testing/vdrt-ctest-junit.xml"
  rm -f "$junit"
  ctest --test-dir "$VDRT_BUILD_DIR" --output-on-failure --no-tests=error -j "$jobs" \
        --output-junit "$junit"
  rc=$?
  if [ ! -s "$junit" ]; then
    suite_problem "$ctest_suite" "ctest exited with $rc and wrote no results"
  else
    record "$ctest_suite" "$(vdrt_count_ctest_junit "$junit")"
    if [ "$last_total" -eq 0 ]; then
      suite_problem "$ctest_suite" "ctest found no tests"
    elif [ "$rc" -ne 0 ] && [ "$last_failed" -eq 0 ]; then
      suite_problem "$ctest_suite" "ctest exited with $rc although no test failed"
    fi
  fi
else
  suite_problem "$ctest_suite" "configure or build failed; no test ran"
fi

# --- 2. Importer tests under AddressSanitizer + UBSan ----------------------
asan_suite="importer under ASan+UBSan ($VDRT_ASAN_BUILD_DIR)"
asan_bin="$VDRT_ASAN_BUILD_DIR/tests/vdrt_importer_tests"
if vdrt_configure "$VDRT_ASAN_BUILD_DIR" "${vdrt_asan_options[@]}" &&
   cmake --build "$VDRT_ASAN_BUILD_DIR" -j "$jobs" --target vdrt_importer_tests; then
  if [ ! -x "$asan_bin" ]; then
    suite_problem "$asan_suite" "$asan_bin was not built"
  else
    xml="$(abs "$VDRT_ASAN_BUILD_DIR")/Testing/vdrt-importer-tests.xml"
    log="$(abs "$VDRT_ASAN_BUILD_DIR")/Testing/vdrt-importer-tests.log"
    mkdir -p "$(dirname "$xml")"
    rm -f "$xml" "$log"
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
      "$asan_bin" --gtest_output="xml:$xml" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    if [ -s "$xml" ]; then
      record "$asan_suite" "$(vdrt_count_gtest_xml "$xml")"
      if [ "$last_total" -eq 0 ]; then
        suite_problem "$asan_suite" "no tests found"
      elif [ "$rc" -ne 0 ] && [ "$last_failed" -eq 0 ]; then
        suite_problem "$asan_suite" "exited with $rc although no test failed (sanitizer report at exit? see above)"
      fi
    else
      # Died before writing its results (a sanitizer report aborts): count from the log.
      record "$asan_suite" "$(vdrt_count_gtest_log "$log")"
      if [ "$last_failed" -gt 0 ]; then
        problems+=("$asan_suite: died (exit $rc) before writing its results; see the report above")
      else
        suite_problem "$asan_suite" "died (exit $rc) before writing its results; see the report above"
      fi
    fi
  fi
else
  suite_problem "$asan_suite" "configure or build failed; no test ran"
fi

# --- 3. The Python package (python/tests) ----------------------------------
# Built in the main build folder (target vdrt_python: the extension, linked
# against the libraries step 1 built, and its type stubs) and imported from
# there; `pip install .` builds the same CMake project (pyproject.toml).
if [ "$python_ready" != 1 ]; then
  suite_problem "$python_suite" "no Python environment (see the error above); no test ran"
elif [ "$main_built" != 1 ]; then
  suite_problem "$python_suite" "the main build failed; no test ran"
elif ! cmake --build "$VDRT_BUILD_DIR" -j "$jobs" --target vdrt_python; then
  suite_problem "$python_suite" "the Python extension did not build; no test ran"
else
  xml="$(abs "$VDRT_BUILD_DIR")/Testing/vdrt-python-tests.xml"
  mkdir -p "$(dirname "$xml")"
  rm -f "$xml"
  PYTHONPATH="$(abs "$VDRT_BUILD_DIR")/python" VDRT_CLI="$(abs "$VDRT_BUILD_DIR")/tools/vdrt" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider python/tests --junitxml="$xml"
  rc=$?
  if [ -s "$xml" ]; then
    record "$python_suite" "$(vdrt_count_pytest_xml "$venv/bin/python" "$xml")"
    if [ "$last_total" -eq 0 ]; then
      suite_problem "$python_suite" "pytest found no tests"
    elif [ "$rc" -ne 0 ] && [ "$last_failed" -eq 0 ]; then
      suite_problem "$python_suite" "pytest exited with $rc although no test failed"
    fi
  else
    suite_problem "$python_suite" "pytest exited with $rc and wrote no results"
  fi
fi

# --- Summary ----------------------------------------------------------------
echo
for l in "${suite_lines[@]}"; do echo "$l"; done
status=0
for p in "${problems[@]}"; do echo "run-tests: FAILED: $p"; status=1; done
[ "$failed" -eq 0 ] || status=1
if [ "$skipped" -gt 0 ]; then
  for n in "${skipped_names[@]}"; do echo "run-tests: skipped: $n"; done
  if [ "$VDRT_REQUIRE_GPU" = 1 ]; then
    echo "run-tests: FAILED: $skipped test(s) skipped while VDRT_REQUIRE_GPU=1 (a GPU test that found"
    echo "           no device?); VDRT_REQUIRE_GPU=0 allows skips"
    status=1
  fi
fi
[ "$status" -eq 0 ] && echo "run-tests: all suites ran; everything passed" \
                    || echo "run-tests: FAILED (exit 1)"
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
