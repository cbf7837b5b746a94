// Activations shared by unary.cl and the GEMM epilogue (matmul.cl), the
// OpenCL twin of kernels/vulkan/activation.glsl, so that a GELU fused into a
// MatMul gives the bits of the Gelu op it replaced. Pulled in with
// #include "activation.cl" (expanded by backends/opencl/opencl_programs.cpp).
#ifndef VDRT_ACTIVATION_CL
#define VDRT_ACTIVATION_CL

// Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), as the Vulkan kernels, so
// that Erf and Gelu agree across backends rather than with each libm.
inline float erf_approx(float v) {
  float a = fabs(v);
  float t = 1.0f / (1.0f + 0.3275911f * a);
  float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
  float r = 1.0f - poly * exp(-a * a);
  return v < 0.0f ? -r : r;
}
inline float tanh_safe(float v) {
  float e = exp(-2.0f * fabs(v));
  float r = (1.0f - e) / (1.0f + e);
  return v < 0.0f ? -r : r;
}
inline float gelu_erf(float v) { return 0.5f * v * (1.0f + erf_approx(v * 0.70710678118654752f)); }
inline float gelu_tanh(float v) {
  return 0.5f * v * (1.0f + tanh_safe(0.7978845608028654f * (v + 0.044715f * v * v * v)));
}

// A GEMM epilogue's activation: 0 none, 1 gelu (erf), 2 gelu (tanh).
inline float epilogue_act(float v, uint act) {
  if (act == 1) return gelu_erf(v);
  if (act == 2) return gelu_tanh(v);
  return v;
}

#endif
