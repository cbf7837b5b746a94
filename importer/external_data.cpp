#include "importer/external_data.h"

#include <charconv>
#include <fstream>
#include <system_error>

#include "graph/error.h"

namespace vdrt::onnx_io {

namespace fs = std::filesystem;

uint64_t parse_external_number(const std::string& key, const std::string& text, const std::string& what) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  VDRT_CHECK(ec == std::errc() && end == text.data() + text.size() && !text.empty(),
             "external data " + key + " '" + text + "' of " + what + " is not a non-negative integer");
  return v;
}

namespace {

[[noreturn]] void leaves_folder(const std::string& location) {
  throw Error("external data path '" + location + "' leaves the model folder");
}

// Component-wise prefix test: "/a/b" contains "/a/b/c" but not "/a/bc".
bool is_inside(const fs::path& dir, const fs::path& p) {
  auto d = dir.begin(), e = p.begin();
  for (; d != dir.end(); ++d, ++e) {
    if (d->empty() && std::next(d) == dir.end()) break;  // trailing separator of `dir`
    if (e == p.end() || *d != *e) return false;
  }
  return true;
}

}  // namespace

fs::path resolve_external_path(const std::string& base_dir, const std::string& location) {
  VDRT_CHECK(!location.empty(), "external data location is empty");
  if (location.find('\0') != std::string::npos) leaves_folder(location.substr(0, location.find('\0')));
  fs::path rel(location);
  if (rel.is_absolute() || rel.has_root_name() || rel.has_root_directory()) leaves_folder(location);
  for (const fs::path& part : rel)
    if (part == "..") leaves_folder(location);

  std::error_code ec;
  fs::path base = fs::weakly_canonical(fs::absolute(base_dir.empty() ? fs::path(".") : fs::path(base_dir)), ec);
  VDRT_CHECK(!ec, "cannot resolve the model folder '" + base_dir + "': " + ec.message());
  // Symlinks inside the folder are resolved here, so a link pointing outside
  // is caught by the prefix test below even though the name itself is tame.
  fs::path target = fs::weakly_canonical(base / rel, ec);
  VDRT_CHECK(!ec, "cannot resolve external data path '" + location + "': " + ec.message());
  if (!is_inside(base, target)) leaves_folder(location);
  return target;
}

void check_external_range(const fs::path& file, const std::string& location, uint64_t offset, uint64_t length) {
  std::error_code ec;
  fs::file_status st = fs::status(file, ec);
  VDRT_CHECK(st.type() != fs::file_type::not_found, "external data file '" + location + "' does not exist");
  VDRT_CHECK(!ec, "cannot access external data file '" + location + "': " + ec.message());
  VDRT_CHECK(fs::is_regular_file(st), "external data file '" + location + "' is not a regular file");
  uintmax_t size = fs::file_size(file, ec);
  VDRT_CHECK(!ec, "cannot determine the size of external data file '" + location + "': " + ec.message());
  bool fits = offset <= size && length <= size - offset;
  VDRT_CHECK(fits, "external data file '" + location + "' is shorter than offset + length: it has " +
                       std::to_string(size) + " bytes, the tensor needs bytes " + std::to_string(offset) + ".." +
                       std::to_string(static_cast<unsigned long long>(offset) + length));
}

void read_external_bytes(const fs::path& file, const std::string& location, uint64_t offset, uint64_t length,
                         void* dst) {
  std::ifstream in(file, std::ios::binary);
  VDRT_CHECK(in.good(), "cannot open external data file '" + location + "'");
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(static_cast<char*>(dst), static_cast<std::streamsize>(length));
  VDRT_CHECK(in.good() || (length == 0 && !in.bad()),
             "reading " + std::to_string(length) + " bytes at offset " + std::to_string(offset) +
                 " of external data file '" + location + "' failed");
}

}  // namespace vdrt::onnx_io
