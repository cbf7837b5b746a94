#include "importer/tensor_file.h"

#include <filesystem>
#include <map>

#include "importer/onnx_proto.h"
#include "importer/proto_io.h"
#include "importer/tensor_proto.h"

namespace vdrt {

namespace fs = std::filesystem;

NamedTensor load_tensor_pb(const std::string& path) {
  std::string bytes = onnx_io::read_file_bytes(path);
  try {
    onnx::TensorProto proto;
    VDRT_CHECK(onnx_io::parse_proto(bytes, proto), "not a valid TensorProto file (truncated or corrupt?)");
    std::string dir = fs::path(path).parent_path().string();
    onnx_io::TensorReadContext ctx{dir.empty() ? "." : dir, true};
    std::string what = proto.name().empty() ? "the tensor" : "tensor '" + proto.name() + "'";
    return {proto.name(), onnx_io::tensor_from_proto(proto, what, ctx)};
  } catch (const Error& e) {
    throw e.with_site({path});
  }
}

void save_tensor_pb(const Tensor& tensor, const std::string& name, const std::string& path) {
  VDRT_CHECK(tensor.defined(), "cannot save an undefined tensor", {path});
  onnx::TensorProto proto;
  onnx_io::tensor_to_proto(tensor, name, &proto);
  onnx_io::write_file_bytes(path, onnx_io::serialize_proto(proto, path));
}

std::vector<NamedTensor> load_test_set(const std::string& dir, const std::string& prefix) {
  std::error_code ec;
  VDRT_CHECK(fs::is_directory(dir, ec), "not a directory", {dir});
  // input_0.pb, input_1.pb, ..., input_10.pb: order by the number, not the name.
  std::map<uint64_t, fs::path> files;
  const std::string head = prefix + "_";
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.size() <= head.size() + 3 || name.compare(0, head.size(), head) != 0 ||
        name.compare(name.size() - 3, 3, ".pb") != 0)
      continue;
    std::string digits = name.substr(head.size(), name.size() - head.size() - 3);
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    files[std::stoull(digits)] = entry.path();
  }
  VDRT_CHECK(!ec, "cannot list the directory: " + ec.message(), {dir});
  std::vector<NamedTensor> out;
  for (const auto& [k, path] : files) {
    VDRT_CHECK(k == out.size(), "missing " + head + std::to_string(out.size()) + ".pb", {dir});
    out.push_back(load_tensor_pb(path.string()));
  }
  return out;
}

}  // namespace vdrt
