// Conv and ConvTranspose against direct (naive) float64 convolutions.
#include <gtest/gtest.h>

#include <cmath>

#include "graph/ops/conv_params.h"
#include "math_test_util.h"

namespace vdrt::test {
namespace {

struct ConvCase {
  std::vector<int64_t> x, w;  // X [N, C, D...], W [M, C/g, K...]
  int64_t group;
  std::vector<int64_t> strides, dilations, pads;  // empty = attribute absent
  std::string auto_pad;
  bool bias;
};

// Calls f(out multi-index, in multi-index, kernel multi-index) for each
// spatial (output, tap) pair whose input position lies inside the image.
void for_taps(const std::vector<int64_t>& out, const std::vector<int64_t>& in, const std::vector<int64_t>& kern,
              const std::vector<ConvAxis>& ax, const std::function<void(int64_t, int64_t, int64_t)>& f) {
  const size_t nd = out.size();
  for (int64_t o = 0; o < numel(out); ++o)
    for (int64_t t = 0; t < numel(kern); ++t) {
      auto oc = unravel(o, out), kc = unravel(t, kern);
      int64_t i = 0;
      bool inside = true;
      for (size_t d = 0; d < nd; ++d) {
        const int64_t p = oc[d] * ax[d].stride + kc[d] * ax[d].dilation - ax[d].pad_begin;
        if (p < 0 || p >= in[d]) inside = false;
        i = i * in[d] + p;
      }
      if (inside) f(o, i, t);
    }
}

AttributeMap conv_attrs(const ConvCase& c) {
  AttributeMap a;
  a.set("group", c.group);
  if (!c.strides.empty()) a.set("strides", c.strides);
  if (!c.dilations.empty()) a.set("dilations", c.dilations);
  if (!c.pads.empty()) a.set("pads", c.pads);
  if (!c.auto_pad.empty()) a.set("auto_pad", c.auto_pad);
  return a;
}

class ConvShapes : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvShapes, MatchesDirectConvolution) {
  const ConvCase& c = GetParam();
  Tensor x = random_tensor(c.x, 1), w = random_tensor(c.w, 2), b = random_tensor({c.w[0]}, 3);
  OpCall call{"Conv"};
  call.attrs = conv_attrs(c);
  std::vector<Tensor> ins{x, w};
  if (c.bias) ins.push_back(b);
  Tensor y = run_op1(call, ins);

