// Normalisation ops against float64 references written out here.
#include <gtest/gtest.h>

#include <cmath>

#include "math_test_util.h"

namespace vdrt::test {
namespace {

// Mean and biased variance of `n` values at base + i*stride.
void moments(const std::vector<double>& v, int64_t base, int64_t n, double* mean, double* var) {
  double s = 0, q = 0;
  for (int64_t i = 0; i < n; ++i) s += v[base + i];
  *mean = s / double(n);
  for (int64_t i = 0; i < n; ++i) q += (v[base + i] - *mean) * (v[base + i] - *mean);
  *var = q / double(n);
}

TEST(LayerNorm, EveryAxisWithStatistics) {
  Tensor x = random_tensor({2, 3, 4, 5}, 1, -3, 3);
  for (int64_t axis = -4; axis < 4; ++axis) {
    const int64_t a = axis < 0 ? axis + 4 : axis;
    std::vector<int64_t> nd(x.dims().begin() + a, x.dims().end());
    Tensor scale = random_tensor(nd, 2), bias = random_tensor(nd, 3);
    OpCall call{"LayerNormalization", "", 17, 3};
    call.attrs.set("axis", axis);
    call.attrs.set("epsilon", 0.01f);
    auto outs = run_op(call, {x, scale, bias});
    const int64_t n = numel(nd), rows = x.numel() / n;
    auto xv = x.as_double(), sv = scale.as_double(), bv = bias.as_double();
    std::vector<double> y(xv.size()), mean(rows), inv(rows);
    for (int64_t r = 0; r < rows; ++r) {
      double m, var;
      moments(xv, r * n, n, &m, &var);
      mean[r] = m;
      inv[r] = 1 / std::sqrt(var + 0.01);
      for (int64_t i = 0; i < n; ++i) y[r * n + i] = (xv[r * n + i] - m) * inv[r] * sv[i] + bv[i];
    }
    EXPECT_LT(max_error(outs[0], y), 1e-5) << axis;
    EXPECT_LT(max_error(outs[1], mean), 1e-6) << axis;
    EXPECT_LT(max_error(outs[2], inv), 1e-5) << axis;
    std::vector<int64_t> stat_dims(x.dims().begin(), x.dims().begin() + a);
    stat_dims.resize(4, 1);
    EXPECT_EQ(outs[1].dims(), stat_dims);
  }
}

TEST(LayerNorm, BroadcastScaleAndNoBias) {
  Tensor x = random_tensor({4, 3, 64}, 4);
  Tensor scale = random_tensor({1, 64}, 5);
  OpCall call{"LayerNormalization", "", 17};
  call.attrs.set("axis", int64_t{1});
  Tensor y = run_op1(call, {x, scale});
  auto xv = x.as_double(), sv = scale.as_double();
  std::vector<double> ref(xv.size());
  for (int64_t r = 0; r < 4; ++r) {
    double m, var;
    moments(xv, r * 192, 192, &m, &var);
    for (int64_t i = 0; i < 192; ++i) ref[r * 192 + i] = (xv[r * 192 + i] - m) / std::sqrt(var + 1e-5) * sv[i % 64];
  }
  EXPECT_LT(max_error(y, ref), 1e-5);
  EXPECT_THROW(run_op1(call, {x, random_tensor({5}, 6)}), Error);
}

TEST(RMSNorm, EveryAxis) {
  Tensor x = random_tensor({2, 3, 4, 5}, 7, -2, 2);
  for (int64_t axis = -4; axis < 4; ++axis) {
    const int64_t a = axis < 0 ? axis + 4 : axis;
    std::vector<int64_t> nd(x.dims().begin() + a, x.dims().end());
    Tensor scale = random_tensor(nd, 8);
    OpCall call{"RMSNormalization", "", 23};
    call.attrs.set("axis", axis);
    Tensor y = run_op1(call, {x, scale});
    const int64_t n = numel(nd);
    auto xv = x.as_double(), sv = scale.as_double();
    std::vector<double> ref(xv.size());
    for (int64_t r = 0; r < x.numel() / n; ++r) {
      double ms = 0;
      for (int64_t i = 0; i < n; ++i) ms += xv[r * n + i] * xv[r * n + i];
      const double inv = 1 / std::sqrt(ms / double(n) + 1e-5);
      for (int64_t i = 0; i < n; ++i) ref[r * n + i] = xv[r * n + i] * inv * sv[i];
    }
    EXPECT_LT(max_error(y, ref), 1e-5) << axis;
  }
}

// GroupNorm reference; per_channel picks opset-21 (C) vs opset-18 (G) params.
std::vector<double> ref_group_norm(const Tensor& x, int64_t groups, const Tensor& scale, const Tensor& bias,
                                   bool per_channel, double eps) {
  const int64_t n = x.dims()[0], c = x.dims()[1], s = x.numel() / (n * c), cpg = c / groups;
  auto xv = x.as_double(), sv = scale.as_double(), bv = bias.as_double();
  std::vector<double> y(xv.size());
  for (int64_t b = 0; b < n * groups; ++b) {
    double m, var;
    moments(xv, b * cpg * s, cpg * s, &m, &var);
    for (int64_t k = 0; k < cpg * s; ++k) {
      const int64_t ch = (b % groups) * cpg + k / s, idx = per_channel ? ch : b % groups;
      y[b * cpg * s + k] = (xv[b * cpg * s + k] - m) / std::sqrt(var + eps) * sv[idx] + bv[idx];
    }
  }
  return y;
}

TEST(GroupNorm, Opset21PerChannelAndOpset18PerGroup) {
  Tensor x = random_tensor({3, 6, 4, 5}, 9, -2, 4);
  OpCall call{"GroupNormalization", "", 21};
  call.attrs.set("num_groups", int64_t{3});
  call.attrs.set("epsilon", 0.01f);
  Tensor sc = random_tensor({6}, 10), bc = random_tensor({6}, 11);
  EXPECT_LT(max_error(run_op1(call, {x, sc, bc}), ref_group_norm(x, 3, sc, bc, true, 0.01)), 1e-5);
  call.opset = 18;
  Tensor sg = random_tensor({3}, 12), bg = random_tensor({3}, 13);
  EXPECT_LT(max_error(run_op1(call, {x, sg, bg}), ref_group_norm(x, 3, sg, bg, false, 0.01)), 1e-5);
  call.attrs.set("num_groups", int64_t{4});
  EXPECT_THROW(run_op1(call, {x, sc, bc}), Error);
  call.attrs.set("num_groups", int64_t{3});
  EXPECT_THROW(run_op1(call, {x, random_tensor({5}, 1), bc}), Error);
}

TEST(InstanceNorm, MatchesPerChannelReference) {
  Tensor x = random_tensor({2, 3, 40, 50}, 14, -1, 3);
  Tensor sc = random_tensor({3}, 15), b = random_tensor({3}, 16);
  OpCall call{"InstanceNormalization"};
  EXPECT_LT(max_error(run_op1(call, {x, sc, b}), ref_group_norm(x, 3, sc, b, true, 1e-5)), 1e-5);
}

TEST(BatchNorm, InferenceAndTraining) {
  Tensor x = random_tensor({2, 3, 4, 5}, 17, -2, 2);
  Tensor sc = random_tensor({3}, 18), b = random_tensor({3}, 19), mean = random_tensor({3}, 20);
  Tensor var = random_tensor({3}, 21, 0.5f, 1.5f);
  auto xv = x.as_double(), sv = sc.as_double(), bv = b.as_double(), mv = mean.as_double(), vv = var.as_double();
  std::vector<double> ref(xv.size());
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t ch = (i / 20) % 3;
    ref[i] = (xv[i] - mv[ch]) / std::sqrt(vv[ch] + 1e-5) * sv[ch] + bv[ch];
  }
  EXPECT_LT(max_error(run_op1({"BatchNormalization", "", 15}, {x, sc, b, mean, var}), ref), 1e-5);

