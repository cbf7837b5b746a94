// Transpose, DepthToSpace, SpaceToDepth against naive index arithmetic, over
// element sizes 1/2/4/8 and shapes large enough for the blocked and parallel
// paths of the strided-copy engine.
#include <algorithm>
#include <random>

#include "data_movement_test_util.h"

namespace vdrt::test {
namespace {

Tensor random_ints(DType t, std::vector<int64_t> dims, uint32_t seed) {
  std::mt19937 rng(seed);
  Tensor x(t, dims);
  auto* p = static_cast<uint8_t*>(x.raw());
  for (size_t i = 0; i < x.nbytes(); ++i) p[i] = static_cast<uint8_t>(rng());
  return x;
}

// Reference: out[c] = in[c permuted back], element bytes compared raw.
void check_transpose(const Tensor& x, const std::vector<int64_t>& perm) {
  AttributeMap a;
  a.set("perm", perm);
  Tensor y = run_op1({"Transpose", "", 13, 1, a}, {x});
  std::vector<int64_t> od;
  for (int64_t p : perm) od.push_back(x.dims()[p]);
  ASSERT_EQ(y.dims(), od);
  const size_t es = dtype_size(x.dtype());
  auto* in = static_cast<const uint8_t*>(x.raw());
  auto* out = static_cast<const uint8_t*>(y.raw());
  for (int64_t i = 0; i < y.numel(); ++i) {
    auto oc = unravel(i, od);
    std::vector<int64_t> ic(perm.size());
    for (size_t d = 0; d < perm.size(); ++d) ic[perm[d]] = oc[d];
    ASSERT_EQ(0, std::memcmp(out + i * es, in + ravel(ic, x.dims()) * es, es)) << "element " << i;
  }
}

TEST(Transpose, AllPermutationsOfRank4AllElementSizes) {
  for (DType t : {DType::U8, DType::F16, DType::F32, DType::I64}) {
    Tensor x = random_ints(t, {2, 3, 4, 5}, 7);
    std::vector<int64_t> perm{0, 1, 2, 3};
    do check_transpose(x, perm);
    while (std::next_permutation(perm.begin(), perm.end()));
  }
}

TEST(Transpose, LargeInnerSwapUsesBlockedPath) {
  for (DType t : {DType::U8, DType::F32, DType::F64}) {
    check_transpose(random_ints(t, {517, 389}, 3), {1, 0});
    check_transpose(random_ints(t, {3, 130, 70}, 4), {0, 2, 1});
    check_transpose(random_ints(t, {2, 40, 12, 64}, 5), {0, 2, 1, 3});  // attention head split
    check_transpose(random_ints(t, {2, 3, 33, 65, 4}, 6), {0, 4, 1, 3, 2});
  }
}

TEST(Transpose, DefaultReversesAndSizeOneDims) {
  Tensor x = iota_f32({2, 1, 3});
  Tensor y = run_op1({"Transpose"}, {x});
  EXPECT_EQ(y.dims(), (std::vector<int64_t>{3, 1, 2}));
  EXPECT_EQ(y.as_double(), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  check_transpose(iota_f32({1, 1, 1}), {2, 0, 1});
  check_transpose(Tensor(DType::F32, {0, 3}), {1, 0});
}

TEST(Transpose, BadPermIsAnError) {
  Tensor x = iota_f32({2, 3});
  expect_error([&] { run_op1({"Transpose", "", 13, 1, attrs({{"perm", std::vector<int64_t>{0, 0}}})}, {x}); },
               {"not a permutation"});
  expect_error([&] { run_op1({"Transpose", "", 13, 1, attrs({{"perm", std::vector<int64_t>{0}}})}, {x}); },
               {"rank 2"});
  auto out = infer_op({"Transpose", "", 13, 1, attrs({{"perm", std::vector<int64_t>{1, 0}}})},
                      {info(DType::F32, Shape({Dim::symbol("N"), Dim(4)}))});
  EXPECT_EQ(out[0].shape, Shape({Dim(4), Dim::symbol("N")}));
}

// out[n, c, h*b + i, w*b + j] = in[n, channel(c, i, j), h, w]
void check_depth_to_space(const std::string& mode) {
  const int64_t n = 2, c = 3, b = 2, h = 3, w = 4;
  Tensor x = iota_f32({n, c * b * b, h, w});
  Tensor y = run_op1({"DepthToSpace", "", 13, 1, attrs({{"blocksize", b}, {"mode", mode}})}, {x});
  ASSERT_EQ(y.dims(), (std::vector<int64_t>{n, c, h * b, w * b}));
  auto xv = x.as_double(), yv = y.as_double();
  for (int64_t in = 0; in < n; ++in)
    for (int64_t ic = 0; ic < c; ++ic)
      for (int64_t ih = 0; ih < h * b; ++ih)
        for (int64_t iw = 0; iw < w * b; ++iw) {
          const int64_t i = ih % b, j = iw % b;
          const int64_t ch = mode == "DCR" ? (i * b + j) * c + ic : ic * b * b + i * b + j;
          ASSERT_EQ(yv[ravel({in, ic, ih, iw}, y.dims())], xv[ravel({in, ch, ih / b, iw / b}, x.dims())]);
        }
  // SpaceToDepth with the same mode undoes it.
  Tensor back = run_op1({"SpaceToDepth", "", 13, 1, attrs({{"blocksize", b}, {"mode", mode}})}, {y});
  EXPECT_EQ(back.dims(), x.dims());
  EXPECT_EQ(back.as_double(), xv);
}

TEST(DepthToSpace, BothModesAndInverse) {
  check_depth_to_space("DCR");
  check_depth_to_space("CRD");
}

TEST(DepthToSpace, ShapeErrors) {
  expect_error([] { run_op1({"DepthToSpace", "", 13, 1, attrs({{"blocksize", int64_t{2}}})}, {iota_f32({1, 6, 2, 2})}); },
               {"not divisible"});
  expect_error([] { run_op1({"SpaceToDepth", "", 13, 1, attrs({{"blocksize", int64_t{2}}})}, {iota_f32({1, 1, 3, 2})}); },
               {"not divisible"});
  expect_error([] { run_op1({"DepthToSpace", "", 13, 1, attrs({{"blocksize", int64_t{2}}})}, {iota_f32({4, 2, 2})}); },
               {"4-D"});
}

}  // namespace
}  // namespace vdrt::test
