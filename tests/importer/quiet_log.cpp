// The conformance models loaded by these tests use old opsets, each worth a
// warning; keep the test log readable. Tests that check warnings lower the
// level themselves.
#include <spdlog/spdlog.h>

namespace {
const bool quiet = [] {
  spdlog::set_level(spdlog::level::err);
  return true;
}();
}  // namespace
