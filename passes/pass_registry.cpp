#include "passes/pass_registry.h"

#include <algorithm>
#include <sstream>

#include "graph/error.h"

namespace vdrt {

PassRegistry& PassRegistry::instance() {
  static PassRegistry registry;
  return registry;
}

void PassRegistry::add(const std::string& name, PassFactory factory) {
  VDRT_CHECK(!has(name), "two passes are registered as '" + name + "'");
  factories_.emplace_back(name, std::move(factory));
}

bool PassRegistry::has(const std::string& name) const {
  return std::any_of(factories_.begin(), factories_.end(), [&](const auto& f) { return f.first == name; });
}

std::unique_ptr<Pass> PassRegistry::create(const std::string& name) const {
  for (const auto& [n, factory] : factories_)
    if (n == name) return factory();
  std::string known;
  for (const auto& n : names()) known += (known.empty() ? "" : ", ") + n;
  throw Error("unknown pass '" + name + "' (known passes: " + known + ")");
}

std::vector<std::string> PassRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& f : factories_) out.push_back(f.first);
  std::sort(out.begin(), out.end());
  return out;
}

namespace {
// Wraps `text` at `width` columns, every line starting with `indent`.
std::string wrap(const std::string& text, size_t indent, size_t width = 78) {
  std::istringstream words(text);
  std::string word, line(indent, ' '), out;
  bool empty = true;
  while (words >> word) {
    if (!empty && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line = std::string(indent, ' ');
      empty = true;
    }
    line += (empty ? "" : " ") + word;
    empty = false;
  }
  if (!empty) out += line + "\n";
  return out;
}
}  // namespace

std::string describe_passes() {
  std::string out;
  const PassRegistry& r = PassRegistry::instance();
  for (const auto& name : r.names()) {
    auto pass = r.create(name);
    out += "  " + name + "\n" + wrap(pass->description(), 6);
    for (const auto& o : pass->option_specs()) {
      const std::string allowed = o.constraint();
      out += "      " + o.name + " (" + option_type_name(o.default_value) + ", default " +
             option_value_str(o.default_value) + (allowed.empty() ? "" : ", " + allowed) + ")\n";
      out += wrap(o.help, 10);
    }
  }
  return out;
}

}  // namespace vdrt
