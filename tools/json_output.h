#pragma once
// `--json`: machine-readable output of the CLI (schema: docs/cli_json.md).
// A JSON value tree with a writer of its own (no JSON library is a
// dependency): strings are escaped (control characters as \u00XX, invalid
// UTF-8 as U+FFFD), objects keep their insertion order, and numbers are
// finite or null (NaN and infinities are written as null).
//
// In --json mode a command writes exactly one document to stdout
// (print_json); logs and progress stay on stderr.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "backends/backend.h"
#include "graph/graph.h"
#include "graph/shape.h"
#include "runtime/attention_profile.h"
#include "runtime/session.h"

namespace vdrt::cli {

class Json {
 public:
  enum class Type { Null, Bool, Int, Number, String, Array, Object };

  Json() = default;  // null
  Json(std::nullptr_t) {}  // NOLINT
  Json(bool b) : type_(Type::Bool), bool_(b) {}  // NOLINT
  Json(int v) : type_(Type::Int), int_(v) {}  // NOLINT
  Json(long v) : type_(Type::Int), int_(v) {}  // NOLINT
  Json(long long v) : type_(Type::Int), int_(v) {}  // NOLINT
  Json(unsigned v) : type_(Type::Int), int_(v) {}  // NOLINT
  Json(unsigned long v) : type_(Type::Int), int_(static_cast<int64_t>(v)) {}  // NOLINT
  Json(unsigned long long v) : type_(Type::Int), int_(static_cast<int64_t>(v)) {}  // NOLINT
  Json(double v) : type_(Type::Number), number_(v) {}  // NOLINT
  Json(const char* s) : type_(Type::String), string_(s) {}  // NOLINT
  Json(std::string s) : type_(Type::String), string_(std::move(s)) {}  // NOLINT

  static Json array() { Json j; j.type_ = Type::Array; return j; }
  static Json object() { Json j; j.type_ = Type::Object; return j; }
  template <typename T>
  static Json array_of(const std::vector<T>& items) {
    Json j = array();
    for (const T& x : items) j.push(Json(x));
    return j;
  }

  Type type() const { return type_; }
  // Arrays: append. Objects: set a key (replacing an earlier value of that key).
  Json& push(Json v);
  Json& set(const std::string& key, Json v);
  // Objects: the value of `key`, created as null when absent.
  Json& operator[](const std::string& key);

  // Compact when indent < 0, else pretty-printed with `indent` spaces.
  std::string dump(int indent = 2) const;

 private:
  void write(std::string& out, int indent, int depth) const;
  Type type_ = Type::Null;
  bool bool_ = false;
  int64_t int_ = 0;
  double number_ = 0;
  std::string string_;
  std::vector<Json> items_;
  std::vector<std::pair<std::string, Json>> members_;
};

// `s` as a JSON string literal, quotes included.
std::string json_quote(const std::string& s);

// Adds `--json` to a subcommand.
void add_json_flag(CLI::App& sub, bool& json);
// Writes `doc` and a newline to stdout.
void print_json(const Json& doc);

// Pieces shared by several commands' documents.
Json shape_json(const Shape& s);  // [1, "past_len", null] or null (unknown rank)
Json dims_json(const std::vector<int64_t>& dims);
Json device_json(const DeviceInfo& d);
// The session's device: its backend instance's name (thread count included)
// with the memory and features `vdrt devices` lists for that device.
Json session_device_json(Session& session);
Json placement_json(const Session& session);  // {"nodes": {"cpu": 412, ...}, "host_uploads": N, "cross_copies": N}

// Whole documents.
Json devices_json();
// `graph` after shape inference (shape_error: why it stopped, or empty).
Json inspect_json(const std::string& model_path, const Graph& graph, const std::string& shape_error, bool nodes);
// `expected_dir`: the folder with output_K.pb (none there: nothing compared).
// Returns the exit code (3 when an output differs).
int print_run_json(const std::string& model_path, Session& session, const TensorMap& outputs,
                   const std::string& expected_dir, double rtol, double atol, const std::vector<double>& times_ms);
Json bench_json(const std::string& model_path, Session& session, std::vector<double> times_ms, int warmup);
Json passes_json();
// `compare`: the --compare pipeline ("" when none) and its per-chunk errors.
Json attention_profile_json(const AttentionProfile& p, const std::string& compare, const std::string& cache,
                            const std::vector<double>& compare_errors);

}  // namespace vdrt::cli
