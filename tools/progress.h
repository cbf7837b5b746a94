#pragma once
// A one-line progress display on stderr: redrawn in place on a terminal,
// printed as plain lines (one per update) when stderr is a file or pipe.
#include <string>

namespace vdrt::cli {

class Progress {
 public:
  explicit Progress(bool enabled);
  ~Progress();
  void update(const std::string& line);
  void finish();

 private:
  bool enabled_, tty_, open_ = false;
  size_t last_width_ = 0;
};

std::string human_bytes(double bytes);

}  // namespace vdrt::cli
