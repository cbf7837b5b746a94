#include "passes/pipeline.h"

#include <fstream>
#include <sstream>

#include <toml.hpp>

#include "graph/error.h"

namespace vdrt {

extern const char* const kDefaultPipelineToml;  // generated from default_pipeline.toml

namespace {

OptionValue to_option(const toml::value& v, const std::string& key, const std::string& where) {
  if (v.is_boolean()) return v.as_boolean();
  if (v.is_integer()) return static_cast<int64_t>(v.as_integer());
  if (v.is_floating()) return static_cast<double>(v.as_floating());
  if (v.is_string()) return v.as_string().str;
  if (v.is_array()) {
    StringList list;
    for (const toml::value& item : v.as_array()) {
      if (!item.is_string()) break;
      list.push_back(item.as_string().str);
    }
    if (list.size() == v.as_array().size()) return list;
  }
  throw Error(where + ": option '" + key + "' must be a bool, integer, float, string or array of strings");
}

}  // namespace

Pipeline parse_pipeline(const std::string& toml_text, const std::string& label) {
  toml::value root;
  try {
    std::istringstream in(toml_text);
    root = toml::parse(in, label);
  } catch (const std::exception& e) {
    throw Error(std::string("invalid pipeline TOML: ") + e.what(), {label});
  }
  Pipeline p;
  p.source = label;
  VDRT_CHECK(root.is_table(), "pipeline must be a TOML table", {label});
  for (const auto& [key, _] : root.as_table())
    VDRT_CHECK(key == "pass", "unknown top-level key '" + key + "' (a pipeline is a list of [[pass]] tables)", {label});
  if (!root.contains("pass")) return p;  // an empty pipeline is valid: it runs nothing
  const toml::value& passes = root.at("pass");
  VDRT_CHECK(passes.is_array(), "'pass' must be an array of tables: write [[pass]], not [pass]", {label});
  int index = 0;
  for (const toml::value& entry : passes.as_array()) {
    ++index;
    std::string where = label + ": [[pass]] #" + std::to_string(index);
    VDRT_CHECK(entry.is_table(), where + " is not a table", {label});
    VDRT_CHECK(entry.contains("name") && entry.at("name").is_string(), where + " needs name = \"<pass>\"", {label});
    PipelineStep step;
    step.pass = entry.at("name").as_string().str;
    where += " (" + step.pass + ")";
    for (const auto& [key, value] : entry.as_table()) {
      if (key == "name") continue;
      if (key == "enabled") {
        VDRT_CHECK(value.is_boolean(), where + ": 'enabled' must be true or false", {label});
        step.enabled = value.as_boolean();
        continue;
      }
      step.options.set(key, to_option(value, key, where));
    }
    p.steps.push_back(std::move(step));
  }
  return p;
}

Pipeline load_pipeline(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  VDRT_CHECK(f.good(), "cannot open pipeline file '" + path + "'", {path});
  std::stringstream buf;
  buf << f.rdbuf();
  return parse_pipeline(buf.str(), path);
}

const std::string& default_pipeline_toml() {
  static const std::string text = kDefaultPipelineToml;
  return text;
}

Pipeline default_pipeline() { return parse_pipeline(default_pipeline_toml(), "<default pipeline>"); }

}  // namespace vdrt
