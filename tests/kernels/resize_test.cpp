// Resize against a direct (non-separable) reference: every output element is
// a tensor-product sum over its neighbours, with the coordinate formulas and
// coefficients of the ONNX specification written out here.
#include <cmath>
#include <functional>

#include "data_movement_test_util.h"

namespace vdrt::test {
namespace {

struct Ref {
  std::string mode = "nearest", coord = "half_pixel", nearest = "round_prefer_floor";
  double a = -0.75;
  bool exclude = false, antialias = false;
  double extrapolation = 0;
  std::vector<double> roi;  // per axis start, end (full rank) for tf_crop_and_resize
};

double coordinate(const Ref& p, int64_t o, int64_t in, int64_t out, double scale, size_t axis, size_t rank) {
  const double x = double(o), len = scale * in;
  if (p.coord == "half_pixel") return (x + 0.5) / scale - 0.5;
  if (p.coord == "asymmetric") return x / scale;
  if (p.coord == "align_corners") return len == 1 ? 0 : x * (in - 1) / (len - 1);
  if (p.coord == "pytorch_half_pixel") return len == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
  if (p.coord == "half_pixel_symmetric") return in / 2.0 * (1 - out / len) + (x + 0.5) / scale - 0.5;
  // tf_crop_and_resize
  const double s = p.roi[axis], e = p.roi[rank + axis];
  return len == 1 ? (e - s) * (in - 1) / 2 + s * (in - 1) : x * (e - s) * (in - 1) / (len - 1) + s * (in - 1);
}

// (clamped index, weight) pairs of one axis at coordinate x.
std::vector<std::pair<int64_t, double>> weights(const Ref& p, double x, int64_t in, double scale) {
  auto clamp = [&](int64_t i) { return std::clamp<int64_t>(i, 0, in - 1); };
  if (p.mode == "nearest") {
    double r = x;
    if (x != std::floor(x)) {
      const double f = x - std::floor(x);
      if (p.nearest == "floor") r = std::floor(x);
      else if (p.nearest == "ceil") r = std::ceil(x);
      else if (p.nearest == "round_prefer_ceil") r = f >= 0.5 ? std::ceil(x) : std::floor(x);
      else r = f > 0.5 ? std::ceil(x) : std::floor(x);
    }
    return {{clamp(int64_t(r)), 1.0}};
  }
  std::vector<std::pair<int64_t, double>> w;
  const int64_t x0 = int64_t(std::floor(x));
  if (p.antialias) {
    const double s = std::min(scale, 1.0);
    double sum = 0;
    for (int64_t q = x0 - 12; q <= x0 + 12; ++q) {
      double d = std::fabs((q - x) * s), v;
      if (p.mode == "linear") v = std::max(0.0, 1 - d);
      else v = d <= 1 ? (p.a + 2) * d * d * d - (p.a + 3) * d * d + 1 : d < 2 ? p.a * d * d * d - 5 * p.a * d * d + 8 * p.a * d - 4 * p.a : 0;
      if (v != 0) w.push_back({clamp(q), v}), sum += v;
    }
    for (auto& e : w) e.second /= sum;
    return w;
  }
  const double r = x - x0, A = p.a;
  if (p.mode == "linear") return {{clamp(x0), 1 - r}, {clamp(x0 + 1), r}};
  double c[4] = {((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A, ((A + 2) * r - (A + 3)) * r * r + 1,
                 ((A + 2) * (1 - r) - (A + 3)) * (1 - r) * (1 - r) + 1,
                 ((A * (2 - r) - 5 * A) * (2 - r) + 8 * A) * (2 - r) - 4 * A};
  double sum = 0;
  for (int j = 0; j < 4; ++j) {
    if (p.exclude && (x0 - 1 + j < 0 || x0 - 1 + j >= in)) c[j] = 0;
    sum += c[j];
  }
  for (int j = 0; j < 4; ++j) w.push_back({clamp(x0 - 1 + j), p.exclude ? c[j] / sum : c[j]});
  return w;
}

std::vector<double> reference(const Ref& p, const Tensor& x, const std::vector<int64_t>& od, const std::vector<double>& sc) {
  const auto& id = x.dims();
  const size_t r = id.size();
  auto xv = x.as_double();
  std::vector<double> out(numel(od));
  for (int64_t i = 0; i < numel(od); ++i) {
    auto c = unravel(i, od);
    std::vector<std::vector<std::pair<int64_t, double>>> w(r);
    bool outside = false;
    for (size_t a = 0; a < r; ++a) {
      double xa = coordinate(p, c[a], id[a], od[a], sc[a], a, r);
      if (p.coord == "tf_crop_and_resize" && (xa < 0 || xa > id[a] - 1)) outside = true;
      w[a] = (od[a] == id[a] && sc[a] == 1.0 && p.coord != "tf_crop_and_resize") ? std::vector<std::pair<int64_t, double>>{{c[a], 1.0}}
                                                                                : weights(p, xa, id[a], sc[a]);
    }
    if (outside) { out[i] = p.extrapolation; continue; }
    double acc = 0;
    std::vector<int64_t> src(r);
    std::function<void(size_t, double)> walk = [&](size_t a, double wt) {
      if (a == r) { acc += wt * xv[ravel(src, id)]; return; }
      for (auto& [idx, v] : w[a]) { src[a] = idx; walk(a + 1, wt * v); }
    };
    walk(0, 1.0);
    out[i] = acc;
  }
  return out;
}

AttributeMap resize_attrs_of(const Ref& p) {
  AttributeMap m;
  m.set("mode", p.mode);
  m.set("coordinate_transformation_mode", p.coord);
  m.set("nearest_mode", p.nearest);
  m.set("cubic_coeff_a", float(p.a));
  m.set("exclude_outside", int64_t(p.exclude));
  m.set("antialias", int64_t(p.antialias));
  m.set("extrapolation_value", float(p.extrapolation));
  return m;
}

void check_scales(const Ref& p, const Tensor& x, const std::vector<float>& scales, double tol = 1e-5) {
  Tensor roi = p.roi.empty() ? Tensor() : Tensor::from_vector<float>({int64_t(p.roi.size())},
                                                                      std::vector<float>(p.roi.begin(), p.roi.end()));
  Tensor y = run_op1({"Resize", "", 19, 1, resize_attrs_of(p)},
                     {x, roi, Tensor::from_vector<float>({int64_t(scales.size())}, scales)});
  std::vector<int64_t> od;
  std::vector<double> sc;
  for (size_t a = 0; a < scales.size(); ++a) {
    od.push_back(int64_t(std::floor(double(scales[a]) * x.dims()[a])));
    sc.push_back(scales[a]);
  }
  ASSERT_EQ(y.dims(), od);
  EXPECT_LE(max_error(y, reference(p, x, od, sc)), tol) << p.mode << " " << p.coord;
}

TEST(Resize, NearestEveryRoundingMode5D) {
  Tensor x = random_tensor({1, 2, 3, 4, 5}, 1);
  for (std::string nm : {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"})
    for (std::string coord : {"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel"}) {
      Ref p;
      p.nearest = nm;
      p.coord = coord;
      check_scales(p, x, {1, 1, 2, 2, 2}, 0);        // temporal and spatial upsampling
      check_scales(p, x, {1, 1, 0.7f, 1.5f, 0.6f}, 0);
    }
}

TEST(Resize, NearestCopiesAnyDtypeExactly) {
  Tensor x(DType::I64, {1, 1, 2, 2});
  for (int i = 0; i < 4; ++i) static_cast<int64_t*>(x.raw())[i] = (int64_t{1} << 40) + i;
  Tensor y = run_op1({"Resize", "", 19, 1, attrs({{"mode", std::string("nearest")}})},
                     {x, Tensor(), Tensor::from_vector<float>({4}, {1, 1, 2, 2})});
  EXPECT_EQ(y.as_int64()[0], int64_t{1} << 40);
  EXPECT_EQ(y.as_int64()[15], (int64_t{1} << 40) + 3);
}

TEST(Resize, LinearAndCubicCoordinateModes) {
  Tensor x = random_tensor({2, 3, 5, 7}, 2);
  for (std::string mode : {"linear", "cubic"})
    for (std::string coord : {"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel", "half_pixel_symmetric"})
      for (bool exclude : {false, true}) {
        Ref p;
        p.mode = mode;
        p.coord = coord;
        p.exclude = exclude;
        p.a = mode == "cubic" && exclude ? -0.5 : -0.75;
        check_scales(p, x, {1, 1, 2.0f, 1.6f});
        check_scales(p, x, {1, 1, 0.6f, 0.5f});
      }
}

TEST(Resize, AntialiasDownsampling) {
  Tensor x = random_tensor({1, 2, 9, 11}, 3);
  for (std::string mode : {"linear", "cubic"}) {
    Ref p;
    p.mode = mode;
    p.antialias = true;
    check_scales(p, x, {1, 1, 0.5f, 0.35f});
    check_scales(p, x, {1, 1, 1.5f, 0.8f});
  }
}

TEST(Resize, TfCropAndResizeExtrapolates) {
  Tensor x = random_tensor({1, 1, 4, 4}, 4);
  Ref p;
  p.mode = "linear";
  p.coord = "tf_crop_and_resize";
  p.roi = {0, 0, 0.4, -0.3, 1, 1, 1.2, 0.8};
  p.extrapolation = 10;
  check_scales(p, x, {1, 1, 1.5f, 2.0f});
  p.mode = "nearest";
  check_scales(p, x, {1, 1, 1.5f, 2.0f});
}

TEST(Resize, SizesAxesAndAspectPolicy) {
  Tensor x = random_tensor({1, 3, 4, 6}, 5);
  auto run = [&](AttributeMap a, std::vector<int64_t> sizes) {
    a.set("mode", std::string("linear"));
    return run_op1({"Resize", "", 19, 1, a}, {x, Tensor(), Tensor(), ints(sizes)});
  };
  EXPECT_EQ(run(attrs({}), {1, 3, 8, 3}).dims(), (std::vector<int64_t>{1, 3, 8, 3}));
  EXPECT_EQ(run(attrs({{"axes", std::vector<int64_t>{3, 2}}}), {9, 2}).dims(), (std::vector<int64_t>{1, 3, 2, 9}));
  // not_larger: one scale min(8/4, 8/6) = 4/3 for both axes, sizes rounded half up.
  EXPECT_EQ(run(attrs({{"axes", std::vector<int64_t>{2, 3}}, {"keep_aspect_ratio_policy", std::string("not_larger")}}),
                {8, 8}).dims(),
            (std::vector<int64_t>{1, 3, 5, 8}));
  EXPECT_EQ(run(attrs({{"axes", std::vector<int64_t>{2, 3}}, {"keep_aspect_ratio_policy", std::string("not_smaller")}}),
                {8, 8}).dims(),
            (std::vector<int64_t>{1, 3, 8, 12}));
  // The sizes path samples like scales out/in.
  Ref p;
  p.mode = "linear";
  Tensor y = run(attrs({}), {1, 3, 7, 4});
  EXPECT_LT(max_error(y, reference(p, x, {1, 3, 7, 4}, {1, 1, 7.0 / 4, 4.0 / 6})), 1e-5);
}

TEST(Resize, IntegerDataRoundsAndSaturates) {
  Tensor x(DType::U8, {1, 1, 1, 2});
  static_cast<uint8_t*>(x.raw())[0] = 0;
  static_cast<uint8_t*>(x.raw())[1] = 255;
  Tensor y = run_op1({"Resize", "", 19, 1, attrs({{"mode", std::string("cubic")}})},
                     {x, Tensor(), Tensor::from_vector<float>({4}, {1, 1, 1, 4})});
  ASSERT_EQ(y.dtype(), DType::U8);
  Ref p;
  p.mode = "cubic";
  auto want = reference(p, x, {1, 1, 1, 8}, {1, 1, 1, 4});
  auto got = y.as_int64();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i], std::clamp(std::nearbyint(want[i]), 0.0, 255.0)) << i;
}

TEST(Resize, UpsampleAndOpset10UseAsymmetricTruncation) {
  Tensor x = iota_f32({1, 1, 2, 2});
  Tensor y = run_op1({"Upsample", "", 9, 1, attrs({{"mode", std::string("nearest")}})},
                     {x, Tensor::from_vector<float>({4}, {1, 1, 2, 3})});
  ASSERT_EQ(y.dims(), (std::vector<int64_t>{1, 1, 4, 6}));
  auto yv = y.as_double();
  for (int64_t i = 0; i < 24; ++i) ASSERT_EQ(yv[i], double((i / 6) / 2 * 2 + (i % 6) / 3));
  Tensor z = run_op1({"Resize", "", 10, 1, attrs({{"mode", std::string("nearest")}})},
                     {x, Tensor::from_vector<float>({4}, {1, 1, 2, 3})});
  EXPECT_EQ(z.as_double(), yv);
}

TEST(Resize, ShapeInferenceAndErrors) {
  Tensor sc = Tensor::from_vector<float>({5}, {1, 1, 2, 2, 2});
  auto out = infer_op({"Resize", "", 19},
                      {info(DType::F32, Shape({Dim::symbol("B"), Dim(16), Dim(3), Dim(8), Dim::symbol("W")})),
                       ValueInfo{}, info_of(sc)});
  EXPECT_EQ(out[0].shape[0], Dim::symbol("B"));
  EXPECT_EQ(out[0].shape[2], Dim(6));
  EXPECT_EQ(out[0].shape[3], Dim(16));
  EXPECT_TRUE(out[0].shape[4].unknown());
  Tensor x = iota_f32({1, 1, 2, 2});
  Tensor s4 = Tensor::from_vector<float>({4}, {1, 1, 2, 2});
  expect_error([&] { run_op1({"Resize", "", 19}, {x, Tensor(), s4, ints({1, 1, 4, 4})}); }, {"not both"});
  expect_error([&] { run_op1({"Resize", "", 19}, {x, Tensor(), Tensor::from_vector<float>({2}, {2, 2})}); },
               {"2 entries", "rank 4"});
  expect_error([&] { run_op1({"Resize", "", 19, 1, attrs({{"antialias", int64_t{1}}})}, {x, Tensor(), s4}); },
               {"antialias"});
  expect_error([&] { run_op1({"Resize", "", 19, 1, attrs({{"coordinate_transformation_mode", std::string("foo")}})},
                             {x, Tensor(), s4}); },
               {"foo"});
  expect_error([&] { run_op1({"Resize", "", 19}, {x, Tensor(), Tensor::from_vector<float>({4}, {1, 1, -2, 2})}); },
               {"positive"});
}

}  // namespace
}  // namespace vdrt::test
