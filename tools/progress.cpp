#include "tools/progress.h"

#include <unistd.h>

#include <cstdio>

#include <spdlog/spdlog.h>

namespace vdrt::cli {

// -q (log level above info) silences the progress line too.
Progress::Progress(bool enabled)
    : enabled_(enabled && spdlog::should_log(spdlog::level::info)), tty_(isatty(STDERR_FILENO)) {}
Progress::~Progress() { finish(); }

void Progress::update(const std::string& line) {
  if (!enabled_) return;
  if (tty_) {
    std::string padded = line;
    if (padded.size() < last_width_) padded.append(last_width_ - padded.size(), ' ');
    std::fprintf(stderr, "\r%s", padded.c_str());
    last_width_ = line.size();
    open_ = true;
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

void Progress::finish() {
  if (open_) std::fprintf(stderr, "\n");
  open_ = false;
}

std::string human_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) { bytes /= 1024; ++u; }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
  return buf;
}

}  // namespace vdrt::cli
