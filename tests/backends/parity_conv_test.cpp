// Conv and Resize on every GPU backend against the CPU, on odd sizes that
// are not multiples of any tile.
#include "backends/parity.h"

namespace vdrt::test {
namespace {

AttributeMap conv_attrs(std::vector<int64_t> kernel, std::vector<int64_t> pads = {}, std::vector<int64_t> strides = {},
                        std::vector<int64_t> dilations = {}, int64_t group = 1, std::string auto_pad = "") {
  AttributeMap a;
  a.set("kernel_shape", Attribute(kernel));
  if (!pads.empty()) a.set("pads", Attribute(pads));
  if (!strides.empty()) a.set("strides", Attribute(strides));
  if (!dilations.empty()) a.set("dilations", Attribute(dilations));
  if (group != 1) a.set("group", Attribute(group));
  if (!auto_pad.empty()) a.set("auto_pad", Attribute(auto_pad));
  return a;
}

// X [xdims] (graph input), W [cout, cin/group, kernel...] and bias constants.
ParityCase conv(const std::string& name, std::vector<int64_t> xdims, int64_t cout, AttributeMap a, bool bias = true,
                double tol = 1e-5) {
  return {name, [=](GraphBuilder& b) {
            std::vector<Dim> xd(xdims.begin(), xdims.end());
            Value* x = b.input("x", xd);
            std::vector<int64_t> k = a.get_ints("kernel_shape");
            int64_t group = a.get_int("group", 1);
            std::vector<int64_t> wd{cout, xdims[1] / group};
            wd.insert(wd.end(), k.begin(), k.end());
            std::vector<Value*> ins{x, b.random(wd, 3)};
            if (bias) ins.push_back(b.random({cout}, 5));
            b.output(b.op("Conv", ins, a));
          }, tol};
}

ParityCase resize(const std::string& name, std::vector<int64_t> xdims, std::vector<float> scales, AttributeMap a,
                  int64_t opset = 18) {
  return {name, [=](GraphBuilder& b) {
            std::vector<Dim> xd(xdims.begin(), xdims.end());
            Value* x = b.input("x", xd);
            Value* roi = b.constant(b.graph().unique_name("roi"), Tensor::from_vector<float>({0}, {}));
            Value* s = b.constant(b.graph().unique_name("scales"),
                                  Tensor::from_vector<float>({static_cast<int64_t>(scales.size())}, scales));
            if (opset < 11) b.output(b.op("Resize", {x, s}, a));  // Resize-10: X, scales
            else b.output(b.op("Resize", {x, roi, s}, a));
          }, 1e-5, opset};
}

AttributeMap rattrs(const std::string& mode, const std::string& coord, const std::string& nearest = "") {
  AttributeMap a;
  a.set("mode", Attribute(mode));
  a.set("coordinate_transformation_mode", Attribute(coord));
  if (!nearest.empty()) a.set("nearest_mode", Attribute(nearest));
  return a;
}

// Where with a constant Bool condition (an irregular pattern) broadcast with x and y.
ParityCase where(const std::string& name, std::vector<int64_t> cd, std::vector<Dim> xd, std::vector<Dim> yd) {
  return {name, [=](GraphBuilder& b) {
            int64_t n = 1;
            for (int64_t d : cd) n *= d;
            std::vector<int64_t> pattern(static_cast<size_t>(n));
            for (int64_t i = 0; i < n; ++i) pattern[i] = (i * 7 + i / 3) % 5 < 2;
            Value* cond = b.constant(b.graph().unique_name("cond"), Tensor::from_vector<int64_t>(cd, pattern).to(DType::Bool));
            b.output(b.op("Where", {cond, b.input("x", xd), b.input("y", yd)}));
          }};
}

const std::vector<ParityCase>& cases() {
  static const std::vector<ParityCase> c = [] {
    std::vector<ParityCase> v;
    v.push_back(conv("Conv2d3x3Pad1", {2, 5, 13, 11}, 7, conv_attrs({3, 3}, {1, 1, 1, 1})));
    v.push_back(conv("Conv2dStride2", {2, 5, 13, 11}, 7, conv_attrs({3, 3}, {1, 1, 1, 1}, {2, 2})));
    v.push_back(conv("Conv2dDilation2", {2, 5, 13, 11}, 7, conv_attrs({3, 3}, {2, 1, 2, 0}, {}, {2, 2})));
    v.push_back(conv("Conv2dDepthwise", {2, 6, 13, 11}, 6, conv_attrs({3, 3}, {1, 1, 1, 1}, {}, {}, 6)));
    v.push_back(conv("Conv2dDepthwiseMult2", {1, 4, 9, 10}, 8, conv_attrs({3, 3}, {1, 1, 1, 1}, {2, 1}, {}, 4)));
    v.push_back(conv("Conv2dGroups2", {2, 6, 13, 11}, 10, conv_attrs({3, 3}, {1, 1, 1, 1}, {}, {}, 2)));
    v.push_back(conv("Conv2dSameUpper", {1, 5, 12, 11}, 7, conv_attrs({4, 3}, {}, {2, 2}, {}, 1, "SAME_UPPER")));
    v.push_back(conv("Conv2dSameLower", {1, 5, 12, 11}, 7, conv_attrs({4, 3}, {}, {2, 2}, {}, 1, "SAME_LOWER")));
    v.push_back(conv("Conv2dValid", {1, 5, 12, 11}, 7, conv_attrs({3, 3}, {}, {}, {}, 1, "VALID")));
    v.push_back(conv("Conv1d", {2, 5, 37}, 9, conv_attrs({5}, {2, 1}, {2})));
    v.push_back(conv("Conv3d3x3x3", {1, 4, 5, 9, 8}, 6, conv_attrs({3, 3, 3}, {1, 1, 1, 1, 1, 1})));
    v.push_back(conv("PatchEmbed", {1, 16, 3, 12, 20}, 64, conv_attrs({1, 2, 2}, {}, {1, 2, 2})));
    v.push_back(conv("Conv2dNoBias", {2, 5, 13, 11}, 7, conv_attrs({3, 3}, {1, 1, 1, 1}), false));
    v.push_back(conv("Conv2dCout40", {1, 19, 15, 17}, 40, conv_attrs({3, 3}, {1, 1, 1, 1}), true, 1e-5));
    v.push_back(conv("Conv2dCout20Pointwise", {1, 33, 15, 17}, 20, conv_attrs({1, 1})));
    v.push_back(conv("Conv2dBigTile", {1, 4, 96, 97}, 130, conv_attrs({3, 3}, {1, 1, 1, 1}), true, 1e-5));
    v.push_back(resize("ResizeNearest4d", {2, 3, 5, 7}, {1, 1, 2, 2}, rattrs("nearest", "half_pixel")));
    v.push_back(resize("ResizeNearest5d", {1, 3, 4, 5, 7}, {1, 1, 1, 2, 2},
                       rattrs("nearest", "asymmetric", "floor")));
    v.push_back(resize("ResizeNearest5dT", {1, 3, 4, 5, 7}, {1, 1, 2, 2, 2},
                       rattrs("nearest", "asymmetric", "floor")));
    v.push_back(resize("ResizeNearestDown", {1, 2, 9, 10}, {1, 1, 0.5f, 0.6f},
                       rattrs("nearest", "half_pixel", "round_prefer_ceil")));
    v.push_back(resize("ResizeNearestOpset10", {1, 2, 5, 6}, {1, 1, 2, 3}, AttributeMap{}, 10));
    v.push_back(resize("ResizeLinearAlignCorners", {2, 3, 5, 7}, {1, 1, 2, 2}, rattrs("linear", "align_corners")));
    v.push_back(resize("ResizeLinearHalfPixel", {2, 3, 5, 7}, {1, 1, 2, 2}, rattrs("linear", "half_pixel")));
    v.push_back(resize("ResizeTrilinear", {1, 3, 4, 5, 7}, {1, 1, 2, 2, 2}, rattrs("linear", "half_pixel")));
    v.push_back(resize("ResizeLinearPytorch", {1, 2, 6, 7}, {1, 1, 1.5f, 0.5f}, rattrs("linear", "pytorch_half_pixel")));
    v.push_back(where("WhereSame", {3, 37}, {3, 37}, {3, 37}));
    v.push_back(where("WhereBroadcast", {5, 1, 7}, {1, 6, 7}, {7}));
    return v;
  }();
  return c;
}

VDRT_PARITY_SUITE(ConvParity, cases);

}  // namespace
}  // namespace vdrt::test

