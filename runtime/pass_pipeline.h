#pragma once
// Running a compiler-pass pipeline (passes/) over a graph the runtime is
// about to execute: SessionOptions::pass_pipeline, `vdrt generate --pipeline`.
// The runtime supplies what passes/ may not know: a host evaluator for
// constant folding, which runs the CPU kernels.
#include <functional>
#include <string>

#include "graph/graph.h"
#include "passes/pass.h"

namespace vdrt {

// Evaluates a node on host tensors with the CPU kernels (fold-constants' callback).
NodeEvaluator host_node_evaluator();

// Whether a device runs a node itself (PassContext::device_runs), e.g.
// [&](const Node& n) { return backend.supports(n); }; empty: no device known.
using DeviceRuns = std::function<bool(const Node&)>;

// Loads the TOML pipeline at `path` and runs it over `graph`; errors name the
// file. Each pass logs one line (spdlog, debug level); returns the context
// with the passes' explanations. `device_runs` names the device the graph is
// optimised for, to passes that ask (fuse-gemm-epilogue).
PassContext run_pass_pipeline_file(Graph& graph, const std::string& path, const DeviceRuns& device_runs = {});
// The default pipeline as TOML (what `vdrt opt` runs), for callers that
// append their own passes to it.
const std::string& default_pass_pipeline_toml();
// The same for pipeline TOML text; `label` names it in messages.
PassContext run_pass_pipeline_text(Graph& graph, const std::string& toml, const std::string& label,
                                   const DeviceRuns& device_runs = {});

}  // namespace vdrt
