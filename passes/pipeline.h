#pragma once
// Pipelines: which passes run, in which order, with which options. Written
// in TOML as an array of [[pass]] tables; keys other than `name` and
// `enabled` are the pass's options:
//
//   [[pass]]
//   name = "fold-constants"
//   max_bytes = 1048576
//
//   [[pass]]
//   name = "fuse-attention"
//   enabled = false          # keeps the entry, skips the pass
#include <string>
#include <vector>

#include "passes/pass.h"

namespace vdrt {

struct PipelineStep {
  std::string pass;
  PassOptions options;
  bool enabled = true;
};

struct Pipeline {
  std::vector<PipelineStep> steps;
  std::string source;  // file name or "<default>", for messages
};

// Throws vdrt::Error naming the file and the offending entry on syntax
// errors, unknown keys or values of the wrong type. Pass names and options
// are checked against the registry when a PassManager is built from it.
Pipeline parse_pipeline(const std::string& toml_text, const std::string& label);
Pipeline load_pipeline(const std::string& path);

// The pipeline `vdrt opt` runs without --pipeline (passes/default_pipeline.toml, embedded).
const std::string& default_pipeline_toml();
Pipeline default_pipeline();

}  // namespace vdrt
