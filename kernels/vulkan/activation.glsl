// Activations shared by unary.comp and the GEMM epilogues, so that a GELU
// fused into a MatMul gives the bits of the Gelu op it replaced.
#ifndef VDRT_ACTIVATION_GLSL
#define VDRT_ACTIVATION_GLSL

// Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).
float erf_approx(float v) {
  float a = abs(v);
  float t = 1.0 / (1.0 + 0.3275911 * a);
  float poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  float r = 1.0 - poly * exp(-a * a);
  return v < 0.0 ? -r : r;
}
float tanh_safe(float v) { float e = exp(-2.0 * abs(v)); float r = (1.0 - e) / (1.0 + e); return v < 0.0 ? -r : r; }
float gelu_erf(float v) { return 0.5 * v * (1.0 + erf_approx(v * 0.70710678118654752)); }
float gelu_tanh(float v) { return 0.5 * v * (1.0 + tanh_safe(0.7978845608028654 * (v + 0.044715 * v * v * v))); }

// A GEMM epilogue's activation, ACT as vdrt.FusedMatMul's kernels number it:
// 0 none, 1 gelu (erf), 2 gelu (tanh).
float epilogue_act(float v, uint act) {
  if (act == 1) return gelu_erf(v);
  if (act == 2) return gelu_tanh(v);
  return v;
}

#endif
