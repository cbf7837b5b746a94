#pragma once
// The options every `vdrt` subcommand shares, declared once so that names,
// short forms, defaults and checks are the same everywhere:
//   device      -d,--device     auto | cpu | <compiled-in backend>[:N]
//   threads     -t,--threads    0 (all cores) .. 4x the hardware threads
//   precision   --precision     fp32 | fp16
//   pipeline    --pipeline FILE | --passes a,b | -O0 (raw graph); default:
//               the default pass pipeline (passes/default_pipeline.toml)
// Values are checked before any work starts; a bad one throws UsageError,
// which main() turns into exit code 2 (kExitUsage).
#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>

#include "graph/graph.h"
#include "runtime/session.h"

namespace vdrt::cli {

// A bad command-line value found after parsing (exit code 2).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct DeviceOptions {
  std::string device = "auto";
  int threads = 0;
  std::string precision = "fp32";
};

struct PipelineOptions {
  std::string pipeline;  // --pipeline FILE
  std::string passes;    // --passes a,b
  int level = 1;         // -O0: the raw graph; -O1 (default): the default pipeline
};

// The help text of -d, listing the backends compiled into this binary.
std::string device_help();
void add_device_options(CLI::App& sub, DeviceOptions& o, bool with_precision = true);
void add_pipeline_options(CLI::App& sub, PipelineOptions& o, const std::string& what = "the model");

// Throws UsageError for a device that is not compiled in or an index out of
// range, or threads outside 0..4x the hardware threads.
void validate(const DeviceOptions& o);
// Checks the pipeline file or pass list (every pass and option known) and
// their combination; throws UsageError naming the file and entry.
void validate(const PipelineOptions& o);

// The pipeline as TOML text ("" for -O0) and a label for messages.
std::string pipeline_toml(const PipelineOptions& o, std::string* label = nullptr);
// Points a session at the selected pipeline: the --pipeline file, or the
// TOML text of --passes or the default pipeline; nothing for -O0.
void set_session_pipeline(SessionOptions& so, const PipelineOptions& o);
// Throws UsageError when a pass would find nothing to rewrite because the
// pass that makes its input is missing (sparsify-attention without fused attention).
void check_pass_preconditions(const Graph& graph, const std::string& toml, const std::string& label);
// Checks the selected pipeline against `graph` and hands it to the session
// options: the Session runs it at load, for its device (nothing for -O0).
void pipeline_at_load(const Graph& graph, const PipelineOptions& o, SessionOptions& so);

SessionOptions session_options(const DeviceOptions& o);

// Runs `check`; a vdrt::Error it throws becomes a UsageError with `what` in front.
template <typename F>
void usage_check(const std::string& what, F&& check) {
  try {
    check();
  } catch (const UsageError&) {
    throw;
  } catch (const std::exception& e) {
    throw UsageError(what.empty() ? std::string(e.what()) : what + ": " + e.what());
  }
}

// Range checks of numeric options (message: "--runs must be >= 1, got 0").
void require_at_least(const char* flag, double value, double min);
void require_positive(const char* flag, double value);

}  // namespace vdrt::cli