// Timing on a real GPU (VDRT_CONV_BENCH=1; skipped otherwise): Wan-width
// convolutions, each followed by a Slice to a few elements so the download
// is negligible. Prints milliseconds per Session::run and TFLOP/s.
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "graph/shape_inference.h"
#include "runtime/session.h"

namespace vdrt::test {
namespace {

double time_graph(std::unique_ptr<Graph> g, int reps) {
  infer_shapes(*g);
  TensorMap inputs = random_inputs(*g, 11);
  SessionOptions o;
  o.device = "vulkan";
  o.cpu_fallback = false;
  Session s(std::move(g), o);
  s.run(inputs);
  s.run(inputs);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) s.run(inputs);
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps;
}

std::unique_ptr<Graph> conv_then_slice(std::vector<int64_t> xdims, int64_t cout, AttributeMap a, bool with_conv) {
  GraphBuilder b(18);
  std::vector<Dim> xd(xdims.begin(), xdims.end());
  Value* x = b.input("x", xd);
  Value* y = x;
  if (with_conv) {
    std::vector<int64_t> k = a.get_ints("kernel_shape");
    std::vector<int64_t> wd{cout, xdims[1]};
    wd.insert(wd.end(), k.begin(), k.end());
    y = b.op("Conv", {x, b.random(wd, 3), b.random({cout}, 5)}, a);
  }
  b.output(b.op("Slice", {y, b.ints({0, 0}), b.ints({1, 4}), b.ints({0, 1})}));
  return b.take();
}

// Timings only, never asserted: run with --gtest_also_run_disabled_tests on a GPU.
TEST(ConvBench, DISABLED_WanShapes) {
  VDRT_REQUIRE_DEVICE("vulkan");
  struct Case { const char* name; std::vector<int64_t> x; int64_t cout; AttributeMap a; double flops; };
  std::vector<Case> cases = {
      {"patch_embed 16->1536 k(1,2,2) s(1,2,2) on 3x60x104", {1, 16, 3, 60, 104}, 1536,
       conv_attrs({1, 2, 2}, {}, {1, 2, 2}), 2.0 * 1536 * 64 * 3 * 30 * 52},
      {"vae conv3d 384->384 3x3x3 on 3x60x104", {1, 384, 3, 60, 104}, 384,
       conv_attrs({3, 3, 3}, {1, 1, 1, 1, 1, 1}), 2.0 * 384 * 384 * 27 * 3 * 60 * 104},
      {"vae conv3d 96->96 3x3x3 on 4x240x416", {1, 96, 4, 240, 416}, 96,
       conv_attrs({3, 3, 3}, {1, 1, 1, 1, 1, 1}), 2.0 * 96 * 96 * 27 * 4 * 240 * 416},
      {"vae conv3d 96->3 3x3x3 on 4x240x416", {1, 96, 4, 240, 416}, 3,
       conv_attrs({3, 3, 3}, {1, 1, 1, 1, 1, 1}), 2.0 * 3 * 96 * 27 * 4 * 240 * 416},
  };
  for (const Case& c : cases) {
    const int reps = 10;
    double with = time_graph(conv_then_slice(c.x, c.cout, c.a, true), reps);
    double base = time_graph(conv_then_slice(c.x, c.cout, c.a, false), reps);
    double ms = with - base;
    std::printf("[ConvBench] %s: %.3f ms per run (%.3f with upload, %.3f baseline), %.2f TFLOP/s\n", c.name, ms, with,
                base, c.flops / (ms * 1e-3) / 1e12);
  }
}

}  // namespace
}  // namespace vdrt::test
