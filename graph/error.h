#pragma once
// One exception type for every user-facing failure. It carries where the
// problem is (file, node, op) so that the CLI can print one clear line.
#include <stdexcept>
#include <string>

namespace vdrt {

struct ErrorSite {
  std::string file;  // model or data file, if known
  std::string node;  // node name, if known
  std::string op;    // op type (domain-qualified when not ONNX), if known
};

class Error : public std::runtime_error {
 public:
  explicit Error(std::string reason, ErrorSite site = {});
  const std::string& reason() const { return reason_; }
  const ErrorSite& site() const { return site_; }
  // Returns a copy with missing site fields filled from `outer`.
  Error with_site(const ErrorSite& outer) const;

 private:
  static std::string format(const std::string& reason, const ErrorSite& site);
  std::string reason_;
  ErrorSite site_;
};

// Thrown when a buffer cannot be allocated; kept distinct so callers can
// report memory exhaustion without treating it as a model defect.
class OutOfMemory : public Error {
 public:
  using Error::Error;
};

#define VDRT_CHECK(cond, ...)                                   \
  do {                                                          \
    if (!(cond)) throw ::vdrt::Error(__VA_ARGS__);              \
  } while (0)

}  // namespace vdrt
