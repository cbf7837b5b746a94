#include "tools/json_output.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "backends/registry.h"
#include "graph/op_registry.h"
#include "passes/pass_registry.h"
#include "importer/tensor_file.h"
#include "runtime/compare.h"

namespace vdrt::cli {

Json& Json::push(Json v) {
  if (type_ == Type::Null) type_ = Type::Array;
  items_.push_back(std::move(v));
  return items_.back();
}

Json& Json::set(const std::string& key, Json v) {
  Json& slot = (*this)[key];
  slot = std::move(v);
  return slot;
}

Json& Json::operator[](const std::string& key) {
  if (type_ == Type::Null) type_ = Type::Object;
  for (auto& [k, v] : members_)
    if (k == key) return v;
  members_.emplace_back(key, Json());
  return members_.back().second;
}

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if invalid.
size_t utf8_length(const std::string& s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
  if (c >= 0xF5) n = 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  const auto c1 = static_cast<unsigned char>(s[i + 1]);
  if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0) || (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90))
    return 0;  // overlong, surrogate or beyond U+10FFFF
  return n;
}

std::string number_str(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  // Shortest form that reads back as the same double.
  for (int p = 1; p < 17; ++p) {
    char shorter[32];
    std::snprintf(shorter, sizeof shorter, "%.*g", p, v);
    if (std::strtod(shorter, nullptr) == v) {
      std::snprintf(buf, sizeof buf, "%s", shorter);
      break;
    }
  }
  return buf;
}

}  // namespace

std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = utf8_length(s, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s, i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  return out + "\"";
}

void Json::write(std::string& out, int indent, int depth) const {
  auto newline = [&](int d) {
    if (indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(indent * d), ' ');
  };
  switch (type_) {
    case Type::Null: out += "null"; break;
    case Type::Bool: out += bool_ ? "true" : "false"; break;
    case Type::Int: out += std::to_string(int_); break;
    case Type::Number: out += number_str(number_); break;
    case Type::String: out += json_quote(string_); break;
    case Type::Array:
      if (items_.empty()) { out += "[]"; break; }
      if (std::all_of(items_.begin(), items_.end(), [](const Json& j) { return j.type_ != Type::Array && j.type_ != Type::Object; })) {
        // Scalars (a shape, a list of figures) stay on one line.
        out += '[';
        for (size_t i = 0; i < items_.size(); ++i) {
          if (i) out += indent < 0 ? "," : ", ";
          items_[i].write(out, indent, depth + 1);
        }
        out += ']';
        break;
      }
      out += '[';
      for (size_t i = 0; i < items_.size(); ++i) {
        if (i) out += ',';
        newline(depth + 1);
        items_[i].write(out, indent, depth + 1);
      }
      newline(depth);
      out += ']';
      break;
    case Type::Object:
      if (members_.empty()) { out += "{}"; break; }
      out += '{';
      for (size_t i = 0; i < members_.size(); ++i) {
        if (i) out += ',';
        newline(depth + 1);
        out += json_quote(members_[i].first);
        out += indent < 0 ? ":" : ": ";
        members_[i].second.write(out, indent, depth + 1);
      }
      newline(depth);
      out += '}';
      break;
  }
}

std::string Json::dump(int indent) const {
  std::string out;
  write(out, indent, 0);
  return out;
}

void add_json_flag(CLI::App& sub, bool& json) {
  sub.add_flag("--json", json, "Write one JSON document to stdout instead of text (schema: docs/cli_json.md)");
}

