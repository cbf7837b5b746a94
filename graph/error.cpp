#include "graph/error.h"

namespace vdrt {

Error::Error(std::string reason, ErrorSite site)
    : std::runtime_error(format(reason, site)), reason_(std::move(reason)), site_(std::move(site)) {}

Error Error::with_site(const ErrorSite& outer) const {
  ErrorSite s = site_;
  if (s.file.empty()) s.file = outer.file;
  if (s.node.empty()) s.node = outer.node;
  if (s.op.empty()) s.op = outer.op;
  return Error(reason_, s);
}

std::string Error::format(const std::string& reason, const ErrorSite& site) {
  std::string out;
  if (!site.file.empty()) out += site.file + ": ";
  if (!site.node.empty() || !site.op.empty()) {
    out += "node '" + site.node + "'";
    if (!site.op.empty()) out += " (" + site.op + ")";
    out += ": ";
  }
  return out + reason;
}

}  // namespace vdrt
