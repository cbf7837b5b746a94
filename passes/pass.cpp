#include "passes/pass.h"

#include <cmath>
#include <sstream>

#include "graph/error.h"

namespace vdrt {

std::string option_value_str(const OptionValue& v) {
  std::ostringstream os;
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) os << (x ? "true" : "false");
        else if constexpr (std::is_same_v<T, std::string>) os << '"' << x << '"';
        else if constexpr (std::is_same_v<T, StringList>) {
          os << '[';
          for (size_t i = 0; i < x.size(); ++i) os << (i ? ", " : "") << '"' << x[i] << '"';
          os << ']';
        }
        else os << x;
      },
      v);
  return os.str();
}

const char* option_type_name(const OptionValue& v) {
  switch (v.index()) {
    case 0: return "bool";
    case 1: return "int";
    case 2: return "float";
    case 4: return "list of strings";
    default: return "string";
  }
}

const OptionValue& PassOptions::get(const std::string& name) const {
  auto it = values_.find(name);
  VDRT_CHECK(it != values_.end(), "pass option '" + name + "' is not set");
  return it->second;
}

bool PassOptions::get_bool(const std::string& name) const {
  const auto* v = std::get_if<bool>(&get(name));
  VDRT_CHECK(v, "pass option '" + name + "' is not a bool");
  return *v;
}

int64_t PassOptions::get_int(const std::string& name) const {
  const auto* v = std::get_if<int64_t>(&get(name));
  VDRT_CHECK(v, "pass option '" + name + "' is not an integer");
  return *v;
}

double PassOptions::get_float(const std::string& name) const {
  const OptionValue& v = get(name);
  if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  const auto* d = std::get_if<double>(&v);
  VDRT_CHECK(d, "pass option '" + name + "' is not a number");
  return *d;
}

const std::string& PassOptions::get_string(const std::string& name) const {
  const auto* v = std::get_if<std::string>(&get(name));
  VDRT_CHECK(v, "pass option '" + name + "' is not a string");
  return *v;
}

const StringList& PassOptions::get_strings(const std::string& name) const {
  const auto* v = std::get_if<StringList>(&get(name));
  VDRT_CHECK(v, "pass option '" + name + "' is not a list of strings");
  return *v;
}

std::string Explanation::str() const {
  std::string s = "[" + pass + "] ";
  if (!node.empty() || !op.empty()) s += "node '" + node + "' (" + op + "): ";
  return s + message;
}

void PassContext::explain(const Node& node, const std::string& message) {
  explanations_.push_back({current_pass_, node.name(), node.qualified_op(), message});
}

void PassContext::explain(const std::string& message) { explanations_.push_back({current_pass_, "", "", message}); }

std::vector<Explanation> PassContext::explanations_of(const std::string& pass) const {
  std::vector<Explanation> out;
  for (const auto& e : explanations_)
    if (e.pass == pass) out.push_back(e);
  return out;
}

std::string OptionSpec::constraint() const {
  if (!allowed.empty()) {
    std::string list;
    for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
    return "one of " + list;
  }
  auto num = [](double x) {
    std::ostringstream s;
    s << x;
    return s.str();
  };
  if (std::isinf(min) && std::isinf(max)) return "";
  return std::isinf(max) ? ">= " + num(min)
         : std::isinf(min) ? "<= " + num(max)
                           : "in [" + num(min) + ", " + num(max) + "]";
}

std::string OptionSpec::violation(const OptionValue& value) const {
  if (const auto* text = std::get_if<std::string>(&value); text && !allowed.empty()) {
    for (const std::string& a : allowed)
      if (a == *text) return "";
    return "must be " + constraint() + "; got '" + *text + "'";
  }
  double v = 0;
  if (const auto* i = std::get_if<int64_t>(&value)) v = static_cast<double>(*i);
  else if (const auto* d = std::get_if<double>(&value)) v = *d;
  else return "";
  if (v >= min && v <= max) return "";  // NaN fails both
  return "must be " + constraint() + ", got " + option_value_str(value);
}

void Pass::configure(const PassOptions& given) {
  std::vector<OptionSpec> specs = option_specs();
  PassOptions resolved;
  for (const auto& [key, value] : given.all()) {
    const OptionSpec* spec = nullptr;
    for (const auto& s : specs)
      if (s.name == key) spec = &s;
    if (!spec) {
      std::string known;
      for (const auto& s : specs) known += (known.empty() ? "" : ", ") + s.name;
      throw Error("pass '" + name() + "' has no option '" + key + "'" +
                  (known.empty() ? " (it takes none)" : " (options: " + known + ")"));
    }
    bool int_for_float = value.index() == 1 && spec->default_value.index() == 2;
    // A single string where a list is expected is a list of one.
    bool string_for_list = value.index() == 3 && spec->default_value.index() == 4;
    VDRT_CHECK(value.index() == spec->default_value.index() || int_for_float || string_for_list,
               "option '" + key + "' of pass '" + name() + "' must be a " + option_type_name(spec->default_value) +
                   ", got " + option_type_name(value) + " " + option_value_str(value));
    if (std::string why = spec->violation(value); !why.empty())
      throw Error("option '" + key + "' of pass '" + name() + "' " + why);
    if (int_for_float) resolved.set(key, static_cast<double>(std::get<int64_t>(value)));
    else if (string_for_list) resolved.set(key, StringList{std::get<std::string>(value)});
    else resolved.set(key, value);
  }
  for (const auto& s : specs)
    if (!resolved.has(s.name)) resolved.set(s.name, s.default_value);
  options_ = std::move(resolved);
  configured_ = true;
}

const PassOptions& Pass::options() const {
  // A pass built without a pipeline (tests, code) runs with its defaults.
  if (!configured_) const_cast<Pass*>(this)->configure({});
  return options_;
}

}  // namespace vdrt
