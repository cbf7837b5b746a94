#include "passes/name_glob.h"

namespace vdrt {

// Iterative matcher with one backtrack point (the last '*'): linear in
// practice and never recursive, so no pattern can blow the stack.
bool glob_match(const std::string& pattern, const std::string& text) {
  size_t p = 0, t = 0, star = std::string::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

const std::string* first_match(const std::vector<std::string>& patterns, const std::vector<std::string>& names) {
  for (const std::string& pat : patterns)
    for (const std::string& n : names)
      if (!n.empty() && glob_match(pat, n)) return &pat;
  return nullptr;
}

}  // namespace vdrt
