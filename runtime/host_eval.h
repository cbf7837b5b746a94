#pragma once
// Runs one node on host tensors with the CPU kernels. The session uses it to
// compute small shape tensors while inferring shapes, and passes use it (as a
// callback) to fold constants without knowing any device.
#include <vector>

#include "graph/graph.h"
#include "graph/op_registry.h"

namespace vdrt {

// Whether the CPU has a kernel for the node's op.
bool host_can_evaluate(const Node& node);

// `inputs[i]` may be nullptr for absent optional inputs. Output shapes come
// from the op's shape function. Throws vdrt::Error on failure.
std::vector<Tensor> evaluate_on_host(const Node& node, int64_t opset, const std::vector<const Tensor*>& inputs);

}  // namespace vdrt
