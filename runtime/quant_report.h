#pragma once
// How much a quantised model's layers drift from the float model they came
// from, on sample inputs (`vdrt opt --report`). Each quantised layer (a
// vdrt.QMatMul whose output value keeps the name it had in the float model)
// gets two relative errors, ||q - f|| / ||f|| over its output:
//   isolated    the layer run on the float model's own input to it: the error
//               its quantisation alone adds;
//   cumulative  the quantised model's value against the float model's: what
//               has built up by this layer, all earlier layers included.
// The model outputs get the same relative error and the largest |q - f|.
#include <string>
#include <vector>

#include "graph/graph.h"
#include "runtime/session.h"

namespace vdrt {

struct LayerError {
  std::string layer;  // node name
  std::string value;  // output value name
  std::vector<int64_t> dims;
  std::string act_quant;
  double isolated = -1;    // -1 when the float model has no value of that name to start from
  double cumulative = -1;  // -1 when the float model has no value of that name
};

struct OutputError {
  std::string name;
  double rel_l2 = 0, max_abs = 0;
};

struct QuantReport {
  std::vector<LayerError> layers;
  std::vector<OutputError> outputs;
};

// Relative L2 error ||actual - expected|| / ||expected|| in double (0 when
// both are 0, infinity when only expected is). Throws on a shape mismatch.
double relative_l2_error(const Tensor& actual, const Tensor& expected);

// Runs both models on the CPU with `inputs` (named for the float model's inputs).
QuantReport quantization_report(const Graph& float_model, const Graph& quantized, const TensorMap& inputs);

// The report as an aligned text table.
std::string format_report(const QuantReport& report);

}  // namespace vdrt
