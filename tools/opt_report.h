#pragma once
// `vdrt opt --report`: the per-layer error of a quantised model against the
// float model it was made from (runtime/quant_report.h), on sample inputs.
#include <string>

#include "graph/graph.h"

namespace vdrt::cli {

// Loads the float model from `model_path` again, finds sample inputs (the
// `inputs_dir` folder, else test_data_set_0 beside the model: MODEL_DIR/
// <stem>/test_data_set_0 or MODEL_DIR/test_data_set_0), prints the report
// and returns the exit code.
int print_quantization_report(const std::string& model_path, const Graph& optimized, const std::string& inputs_dir);

}  // namespace vdrt::cli
