#pragma once
// Passes by name. Each pass file registers itself:
//
//   VDRT_REGISTER_PASS(FoldConstants);
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "passes/pass.h"

namespace vdrt {

using PassFactory = std::function<std::unique_ptr<Pass>()>;

class PassRegistry {
 public:
  static PassRegistry& instance();
  void add(const std::string& name, PassFactory factory);
  bool has(const std::string& name) const;
  // Throws vdrt::Error listing the known passes when `name` is unknown.
  std::unique_ptr<Pass> create(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted

 private:
  std::vector<std::pair<std::string, PassFactory>> factories_;
};

// Every pass with its description and options (type, default and, where
// configure() checks one, the allowed range or values), formatted for --help.
std::string describe_passes();

namespace detail {
template <typename P>
struct PassRegistrar {
  PassRegistrar() {
    PassRegistry::instance().add(P().name(), [] { return std::unique_ptr<Pass>(new P()); });
  }
};
}  // namespace detail

#define VDRT_PASS_CONCAT_INNER(a, b) a##b
#define VDRT_PASS_CONCAT(a, b) VDRT_PASS_CONCAT_INNER(a, b)
#define VDRT_REGISTER_PASS(Class) \
  static ::vdrt::detail::PassRegistrar<Class> VDRT_PASS_CONCAT(vdrt_pass_registrar_, __COUNTER__)

}  // namespace vdrt