  const int64_t n = c.x[0], ch = c.x[1], m = c.w[0], cg = ch / c.group, mg = m / c.group;
  std::vector<int64_t> in(c.x.begin() + 2, c.x.end()), kern(c.w.begin() + 2, c.w.end());
  auto ax = conv_axes(call.attrs, in, kern);
  std::vector<int64_t> out;
  for (auto& a : ax) out.push_back(a.out);
  std::vector<int64_t> ydims{n, m};
  ydims.insert(ydims.end(), out.begin(), out.end());
  ASSERT_EQ(y.dims(), ydims);
  auto xv = x.as_double(), wv = w.as_double(), bv = b.as_double();
  const int64_t O = numel(out), I = numel(in), T = numel(kern);
  std::vector<double> ref(static_cast<size_t>(n * m * O), 0.0);
  for (int64_t b0 = 0; b0 < n; ++b0)
    for (int64_t oc = 0; oc < m; ++oc) {
      const int64_t g = oc / mg;
      for (int64_t o = 0; o < O; ++o) ref[(b0 * m + oc) * O + o] = c.bias ? bv[oc] : 0.0;
      for (int64_t ic = 0; ic < cg; ++ic)
        for_taps(out, in, kern, ax, [&](int64_t o, int64_t i, int64_t t) {
          ref[(b0 * m + oc) * O + o] += xv[(b0 * ch + g * cg + ic) * I + i] * wv[(oc * cg + ic) * T + t];
        });
    }
  EXPECT_LT(max_error(y, ref), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ConvShapes,
    ::testing::Values(
        ConvCase{{1, 1, 5, 5}, {1, 1, 3, 3}, 1, {}, {}, {1, 1, 1, 1}, "", false},
        ConvCase{{1, 1, 7, 5}, {1, 1, 3, 3}, 1, {2, 2}, {}, {1, 0, 1, 0}, "", false},
        ConvCase{{1, 1, 5, 5}, {1, 1, 3, 3}, 1, {2, 2}, {}, {}, "SAME_LOWER", false},
        ConvCase{{2, 3, 9, 8}, {4, 3, 3, 2}, 1, {2, 1}, {}, {}, "SAME_UPPER", true},
        ConvCase{{2, 3, 9, 8}, {4, 3, 3, 3}, 1, {1, 2}, {}, {}, "VALID", true},
        ConvCase{{2, 4, 10, 9}, {6, 2, 3, 3}, 2, {1, 1}, {2, 2}, {2, 1, 0, 3}, "", true},      // group + dilation
        ConvCase{{1, 6, 8, 8}, {6, 1, 3, 3}, 6, {1, 1}, {}, {1, 1, 1, 1}, "", true},           // depthwise
        ConvCase{{2, 3, 17}, {5, 3, 4}, 1, {3}, {2}, {1, 2}, "", true},                        // 1-D
        ConvCase{{1, 4, 5, 6, 7}, {3, 4, 3, 3, 3}, 1, {1, 2, 1}, {}, {1, 1, 0, 1, 1, 2}, "", true},  // 3-D
        ConvCase{{1, 16, 3, 12, 10}, {24, 16, 1, 2, 2}, 1, {1, 2, 2}, {}, {}, "", true},       // patchify
        ConvCase{{2, 8, 6, 7}, {12, 8, 1, 1}, 1, {}, {}, {}, "", true},                        // pointwise
        ConvCase{{3, 8, 6, 7}, {12, 4, 1, 1}, 2, {}, {}, {}, "", false},                       // grouped pointwise
        ConvCase{{4, 3, 40, 33}, {8, 3, 3, 3}, 1, {}, {}, {1, 1, 1, 1}, "", true}));           // parallel tasks

TEST(Conv, LargeColumnBlocks) {
  // More im2col columns than one block holds (forces several blocks).
  ConvCase c{{1, 64, 4, 40, 60}, {8, 64, 3, 3, 3}, 1, {}, {}, {1, 1, 1, 1, 1, 1}, "", true};
  Tensor x = random_tensor(c.x, 1), w = random_tensor(c.w, 2), b = random_tensor({8}, 3);
  OpCall call{"Conv"};
  call.attrs = conv_attrs(c);
  Tensor y = run_op1(call, {x, w, b});
  // Spot-check a handful of outputs against the direct formula.
  auto xv = x.as_double(), wv = w.as_double(), bv = b.as_double();
  for (int64_t idx : {0L, 777L, 4321L, 9599L, 19199L, y.numel() - 1}) {
    auto oc = unravel(idx, y.dims());
    double s = bv[oc[1]];
    for (int64_t ic = 0; ic < 64; ++ic)
      for (int64_t kd = 0; kd < 3; ++kd)
        for (int64_t kh = 0; kh < 3; ++kh)
          for (int64_t kw = 0; kw < 3; ++kw) {
            const int64_t d = oc[2] + kd - 1, h = oc[3] + kh - 1, ww = oc[4] + kw - 1;
            if (d < 0 || d >= 4 || h < 0 || h >= 40 || ww < 0 || ww >= 60) continue;
            s += xv[((ic * 4 + d) * 40 + h) * 60 + ww] * wv[(((oc[1] * 64 + ic) * 3 + kd) * 3 + kh) * 3 + kw];
          }
    EXPECT_NEAR(y.as_double()[idx], s, 1e-4) << idx;
  }
}

TEST(Conv, ShapeErrors) {
  OpCall call{"Conv"};
  EXPECT_THROW(run_op1(call, {random_tensor({1, 3, 5, 5}, 1), random_tensor({2, 2, 3, 3}, 2)}), Error);
  EXPECT_THROW(run_op1(call, {random_tensor({1, 3, 2, 2}, 1), random_tensor({2, 3, 3, 3}, 2)}), Error);
  EXPECT_THROW(run_op1(call, {random_tensor({1, 3, 5}, 1), random_tensor({2, 3, 3, 3}, 2)}), Error);
  call.attrs.set("strides", std::vector<int64_t>{1});
  EXPECT_THROW(run_op1(call, {random_tensor({1, 3, 5, 5}, 1), random_tensor({2, 3, 3, 3}, 2)}), Error);
  call.attrs = {};
  call.attrs.set("auto_pad", std::string("SAME"));
  EXPECT_THROW(run_op1(call, {random_tensor({1, 3, 5, 5}, 1), random_tensor({2, 3, 3, 3}, 2)}), Error);
}

TEST(Conv, SymbolicSpatialDims) {
  Graph g;
  Node* node = g.add_node("Conv", {g.value("x"), g.value("w")}, {g.value("y")});
  node->attrs().set("pads", std::vector<int64_t>{1, 1, 1, 1});
  std::vector<ValueInfo> ins{{DType::F32, Shape({Dim::symbol("N"), Dim(3), Dim::symbol("H"), Dim(8)}), nullptr, true},
                             {DType::F32, Shape({Dim(4), Dim(3), Dim(3), Dim(3)}), nullptr, true}};
  EXPECT_EQ(infer_node(*node, ins, 17)[0].shape.str(), "[N, 4, ?, 8]");
}

struct ConvTCase {
  std::vector<int64_t> x, w;  // X [N, C, D...], W [C, M/g, K...]
  AttributeMap attrs;
  bool bias;
};

TEST(ConvTranspose, MatchesDirectScatter) {
  auto attrs = [](std::initializer_list<std::pair<const char*, std::vector<int64_t>>> kv, std::string pad = "") {
    AttributeMap a;
    for (auto& [k, v] : kv) {
      if (std::string(k) == "group") a.set(k, v[0]);
      else a.set(k, v);
    }
    if (!pad.empty()) a.set("auto_pad", pad);
    return a;
  };
  const std::vector<ConvTCase> cases = {
      {{1, 1, 3, 3}, {1, 2, 3, 3}, attrs({}), false},
      {{1, 1, 3}, {1, 2, 3}, attrs({}), true},
      {{1, 1, 3, 4, 5}, {1, 2, 3, 3, 3}, attrs({}), false},
      {{1, 1, 3, 3}, {1, 2, 3, 3}, attrs({{"strides", {2, 2}}}, "SAME_UPPER"), false},
      {{1, 1, 3, 3}, {1, 1, 2, 2}, attrs({{"dilations", {2, 2}}}), false},
      {{3, 2, 3, 3}, {2, 1, 3, 3}, attrs({{"group", {2}}}), true},
      {{1, 1, 3, 3}, {1, 2, 3, 3}, attrs({{"strides", {3, 2}}, {"output_shape", {10, 8}}}), false},
      {{1, 1, 3, 3}, {1, 2, 3, 3}, attrs({{"strides", {3, 2}}, {"output_padding", {1, 1}}}), true},
      {{1, 1, 3, 3}, {1, 2, 3, 3}, attrs({{"strides", {3, 2}}, {"pads", {1, 2, 1, 2}}}), false},
      {{2, 4, 5, 6}, {4, 3, 4, 4}, attrs({{"strides", {2, 2}}, {"pads", {1, 1, 1, 1}}, {"group", {2}}}), true},
  };
  for (size_t ci = 0; ci < cases.size(); ++ci) {
    const auto& c = cases[ci];
    Tensor x = random_tensor(c.x, 1), w = random_tensor(c.w, 2);
    const int64_t group = c.attrs.get_int("group", 1), n = c.x[0], ch = c.x[1], mg = c.w[1], m = mg * group,
                  cg = ch / group;
    Tensor b = random_tensor({m}, 3);
    OpCall call{"ConvTranspose"};
    call.attrs = c.attrs;
    std::vector<Tensor> ins{x, w};
    if (c.bias) ins.push_back(b);
    Tensor y = run_op1(call, ins);
    std::vector<int64_t> in(c.x.begin() + 2, c.x.end()), kern(c.w.begin() + 2, c.w.end());
    auto ax = conv_transpose_axes(c.attrs, in, kern);
    std::vector<int64_t> out;
    for (auto& a : ax) out.push_back(a.out);
    const int64_t O = numel(out), I = numel(in), T = numel(kern);
    auto xv = x.as_double(), wv = w.as_double(), bv = b.as_double();
    std::vector<double> ref(static_cast<size_t>(n * m * O));
    for (int64_t b0 = 0; b0 < n; ++b0)
      for (int64_t oc = 0; oc < m; ++oc) {
        const int64_t g = oc / mg;
        for (int64_t o = 0; o < O; ++o) ref[(b0 * m + oc) * O + o] = c.bias ? bv[oc] : 0.0;
        // Transposed conv: input position i scatters into output i*s + k*d - pad.
        for (int64_t ic = 0; ic < cg; ++ic)
          for_taps(in, out, kern, ax, [&](int64_t i, int64_t o, int64_t t) {
            ref[(b0 * m + oc) * O + o] += xv[(b0 * ch + g * cg + ic) * I + i] * wv[((g * cg + ic) * mg + oc % mg) * T + t];
          });
      }
    std::vector<int64_t> ydims{n, m};
    ydims.insert(ydims.end(), out.begin(), out.end());
    EXPECT_EQ(y.dims(), ydims) << ci;
    EXPECT_LT(max_error(y, ref), 1e-4) << ci;
  }
}

}  // namespace
}  // namespace vdrt::test