  OpCall train{"BatchNormalization", "", 15, 3};
  train.attrs.set("training_mode", int64_t{1});
  auto outs = run_op(train, {x, sc, b, mean, var});
  std::vector<double> y(xv.size()), rm(3), rv(3);
  for (int64_t ch = 0; ch < 3; ++ch) {
    double s = 0, q = 0;
    for (int64_t i = 0; i < x.numel(); ++i)
      if ((i / 20) % 3 == ch) s += xv[i];
    const double m = s / 40;
    for (int64_t i = 0; i < x.numel(); ++i)
      if ((i / 20) % 3 == ch) q += (xv[i] - m) * (xv[i] - m);
    const double v = q / 40;
    for (int64_t i = 0; i < x.numel(); ++i)
      if ((i / 20) % 3 == ch) y[i] = (xv[i] - m) / std::sqrt(v + 1e-5) * sv[ch] + bv[ch];
    rm[ch] = mv[ch] * 0.9 + m * 0.1;
    rv[ch] = vv[ch] * 0.9 + v * 0.1;
  }
  EXPECT_LT(max_error(outs[0], y), 1e-5);
  EXPECT_LT(max_error(outs[1], rm), 1e-6);
  EXPECT_LT(max_error(outs[2], rv), 1e-6);
  EXPECT_THROW(run_op1({"BatchNormalization", "", 15}, {x, random_tensor({4}, 1), b, mean, var}), Error);
}

}  // namespace
}  // namespace vdrt::test
