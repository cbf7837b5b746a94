#pragma once
// Reading files and parsing/serialising protobuf messages without trusting
// the input: sizes are checked before anything is allocated for them, and a
// failed parse is reported, never ignored. Internal to importer/.
#include <string>

namespace google::protobuf {
class MessageLite;
}

namespace vdrt::onnx_io {

// Protobuf cannot address messages of 2 GiB or more.
inline constexpr size_t kMaxProtoBytes = 0x7fffffff;

// Size of the regular file at `path`. Throws vdrt::Error naming `path` if it
// is missing, not a regular file, inaccessible or larger than `max_bytes`.
size_t checked_file_size(const std::string& path, size_t max_bytes = kMaxProtoBytes);
// Whole file as bytes, after the checks above.
std::string read_file_bytes(const std::string& path, size_t max_bytes = kMaxProtoBytes);
// Writes `bytes` to `path`, replacing it; throws vdrt::Error on failure.
void write_file_bytes(const std::string& path, const std::string& bytes);

// True when `bytes` is one complete, well-formed encoding of `message`.
bool parse_proto(const std::string& bytes, google::protobuf::MessageLite& message);
// The same for a file, parsed straight from disk so that a large model is not
// held twice (bytes and message) in memory. Throws like checked_file_size.
bool parse_proto_file(const std::string& path, google::protobuf::MessageLite& message);
// Throws vdrt::Error (naming `what`) when the message is too large to encode.
std::string serialize_proto(const google::protobuf::MessageLite& message, const std::string& what);

}  // namespace vdrt::onnx_io
