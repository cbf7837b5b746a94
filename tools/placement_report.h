#pragma once
// Where a session's nodes ran, for `vdrt run` and `vdrt bench`: a silent CPU
// fallback has invalidated GPU benchmarks elsewhere, so every GPU run says it.
#include <string>

#include "runtime/session.h"

namespace vdrt::cli {

// One line ("placement: 412 vulkan, 3 cpu, 30 host; copies: ...") at info
// level, and each CPU-placed node at debug level (-v).
void log_placement(const Session& session);
// The same line, without logging, for machine-readable output.
std::string placement_line(const Session& session);

}  // namespace vdrt::cli
