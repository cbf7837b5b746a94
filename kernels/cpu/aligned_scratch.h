#pragma once
// Grow-only, 64-byte aligned scratch memory for the kernels that pack
// operands (GEMM, the float8 GEMM, attention): each buffer keeps the largest
// size asked of it, so a hot loop allocates only on its first call. Used as
// thread_local, one per thread; that is safe only where a task holding one
// never waits on other tasks (which could run on the same thread and reuse
// it): the parallel regions that use them are isolated or flat.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "graph/error.h"

namespace vdrt::cpu {

class AlignedScratch {
 public:
  explicit AlignedScratch(const char* what) : what_(what) {}
  AlignedScratch(const AlignedScratch&) = delete;
  AlignedScratch& operator=(const AlignedScratch&) = delete;
  ~AlignedScratch() { std::free(p_); }

  // Room for `count` elements of T; the contents are unspecified.
  template <typename T>
  T* get(int64_t count) {
    const size_t bytes = static_cast<size_t>(count > 0 ? count : 0) * sizeof(T);
    if (bytes > cap_) {
      std::free(p_);
      cap_ = 0;
      const size_t rounded = (bytes + 63) / 64 * 64;
      p_ = std::aligned_alloc(64, rounded);
      if (!p_) throw OutOfMemory(std::string(what_) + " of " + std::to_string(bytes) + " bytes");
      cap_ = rounded;
    }
    return static_cast<T*>(p_);
  }

 private:
  const char* what_;
  void* p_ = nullptr;
  size_t cap_ = 0;
};

}  // namespace vdrt::cpu
