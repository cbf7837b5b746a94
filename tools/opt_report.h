#pragma once
// `vdrt opt --report`: the per-layer error of a quantised model against the
// float model it was made from (runtime/quant_report.h), on sample inputs.
#include <string>

#include "graph/graph.h"
#include "passes/pass.h"

namespace vdrt::cli {

// Loads the float model from `model_path` again, finds sample inputs (the
// `inputs_dir` folder, else test_data_set_0 beside the model: MODEL_DIR/
// <stem>/test_data_set_0 or MODEL_DIR/test_data_set_0), prints the report
// and returns the exit code.
int print_quantization_report(const std::string& model_path, const Graph& optimized, const std::string& inputs_dir);

// `vdrt opt --json`: one document with the node counts, the ops, the
// explanations and (with `report`) the quantisation report; returns the exit code.
int print_opt_json(const std::string& model_path, const std::string& output, size_t nodes_before, const Graph& optimized,
                   const std::vector<Explanation>& explanations, bool report, const std::string& inputs_dir);

}  // namespace vdrt::cli
