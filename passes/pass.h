#pragma once
// The compiler-pass interface. A pass rewrites a Graph in place and says
// whether it changed anything; it declares its options (with defaults and
// help) so that pipelines are validated and `vdrt opt --help` documents them.
// Passes never touch a device or ONNX: evaluating a node on constants goes
// through PassContext::evaluator, which the caller supplies.
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "graph/graph.h"

namespace vdrt {

// Option values; a string list is a TOML array of strings (e.g. name patterns).
using StringList = std::vector<std::string>;
using OptionValue = std::variant<bool, int64_t, double, std::string, StringList>;
std::string option_value_str(const OptionValue& v);
const char* option_type_name(const OptionValue& v);

struct OptionSpec {
  std::string name;
  OptionValue default_value;  // also fixes the option's type
  std::string help;
  // Checked when a pipeline is configured, before any pass runs: a number
  // must lie in [min, max]; a string must be one of `allowed` (empty: any).
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  std::vector<std::string> allowed;

  // {"window", int64_t{9}, "..."}.at_least(1), {"method", ...}.one_of({"pbsa", "hsa"})
  OptionSpec at_least(double lo) && {
    min = lo;
    return std::move(*this);
  }
  OptionSpec in_range(double lo, double hi) && {
    min = lo;
    max = hi;
    return std::move(*this);
  }
  OptionSpec one_of(std::vector<std::string> values) && {
    allowed = std::move(values);
    return std::move(*this);
  }
  // What is allowed, in words: ">= 0", "in [0, 1]", "one of pbsa, hsa"; ""
  // when anything of the type is. The one wording of the rule, shared by
  // violation() and `vdrt opt --list-passes`, so the listing cannot drift
  // from what configure() checks.
  std::string constraint() const;
  // "" when `value` is allowed, else why not ("must be >= 0, got -1").
  std::string violation(const OptionValue& value) const;
};

class PassOptions {
 public:
  void set(const std::string& name, OptionValue v) { values_[name] = std::move(v); }
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  const std::map<std::string, OptionValue>& all() const { return values_; }

  // Typed getters; a missing option or one of another type throws vdrt::Error.
  bool get_bool(const std::string& name) const;
  int64_t get_int(const std::string& name) const;
  double get_float(const std::string& name) const;  // ints are accepted
  const std::string& get_string(const std::string& name) const;
  const StringList& get_strings(const std::string& name) const;

 private:
  const OptionValue& get(const std::string& name) const;
  std::map<std::string, OptionValue> values_;
};

// Evaluates `node` on constant inputs and returns its outputs (one per
// node output; absent outputs as undefined tensors). Throws vdrt::Error when
// it cannot (no kernel, unsupported dtype...).
using NodeEvaluator =
    std::function<std::vector<Tensor>(const Node& node, const std::vector<Tensor>& inputs, int64_t opset)>;

// A near-miss or decision a pass wants the user to see with `--explain`:
// "node 'attn/Softmax' (Softmax): axis is 1, not the last axis; not fused".
struct Explanation {
  std::string pass;
  std::string node;  // empty when not about one node
  std::string op;
  std::string message;
  std::string str() const;
};

class PassContext {
 public:
  // Optional; without it fold-constants only folds shape computations.
  NodeEvaluator evaluator;
  // Whether the device the graph is optimised for runs `node` itself rather
  // than through the CPU fallback. A Session sets it for its device (and
  // `vdrt opt --device` for the one named); empty when no device is known.
  // Passes that write ops only some devices run (fuse-gemm-epilogue) ask it,
  // so that a GPU session is not handed a node it would run on the CPU.
  std::function<bool(const Node& node)> device_runs;

  void explain(const Node& node, const std::string& message);
  void explain(const std::string& message);
  const std::vector<Explanation>& explanations() const { return explanations_; }
  // Explanations of one pass, e.g. for a test that checks why a near-miss was left alone.
  std::vector<Explanation> explanations_of(const std::string& pass) const;

  // Named counters a pass bumps ("fused", "folded"); the PassManager logs
  // them in the pass's log line and resets them before each pass.
  void count(const std::string& what, int64_t n = 1) { counters_[what] += n; }
  const std::map<std::string, int64_t>& counters() const { return counters_; }
  void reset_counters() { counters_.clear(); }

  const std::string& current_pass() const { return current_pass_; }
  void set_current_pass(std::string name) { current_pass_ = std::move(name); }

 private:
  std::string current_pass_;
  std::vector<Explanation> explanations_;
  std::map<std::string, int64_t> counters_;
};

class Pass {
 public:
  virtual ~Pass() = default;
  virtual std::string name() const = 0;         // "fuse-attention"
  virtual std::string description() const = 0;  // one or two sentences for --help
  virtual std::vector<OptionSpec> option_specs() const { return {}; }

  // Checks `options` against option_specs() (unknown names and wrong types
  // throw vdrt::Error naming the pass) and fills in defaults.
  void configure(const PassOptions& options);
  const PassOptions& options() const;

  // Rewrites the graph; returns whether anything changed. The graph's node
  // order may be left unsorted: the PassManager sorts after each pass.
  virtual bool run(Graph& graph, PassContext& ctx) = 0;

 protected:
  bool opt_bool(const std::string& name) const { return options().get_bool(name); }
  int64_t opt_int(const std::string& name) const { return options().get_int(name); }
  double opt_float(const std::string& name) const { return options().get_float(name); }
  const std::string& opt_string(const std::string& name) const { return options().get_string(name); }
  const StringList& opt_strings(const std::string& name) const { return options().get_strings(name); }

 private:
  mutable PassOptions options_;
  mutable bool configured_ = false;
};

}  // namespace vdrt
