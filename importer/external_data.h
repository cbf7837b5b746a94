#pragma once
// Tensor data stored outside the .onnx file. A model may only point at files
// inside its own folder: a location that is absolute, climbs with "..", or
// reaches out through a symlink is refused, so that opening a downloaded
// model can never read arbitrary files. Internal to importer/.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace vdrt::onnx_io {

struct ExternalDataRef {
  std::string location;            // relative to the model's folder
  uint64_t offset = 0;
  std::optional<uint64_t> length;  // absent: as many bytes as the tensor needs
};

// Parses the decimal "offset"/"length" strings of TensorProto.external_data;
// `what` names the tensor in errors.
uint64_t parse_external_number(const std::string& key, const std::string& text, const std::string& what);

// The file `location` names inside `base_dir`, symlinks resolved. Throws
// "external data path '<p>' leaves the model folder" when it is not inside.
std::filesystem::path resolve_external_path(const std::string& base_dir, const std::string& location);

// Checks that bytes [offset, offset + length) exist in `file`; the message
// names `location` as the model wrote it.
void check_external_range(const std::filesystem::path& file, const std::string& location, uint64_t offset,
                          uint64_t length);

// Reads exactly `length` bytes at `offset` into `dst` (range already checked).
void read_external_bytes(const std::filesystem::path& file, const std::string& location, uint64_t offset,
                         uint64_t length, void* dst);

}  // namespace vdrt::onnx_io
