# Sourced by scripts/demo.sh, scripts/run-tests.sh and
# scripts/check-newcomer-path.sh (not a command of its own). Run from the repo
# root.
#
# One place for the build folder and the CMake options, so that the demo and
# the test command configure the same folder identically. CMake caches every
# -D option: an option passed once (say -DVDRT_BUILD_TESTS=OFF) stays in
# CMakeCache.txt until someone passes another value, and a later
# `cmake -S . -B build` without it silently keeps it (issue 15). So every
# option the scripts rely on is named here, every time.

# The build folder, relative to the repo root or absolute. Default: build.
VDRT_BUILD_DIR="${VDRT_BUILD_DIR:-build}"
# The AddressSanitizer + UBSan build of the importer tests. Default: build-asan
# (or VDRT_BUILD_DIR with -asan appended).
VDRT_ASAN_BUILD_DIR="${VDRT_ASAN_BUILD_DIR:-${VDRT_BUILD_DIR%/}-asan}"
# The Python virtual environment of the Python package's tests (nanobind,
# NumPy, pytest from PyPI). Default: build-venv (VDRT_BUILD_DIR with -venv).
VDRT_VENV_DIR="${VDRT_VENV_DIR:-${VDRT_BUILD_DIR%/}-venv}"

# Options of the main build. The demo uses this same folder and these same
# options (and builds only the `vdrt` target), so that the test command that
# follows it reuses the libraries already compiled instead of compiling them a
# second time in a folder of its own.
vdrt_release_options=(
  -G Ninja
  -DCMAKE_BUILD_TYPE=Release
  -DVDRT_BUILD_TESTS=ON
  -DVDRT_BUILD_BENCH=ON
  -DVDRT_SANITIZE=OFF
  -DVDRT_WITH_VULKAN=ON   # the Vulkan backend (a tree without it only warns the variable is unused)
  -DVDRT_WITH_OPENCL=ON   # the OpenCL backend
  -DVDRT_BUILD_PYTHON=OFF # the Python package; run-tests.sh turns it on with its venv's Python
)
# Options of the sanitizer build (importer tests only; no benchmarks).
vdrt_asan_options=(
  -G Ninja
  -DCMAKE_BUILD_TYPE=RelWithDebInfo
  -DVDRT_BUILD_TESTS=ON
  -DVDRT_BUILD_BENCH=OFF
  -DVDRT_SANITIZE=ON
  -DVDRT_WITH_VULKAN=ON
  -DVDRT_WITH_OPENCL=ON
  -DVDRT_BUILD_PYTHON=OFF
)

# vdrt_configure DIR OPTION...: configures DIR. Refuses, with a message, a
# folder configured earlier with another generator (CMake cannot switch one).
vdrt_configure() {
  local dir="$1"
  shift
  local cache="$dir/CMakeCache.txt"
  if [ -f "$cache" ]; then
    local gen
    gen=$(sed -n 's/^CMAKE_GENERATOR:INTERNAL=//p' "$cache")
    if [ -n "$gen" ] && [ "$gen" != "Ninja" ]; then
      echo "error: $dir was configured with the generator '$gen'; the scripts use Ninja." >&2
      echo "       Remove $dir, or pick another folder with VDRT_BUILD_DIR=..." >&2
      return 1
    fi
  fi
  cmake -S . -B "$dir" "$@"
}

# The Python packages the Python tests and the extension's build need (PyPI).
vdrt_python_packages=("nanobind>=2.0" "numpy>=1.21" "pytest>=7")

# vdrt_python_venv DIR: creates (once) a virtual environment in DIR with
# vdrt_python_packages; prints nothing on success. Returns non-zero with a
# message when python3 -m venv or pip fails (no network to PyPI?).
vdrt_python_venv() {
  local dir="$1" python="${VDRT_PYTHON:-python3}"
  if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c "import nanobind, numpy, pytest" 2>/dev/null; then
    return 0
  fi
  "$python" -m venv "$dir" || { echo "error: $python -m venv $dir failed (install python3-venv)" >&2; return 1; }
  "$dir/bin/python" -m pip install -q --disable-pip-version-check "${vdrt_python_packages[@]}" ||
    { echo "error: pip could not install ${vdrt_python_packages[*]} into $dir (no access to PyPI?)" >&2; return 1; }
}

