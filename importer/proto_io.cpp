#include "importer/proto_io.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/message_lite.h>

#include <filesystem>
#include <fstream>
#include <system_error>

#include "graph/error.h"

namespace vdrt::onnx_io {

namespace fs = std::filesystem;

size_t checked_file_size(const std::string& path, size_t max_bytes) {
  std::error_code ec;
  fs::file_status st = fs::status(path, ec);
  VDRT_CHECK(st.type() != fs::file_type::not_found, "file does not exist", {path});
  VDRT_CHECK(!ec, "cannot access the file: " + ec.message(), {path});
  VDRT_CHECK(fs::is_regular_file(st), "not a regular file", {path});
  uintmax_t size = fs::file_size(path, ec);
  VDRT_CHECK(!ec, "cannot determine the file size: " + ec.message(), {path});
  VDRT_CHECK(size <= max_bytes, "file is " + std::to_string(size) + " bytes; at most " + std::to_string(max_bytes) +
                                    " can be read as one protobuf message (keep weights as external data)",
             {path});
  return static_cast<size_t>(size);
}

std::string read_file_bytes(const std::string& path, size_t max_bytes) {
  size_t size = checked_file_size(path, max_bytes);
  std::ifstream in(path, std::ios::binary);
  VDRT_CHECK(in.good(), "cannot open the file for reading", {path});
  std::string bytes(size, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  VDRT_CHECK(static_cast<size_t>(in.gcount()) == size, "could not read the whole file", {path});
  return bytes;
}

void write_file_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  VDRT_CHECK(out.good(), "cannot open the file for writing", {path});
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  VDRT_CHECK(out.good(), "writing the file failed (disk full?)", {path});
}

namespace {
bool parse_from(google::protobuf::io::ZeroCopyInputStream& raw, google::protobuf::MessageLite& message) {
  google::protobuf::io::CodedInputStream in(&raw);
  // The default limit would already be INT_MAX in protobuf 3.21, but older
  // releases used 64 MiB; say what we need rather than rely on the default.
  in.SetTotalBytesLimit(static_cast<int>(kMaxProtoBytes));
  return message.ParseFromCodedStream(&in) && in.ConsumedEntireMessage();
}
}  // namespace

bool parse_proto(const std::string& bytes, google::protobuf::MessageLite& message) {
  if (bytes.size() > kMaxProtoBytes) return false;
  google::protobuf::io::ArrayInputStream raw(bytes.data(), static_cast<int>(bytes.size()));
  return parse_from(raw, message);
}

bool parse_proto_file(const std::string& path, google::protobuf::MessageLite& message) {
  checked_file_size(path);
  std::ifstream in(path, std::ios::binary);
  VDRT_CHECK(in.good(), "cannot open the file for reading", {path});
  google::protobuf::io::IstreamInputStream raw(&in);
  bool ok = parse_from(raw, message);
  VDRT_CHECK(!in.bad(), "reading the file failed", {path});
  return ok;
}

std::string serialize_proto(const google::protobuf::MessageLite& message, const std::string& what) {
  size_t size = message.ByteSizeLong();
  VDRT_CHECK(size <= kMaxProtoBytes, "the encoded model would be " + std::to_string(size) +
                                         " bytes; protobuf allows less than 2 GiB (write weights as external data)",
             {what});
  std::string out;
  VDRT_CHECK(message.SerializeToString(&out), "protobuf serialisation failed", {what});
  return out;
}

}  // namespace vdrt::onnx_io