void print_json(const Json& doc) {
  std::string text = doc.dump(2);
  text += '\n';
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

Json shape_json(const Shape& s) {
  if (!s.rank_known()) return nullptr;
  Json a = Json::array();
  for (const Dim& d : s.dims()) a.push(d.known() ? Json(d.value()) : d.is_symbol() ? Json(d.name()) : Json());
  return a;
}

Json dims_json(const std::vector<int64_t>& dims) { return Json::array_of(dims); }

Json device_json(const DeviceInfo& d) {
  Json j = Json::object();
  j["id"] = d.backend + ":" + std::to_string(d.index);
  j["backend"] = d.backend;
  j["index"] = d.index;
  j["kind"] = d.kind;
  j["name"] = d.name;
  j["memory_bytes"] = d.memory_bytes;
  j["details"] = d.details;
  return j;
}

Json placement_json(const Session& session) {
  std::map<std::string, int> count;
  for (const std::string& p : session.last_placement()) ++count[p];
  Json j = Json::object();
  Json& nodes = j["nodes"] = Json::object();
  for (const auto& [where, n] : count) nodes[where] = n;
  j["host_uploads"] = session.last_stats().host_uploads;
  j["cross_copies"] = session.last_stats().cross_copies;
  return j;
}

Json devices_json() {
  Json doc = Json::object();
  Json& list = doc["devices"] = Json::array();
  for (const DeviceInfo& d : BackendRegistry::instance().devices()) list.push(device_json(d));
  doc["unavailable"] = Json::array_of(BackendRegistry::instance().unavailable());
  return doc;
}

namespace {

Json value_json(const Value* v) {
  Json j = Json::object();
  j["name"] = v->name();
  j["dtype"] = dtype_name(v->dtype());
  j["shape"] = shape_json(v->shape());
  return j;
}

}  // namespace

Json inspect_json(const std::string& model_path, const Graph& g, const std::string& shape_error, bool nodes) {
  Json doc = Json::object();
  doc["model"] = model_path;
  doc["producer"] = g.producer_name;
  doc["producer_version"] = g.producer_version;
  doc["ir_version"] = g.ir_version;
  Json& opsets = doc["opsets"] = Json::object();
  for (const auto& o : g.opsets) opsets[o.domain.empty() ? "ai.onnx" : o.domain] = o.version;
  Json& meta = doc["metadata"] = Json::object();
  for (const auto& [k, v] : g.metadata) meta[k] = v;
  Json& inputs = doc["inputs"] = Json::array();
  for (const Value* v : g.inputs()) inputs.push(value_json(v));
  Json& outputs = doc["outputs"] = Json::array();
  for (const Value* v : g.outputs()) outputs.push(value_json(v));
  doc["node_count"] = g.nodes().size();
  size_t weights = 0, weight_bytes = 0;
  for (const Value* v : g.values())
    if (v->is_constant()) { ++weights; weight_bytes += v->constant().nbytes(); }
  doc["constants"] = weights;
  doc["constant_bytes"] = weight_bytes;

  std::vector<std::unique_ptr<Backend>> backends;
  for (const std::string& name : BackendRegistry::instance().backend_names()) {
    try {
      backends.push_back(BackendRegistry::instance().create(name));
    } catch (const Error&) {
      // A backend without devices on this machine is simply not listed.
    }
  }
  Json& names = doc["backends"] = Json::array();
  for (const auto& b : backends) names.push(b->info().backend);
  struct OpRow { int count = 0; std::vector<int> supported; bool known = false; };
  std::map<std::string, OpRow> ops;
  for (const auto& n : g.nodes()) {
    OpRow& row = ops[n->qualified_op()];
    row.supported.resize(backends.size());
    row.known = OpRegistry::instance().find(n->domain(), n->op_type()) != nullptr;
    ++row.count;
    for (size_t b = 0; b < backends.size(); ++b) row.supported[b] += backends[b]->supports(*n);
  }
  Json& op_list = doc["ops"] = Json::array();
  int unknown = 0;
  for (const auto& [op, row] : ops) {
    Json o = Json::object();
    o["op"] = op;
    o["count"] = row.count;
    o["known"] = row.known;
    Json& sup = o["supported"] = Json::object();
    for (size_t b = 0; b < backends.size(); ++b) sup[backends[b]->info().backend] = row.supported[b];
    op_list.push(std::move(o));
    unknown += !row.known;
  }
  doc["unknown_ops"] = unknown;
  doc["shape_error"] = shape_error.empty() ? Json() : Json(shape_error);
  if (nodes) {
    Json& list = doc["nodes"] = Json::array();
    for (const auto& n : g.nodes()) {
      Json j = Json::object();
      j["name"] = n->name();
      j["op"] = n->qualified_op();
      Json& outs = j["outputs"] = Json::array();
      for (const Value* o : n->outputs())
        if (o) outs.push(value_json(o));
      list.push(std::move(j));
    }
  }
  return doc;
}

namespace {

// The element with the largest |actual - expected| (a NaN on one side only
// counts as infinitely far), as a multi-index, with both values.
Json worst_element(const Tensor& actual, const Tensor& expected) {
  if (actual.dims() != expected.dims()) return nullptr;
  std::vector<double> a, e;
  try {
    a = actual.as_double();
    e = expected.as_double();
  } catch (const Error&) {
    return nullptr;
  }
  if (a.empty() || a.size() != e.size()) return nullptr;
  size_t worst = 0;
  double worst_err = -1;
  for (size_t i = 0; i < a.size(); ++i) {
    double err;
    if (std::isnan(a[i]) || std::isnan(e[i])) err = std::isnan(a[i]) && std::isnan(e[i]) ? 0 : INFINITY;
    else if (a[i] == e[i]) err = 0;
    else err = std::fabs(a[i] - e[i]);
    if (err > worst_err) { worst_err = err; worst = i; }
  }
  std::vector<int64_t> index(actual.dims().size());
  size_t rest = worst;
  for (size_t d = index.size(); d-- > 0;) {
    const auto extent = static_cast<size_t>(actual.dims()[d]);
    index[d] = static_cast<int64_t>(rest % extent);
    rest /= extent;
  }
  Json j = Json::object();
  j["index"] = dims_json(index);
  j["flat_index"] = worst;
  j["actual"] = a[worst];
  j["expected"] = e[worst];
  return j;
}

Json timing_json(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  Json j = Json::object();
  j["runs"] = ms.size();
  if (ms.empty()) return j;
  auto pct = [&](double p) { return ms[static_cast<size_t>(p * (ms.size() - 1))]; };
  j["median_ms"] = pct(0.5);
  j["p10_ms"] = pct(0.1);
  j["p90_ms"] = pct(0.9);
  j["mean_ms"] = std::accumulate(ms.begin(), ms.end(), 0.0) / ms.size();
  j["min_ms"] = ms.front();
  j["max_ms"] = ms.back();
  return j;
}

Json memory_json(const Session& s) {
  Json j = Json::object();
  j["arena_bytes"] = s.last_stats().arena_bytes;
  j["naive_bytes"] = s.last_stats().naive_bytes;
  j["constant_bytes"] = s.last_stats().constant_bytes;
  return j;
}

}  // namespace

Json session_device_json(Session& s) {
  DeviceInfo info = s.backend().info();
  for (const DeviceInfo& d : BackendRegistry::instance().devices())
    if (d.backend == info.backend && d.index == info.index) {
      if (info.memory_bytes == 0) info.memory_bytes = d.memory_bytes;
      if (info.details.empty()) info.details = d.details;
    }
  return device_json(info);
}

int print_run_json(const std::string& model_path, Session& session, const TensorMap& outputs,
                   const std::string& expected_dir, double rtol, double atol, const std::vector<double>& times_ms) {
  std::vector<Tensor> expected;
  if (std::filesystem::exists(std::filesystem::path(expected_dir) / "output_0.pb"))
    for (NamedTensor& t : load_test_set(expected_dir, "output")) expected.push_back(std::move(t.tensor));
  Json doc = Json::object();
  doc["model"] = model_path;
  doc["device"] = session_device_json(session);
  doc["rtol"] = rtol;
  doc["atol"] = atol;
  doc["expected_dir"] = expected.empty() ? Json() : Json(expected_dir);
  Json& list = doc["outputs"] = Json::array();
  bool all_ok = true;
  int compared = 0;
  const Graph& g = session.graph();
  for (size_t i = 0; i < g.outputs().size(); ++i) {
    const std::string& name = g.outputs()[i]->name();
    const Tensor& t = outputs.at(name);
    Json o = Json::object();
    o["name"] = name;
    o["dtype"] = dtype_name(t.dtype());
    o["shape"] = dims_json(t.dims());
    o["compared"] = i < expected.size();
    if (i >= expected.size()) {
      o["ok"] = nullptr;
      o["max_abs_error"] = nullptr;
      o["max_rel_error"] = nullptr;
      o["mismatches"] = nullptr;
      o["worst"] = nullptr;
      o["reason"] = nullptr;
    } else {
      Comparison c = compare_tensors(t, expected[i], rtol, atol);
      ++compared;
      all_ok = all_ok && c.ok;
      o["ok"] = c.ok;
      o["max_abs_error"] = c.max_abs_error;
      o["max_rel_error"] = c.max_rel_error;
      o["mismatches"] = c.mismatches;
      o["worst"] = worst_element(t, expected[i]);
      o["reason"] = c.ok ? Json() : Json(c.reason);
    }
    list.push(std::move(o));
  }
  doc["compared"] = compared;
  doc["ok"] = compared == 0 ? Json() : Json(all_ok);
  doc["timing"] = timing_json(times_ms);
  doc["memory"] = memory_json(session);
  doc["placement"] = placement_json(session);
  const int code = all_ok ? 0 : 3;
  doc["exit_code"] = code;
  print_json(doc);
  return code;
}

Json bench_json(const std::string& model_path, Session& session, std::vector<double> times_ms, int warmup) {
  Json doc = Json::object();
  doc["model"] = model_path;
  doc["device"] = session_device_json(session);
  doc["warmup"] = warmup;
  Json t = timing_json(std::move(times_ms));
  for (const char* k : {"runs", "median_ms", "p10_ms", "p90_ms", "mean_ms", "min_ms", "max_ms"}) doc[k] = t[k];
  doc["memory"] = memory_json(session);
  doc["arena_bytes"] = session.last_stats().arena_bytes;
  doc["placement"] = placement_json(session);
  return doc;
}

namespace {

Json option_value_json(const OptionValue& v) {
  return std::visit(
      [](const auto& x) -> Json {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, StringList>) return Json::array_of(x);
        else return Json(x);
      },
      v);
}

}  // namespace

