#pragma once
// Shell-style name patterns for pass options that pick layers by name
// ("*head*", "/blocks.?/ffn/*"): '*' matches any run of characters, '?' any
// one character, everything else itself. Case-sensitive, like ONNX names.
#include <string>
#include <vector>

namespace vdrt {

bool glob_match(const std::string& pattern, const std::string& text);
// The first pattern matching any of `names`, or nullptr.
const std::string* first_match(const std::vector<std::string>& patterns, const std::vector<std::string>& names);

}  // namespace vdrt
