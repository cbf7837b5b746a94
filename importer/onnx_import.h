#pragma once
// ONNX ModelProto -> Graph. Accepts IR versions 7..11 and ai.onnx opsets
// 13..23 (older opsets load too, for the conformance tests, with a warning).
// Initializers become constant Values; external data is read from files that
// must stay inside the model's folder. Errors are vdrt::Error naming the file
// (and node/op where one is involved).
#include <memory>
#include <string>

#include "graph/graph.h"

namespace vdrt {

struct ImportOptions {
  bool load_external_data = true;
};

std::unique_ptr<Graph> load_onnx(const std::string& path, const ImportOptions& options = {});
// `base_dir` resolves external data; `label` names the source in errors.
std::unique_ptr<Graph> load_onnx_bytes(const std::string& bytes, const std::string& base_dir,
                                       const std::string& label, const ImportOptions& options = {});

}  // namespace vdrt