Json passes_json() {
  Json doc = Json::object();
  Json& list = doc["passes"] = Json::array();
  const PassRegistry& r = PassRegistry::instance();
  for (const auto& name : r.names()) {
    auto pass = r.create(name);
    Json p = Json::object();
    p["name"] = name;
    p["description"] = pass->description();
    Json& opts = p["options"] = Json::array();
    for (const auto& o : pass->option_specs()) {
      Json j = Json::object();
      j["name"] = o.name;
      j["type"] = option_type_name(o.default_value);
      j["default"] = option_value_json(o.default_value);
      j["help"] = o.help;
      // The bounds and values configure() checks (OptionSpec), null where there is none.
      auto bound = [&](double b) -> Json {
        if (std::isinf(b)) return nullptr;
        if (o.default_value.index() == 1) return static_cast<long long>(b);  // an int option's bound is an int
        return b;
      };
      j["min"] = bound(o.min);
      j["max"] = bound(o.max);
      j["allowed"] = o.allowed.empty() ? Json() : Json::array_of(o.allowed);
      opts.push(std::move(j));
    }
    list.push(std::move(p));
  }
  return doc;
}

Json attention_profile_json(const AttentionProfile& p, const std::string& compare, const std::string& cache,
                            const std::vector<double>& compare_errors) {
  const AttentionProfileOptions& o = p.options;
  Json doc = Json::object();
  Json& opts = doc["options"] = Json::object();
  opts["chunks"] = o.chunks;
  opts["block_size"] = o.block_size;
  opts["block_tile"] = o.block_tile.empty() ? Json() : Json(o.block_tile);
  opts["window_frames"] = o.window_frames;
  opts["budgets"] = Json::array_of(o.budgets);
  opts["memory_sizes"] = Json::array_of(o.memory_sizes);
  opts["target_mass"] = o.target_mass;
  opts["seed"] = o.rollout.seed;
  opts["pipeline"] = o.passes_label;
  opts["added_passes"] = Json::array_of(p.added_passes);
  Json& layout = doc["layout"] = Json::object();
  layout["grid_h"] = p.layout.grid_h;
  layout["grid_w"] = p.layout.grid_w;
  layout["tile_h"] = p.layout.tile_h;
  layout["tile_w"] = p.layout.tile_w;
  layout["block_tokens"] = p.layout.block_tokens;
  layout["blocks_per_frame"] = p.layout.tiles();
  Json& rows = doc["rows"] = Json::array();
  for (const LayerChunkProfile& r : p.rows) {
    Json j = Json::object();
    j["layer"] = r.layer;
    j["chunk"] = r.chunk;
    j["cached_frames"] = r.cached_frames;
    j["cached_blocks"] = r.cached_blocks;
    j["window_blocks"] = r.window_blocks;
    j["local_mass"] = r.local_mass;
    j["window_mass"] = r.window_mass;
    j["outside_mass"] = r.outside_mass;
    j["oracle_kept"] = Json::array_of(r.oracle_kept);
    j["score_kept"] = Json::array_of(r.score_kept);
    j["window_score_kept"] = Json::array_of(r.window_score_kept);
    j["memory_kept"] = Json::array_of(r.memory_kept);
    rows.push(std::move(j));
  }
  doc["suggestion"] = p.suggestion();
  if (compare.empty()) {
    doc["compare"] = nullptr;
  } else {
    Json& c = doc["compare"] = Json::object();
    c["pipeline"] = compare;
    c["cache"] = cache;
    c["rel_l2_error"] = Json::array_of(compare_errors);
  }
  return doc;
}

}  // namespace vdrt::cli
