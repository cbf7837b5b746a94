#pragma once
#include "backends/backend.h"

namespace vdrt {

// Runs kernels/cpu on host memory, parallel through oneTBB. `threads` <= 0
// uses every core.
std::unique_ptr<Backend> make_cpu_backend(int threads = 0);

}  // namespace vdrt
