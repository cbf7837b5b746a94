#version 450
// A stand-in for kernels/vulkan/unary.comp: the same interface (bindings,
// push constants, the OP constant) with other math, y = 2x + 1 whatever the
// op, so that a test can tell which build of "unary" a session ran
// (vulkan_spv_override_test.cpp, VDRT_VK_SPV_DIR).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint OP = 0;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint n; float alpha; float beta; } p;

void main() {
  uint i = flat_group() * 256 + gl_LocalInvocationID.x;
  if (i < p.n) y[i] = 2.0 * x[i] + 1.0;
}
