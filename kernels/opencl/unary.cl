// y = f(x) for one-operand float ops, the OpenCL twin of unary.comp: the op is
// SPEC0, so each op builds its own program and the switch folds away.
// Literals carry an f suffix: an unsuffixed one is a double on devices with
// fp64, and would make the math differ from the Vulkan kernel's fp32.
#ifndef SPEC0
#define SPEC0 0
#endif
#define OP SPEC0

struct unary_params {
  uint n;
  float alpha;
  float beta;
};

#include "activation.cl"

inline float sigmoid_safe(float v) { return v >= 0.0f ? 1.0f / (1.0f + exp(-v)) : exp(v) / (1.0f + exp(v)); }

inline float apply(float v, float alpha, float beta) {
  switch (OP) {
    case 0: return v;                                   // Identity
    case 1: return fmax(v, 0.0f);                       // Relu
    case 2: return sigmoid_safe(v);                     // Sigmoid
    case 3: return tanh_safe(v);                        // Tanh
    case 4: return exp(v);                              // Exp
    case 5: return log(v);                              // Log
    case 6: return sqrt(v);                             // Sqrt
    case 7: return 1.0f / v;                            // Reciprocal
    case 8: return -v;                                  // Neg
    case 9: return fabs(v);                             // Abs
    case 10: return sin(v);                             // Sin
    case 11: return cos(v);                             // Cos
    case 12: return erf_approx(v);                      // Erf
    case 13: return gelu_erf(v);                        // Gelu (erf)
    case 14: return gelu_tanh(v);                       // Gelu (tanh)
    case 15: return floor(v);                           // Floor
    case 16: return ceil(v);                            // Ceil
    case 17: return rint(v);                            // Round (half to even, GLSL roundEven)
    case 18: return sign(v);                            // Sign
    case 19: return fmax(v, 0.0f) + log(1.0f + exp(-fabs(v)));  // Softplus
    case 20: return v >= 0.0f ? v : alpha * v;          // LeakyRelu
    case 21: return v >= 0.0f ? v : alpha * (exp(v) - 1.0f);  // Elu
    case 22: return v * sigmoid_safe(v);                // SiLU (vdrt.Silu, Swish)
    case 23: return clamp(alpha * v + beta, 0.0f, 1.0f);  // HardSigmoid
    case 24: return fmin(fmax(v, alpha), beta);         // Clip
    case 25: return v * alpha;                          // scale
    default: return v;
  }
}

kernel __attribute__((reqd_work_group_size(256, 1, 1)))
void unary(BUF(float, x), BUF(float, y), constant const struct unary_params* p) {
  AT(float, x);
  AT(float, y);
  uint i = flat_group() * 256u + (uint)get_local_id(0);
  if (i < p->n) y[i] = apply(x[i], p->alpha, p->beta);
}
