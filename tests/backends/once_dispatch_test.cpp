// Dispatch::once (weights prepared at a program's first run only, then kept
// in its scratch) on every GPU backend, with a test-only op whose plan has
// one: the tensor-core kernels that use it run only on the H200, so CI
// checks the backends' side here. vdrt_test.OnceProbe(x, w) = x (w^2 + w) + x,
// w^2 + w computed once into scratch by muladd, then muladd with x. And a
// plan whose once dispatch reads a non-constant input is refused.
#include <gtest/gtest.h>

#include <cmath>

#include "backends/parity.h"
#include "graph/op_registry.h"
#include "kernels/gpu/gpu_kernel.h"
#include "runtime/session.h"

namespace vdrt::test {
namespace {

// muladd's same-shape mode (MODE 1): y = a * (b + 0) + c over n elements;
// its parameter block (n, dims, three stride sets, offset) is used for n only.
gpu::Dispatch muladd_same_shape(gpu::Arg a, gpu::Arg b, gpu::Arg c, gpu::Arg y, uint32_t n, const gpu::DeviceCaps& caps) {
  gpu::Dispatch d;
  d.shader = "muladd";
  d.spec = {1u};
  d.args = {a, b, c, y};
  d.writes = {false, false, false, true};
  d.u32(n);
  for (int i = 0; i < 24; ++i) d.u32(0);
  d.f32(0.0f);
  gpu::set_groups_1d(d, n, 256, caps);
  return d;
}

gpu::Program plan_probe(const gpu::KernelArgs& a, gpu::Arg once_source) {
  const uint32_t n = static_cast<uint32_t>(a.outputs[0].numel());
  gpu::Program p;
  p.scratch_bytes = {size_t(n) * 4};
  gpu::Dispatch prep = muladd_same_shape(once_source, once_source, once_source, gpu::scratch(0), n, a.caps);
  prep.once = true;
  p.dispatches.push_back(prep);
  p.dispatches.push_back(muladd_same_shape(gpu::in(0), gpu::scratch(0), gpu::in(0), gpu::out(0), n, a.caps));
  return p;
}

VDRT_REGISTER_OP("vdrt_test", "OnceProbe").inputs(2, 2).set_infer(same_as_input(0));
VDRT_REGISTER_OP("vdrt_test", "OnceProbeReadsX").inputs(2, 2).set_infer(same_as_input(0));
VDRT_GPU_KERNEL("vdrt_test", "OnceProbe", [](const gpu::KernelArgs& a) { return plan_probe(a, gpu::in(1)); },
                [](const Node&, const gpu::DeviceCaps&) { return true; });
VDRT_GPU_KERNEL("vdrt_test", "OnceProbeReadsX", [](const gpu::KernelArgs& a) { return plan_probe(a, gpu::in(0)); },
                [](const Node&, const gpu::DeviceCaps&) { return true; });

std::unique_ptr<Graph> probe_graph(const std::string& op, const std::vector<float>& w) {
  auto g = std::make_unique<Graph>();
  g->name = "once";
  g->opsets = {{"", 18}, {"vdrt_test", 1}};
  Value* x = g->value("x");
  x->set_dtype(DType::F32);
  x->set_shape(Shape(std::vector<Dim>{3, 37}));
  g->inputs().push_back(x);
  Value* y = g->value("y");
  g->add_node(op, {x, g->add_constant("w", Tensor::from_vector<float>({3, 37}, w))}, {y}, "probe", "vdrt_test");
  g->outputs().push_back(y);
  return g;
}

class OnceDispatch : public testing::TestWithParam<std::string> {};

TEST_P(OnceDispatch, PreparedAtTheFirstRunAndKeptForTheNext) {
  VDRT_REQUIRE_DEVICE(GetParam());
  std::vector<float> w(3 * 37);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.25f * float(int(i % 9) - 4);
  SessionOptions o;
  o.device = GetParam();
  o.cpu_fallback = false;
  Session s(probe_graph("OnceProbe", w), o);
  for (int run = 0; run < 3; ++run) {
    std::vector<float> x(w.size());
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(run + 1) * 0.5f - 0.125f * float(i % 5);
    const Tensor y = s.run({{"x", Tensor::from_vector<float>({3, 37}, x)}}).at("y");
    const std::vector<double> got = y.as_double();
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = double(x[i]) * (double(w[i]) * w[i] + w[i]) + x[i];  // exact in f32 for these values
      ASSERT_EQ(got[i], want) << "run " << run << ", element " << i;
    }
  }
}

TEST_P(OnceDispatch, APlanWhoseOnceDispatchReadsAnActivationIsRefused) {
  VDRT_REQUIRE_DEVICE(GetParam());
  SessionOptions o;
  o.device = GetParam();
  o.cpu_fallback = false;
  try {
    Session s(probe_graph("OnceProbeReadsX", std::vector<float>(3 * 37, 1.0f)), o);
    s.run({{"x", Tensor(DType::F32, {3, 37})}});
    FAIL() << "the plan was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("runs once but binds more than constants and scratch"), std::string::npos)
        << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, OnceDispatch, testing::ValuesIn(gpu_backends()),
                         [](const testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
}  // namespace vdrt::test