# Test counting. Each vdrt_count_* prints one line per test that failed or was
# skipped ("failed NAME", "skipped NAME"), then "counts PASSED FAILED SKIPPED".
# awk only: no python on a fresh Debian machine.

# ctest --output-junit FILE. A test ctest did not run counts as skipped only
# when it was skipped on purpose (GTEST_SKIP, seen through gtest_discover_tests'
# SKIP_REGULAR_EXPRESSION, or a SKIP_RETURN_CODE); one it could not run
# (executable missing, fixture failed) counts as failed, as ctest itself counts
# it. A DISABLED_ test (an opt-in GPU timing run, never part of the suite) is
# not counted at all.
vdrt_count_ctest_junit() {
  awk '
    function flush() {
      if (!open) return
      if (status == "run") p++
      else if (status == "disabled") { }
      else if (status == "notrun" && why ~ /^SKIP_/) { k++; print "skipped " name }
      else { f++; print "failed " name }
      open = 0
    }
    /<testcase[ \t]/ {
      flush(); open = 1; status = ""; why = ""; name = "?"
      if (match($0, /status="[^"]*"/)) status = substr($0, RSTART + 8, RLENGTH - 9)
      if (match($0, /name="[^"]*"/)) name = substr($0, RSTART + 6, RLENGTH - 7)
    }
    /^[ \t]*<skipped[ \t]/ && open {
      if (match($0, /message="[^"]*"/)) why = substr($0, RSTART + 9, RLENGTH - 10)
    }
    /<\/testsuite>/ { flush() }
    END { flush(); printf "counts %d %d %d\n", p, f, k }
  ' "$1"
}

# GoogleTest --gtest_output=xml:FILE. GTEST_SKIP gives result="skipped", a
# DISABLED_ test status="notrun"; both count as skipped.
vdrt_count_gtest_xml() {
  awk '
    function flush() {
      if (!open) return
      if (fail) { f++; print "failed " name }
      else if (skip) { k++; print "skipped " name }
      else p++
      open = 0
    }
    /<testcase[ \t]/ {
      flush(); open = 1; fail = 0; skip = 0; name = "?"; suite = ""
      if (match($0, /classname="[^"]*"/)) suite = substr($0, RSTART + 11, RLENGTH - 12)
      if (match($0, / name="[^"]*"/)) name = suite "." substr($0, RSTART + 7, RLENGTH - 8)
      if ($0 ~ /status="notrun"/ || $0 ~ /result="(skipped|suppressed)"/) skip = 1
    }
    /^[ \t]*<failure[ \t]/ && open { fail = 1 }
    /<\/testsuite>/ { flush() }
    END { flush(); printf "counts %d %d %d\n", p, f, k }
  ' "$1"
}

# pytest --junitxml=FILE (one line of XML, so read by Python, which the
# Python suite has anyway): an error or failure counts as failed.
vdrt_count_pytest_xml() {
  "$1" - "$2" <<'PY'
import sys, xml.etree.ElementTree as ET
p = f = k = 0
for case in ET.parse(sys.argv[1]).iter("testcase"):
    name = case.get("classname", "") + "." + case.get("name", "?")
    if case.find("failure") is not None or case.find("error") is not None:
        f += 1; print("failed " + name)
    elif case.find("skipped") is not None:
        k += 1; print("skipped " + name)
    else:
        p += 1
print(f"counts {p} {f} {k}")
PY
}

# A GoogleTest console log, for a binary that died before writing its XML
# (an ASan report aborts the process): a test that started and never finished
# counts as failed.
vdrt_count_gtest_log() {
  awk '
    /^\[ RUN      \] /                  { running[$4] = 1 }
    /^\[       OK \] /                  { p++; delete running[$4] }
    /^\[  SKIPPED \] .*\([0-9]+ ms\)$/  { k++; delete running[$4]; print "skipped " $4 }
    /^\[  FAILED  \] .*\([0-9]+ ms\)$/  { f++; delete running[$4]; print "failed " $4 }
    END {
      for (t in running) { f++; print "failed " t " (did not finish)" }
      printf "counts %d %d %d\n", p, f, k
    }
  ' "$1"
}
