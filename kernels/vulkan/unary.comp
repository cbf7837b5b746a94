#version 450
// y = f(x) for one-operand float ops; the op is a specialization constant so
// each op gets its own pipeline without branches.
#include "common.glsl"
#include "activation.glsl"
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint OP = 0;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform P { uint n; float alpha; float beta; } p;

float sigmoid(float v) { return v >= 0.0 ? 1.0 / (1.0 + exp(-v)) : exp(v) / (1.0 + exp(v)); }

float apply(float v) {
  switch (OP) {
    case 0: return v;                                   // Identity
    case 1: return max(v, 0.0);                         // Relu
    case 2: return sigmoid(v);                          // Sigmoid
    case 3: return tanh_safe(v);                        // Tanh
    case 4: return exp(v);                              // Exp
    case 5: return log(v);                              // Log
    case 6: return sqrt(v);                             // Sqrt
    case 7: return 1.0 / v;                             // Reciprocal
    case 8: return -v;                                  // Neg
    case 9: return abs(v);                              // Abs
    case 10: return sin(v);                             // Sin
    case 11: return cos(v);                             // Cos
    case 12: return erf_approx(v);                      // Erf
    case 13: return gelu_erf(v);                        // Gelu (erf)
    case 14: return gelu_tanh(v);                       // Gelu (tanh)
    case 15: return floor(v);                           // Floor
    case 16: return ceil(v);                            // Ceil
    case 17: return roundEven(v);                       // Round
    case 18: return sign(v);                            // Sign
    case 19: return max(v, 0.0) + log(1.0 + exp(-abs(v)));  // Softplus
    case 20: return v >= 0.0 ? v : p.alpha * v;         // LeakyRelu
    case 21: return v >= 0.0 ? v : p.alpha * (exp(v) - 1.0);  // Elu
    case 22: return v * sigmoid(v);                     // SiLU (vdrt.Silu, Swish)
    case 23: return clamp(p.alpha * v + p.beta, 0.0, 1.0);  // HardSigmoid
    case 24: return min(max(v, p.alpha), p.beta);       // Clip
    case 25: return v * p.alpha;                        // scale
    default: return v;
  }
}

void main() {
  uint i = flat_group() * 256 + gl_LocalInvocationID.x;
  if (i < p.n) y[i] = apply(x[i]);
}
