// The Session's run plan on the CPU: view nodes (Reshape, Squeeze, Unsqueeze,
// Flatten, Identity) share their input's bytes without corrupting values read
// later, graph inputs or outputs; plans are found again by input shapes and
// shape-driving contents; per-node profiling counts what ran.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "runtime/op_profile.h"
#include "runtime/session.h"

namespace vdrt::test {
namespace {

Tensor ints(std::vector<int64_t> v) { return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v); }

Tensor random_tensor(std::vector<int64_t> dims, uint32_t seed) {
  Tensor t(DType::F32, dims);
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = nd(rng);
  return t;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.dims() == b.dims() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// x [64, 64] -> Relu -> a -> Reshape [4096] -> b -> Sigmoid -> c
// -> Reshape [64, 64] -> d -> MatMul(d, a) -> e -> Flatten -> f -> Identity -> out;
// a -> Unsqueeze -> Squeeze -> a_back, h = Add(a_back, a) (views of a value
// the MatMul reads later, read beside it) and x -> Unsqueeze -> x_view (a
// view of a graph input: copied). The MatMul writes e while reading d: were
// c's bytes freed at the Reshape, e could be placed over them and read its
// own output. Copying, five [64, 64] buffers are live at the Add; sharing, four.
std::unique_ptr<Graph> view_chain_graph() {
  auto g = std::make_unique<Graph>();
  g->name = "views";
  g->opsets.push_back({"", 17});
  Value* x = g->value("x");
  x->set_dtype(DType::F32);
  x->set_shape(Shape({Dim(64), Dim(64)}));
  g->inputs().push_back(x);
  auto node = [&](const std::string& op, std::vector<Value*> ins, const std::string& out) {
    Value* v = g->value(out);
    g->add_node(op, ins, {v}, op + "_" + out);
    return v;
  };
  Value* a = node("Relu", {x}, "a");
  Value* b = node("Reshape", {a, g->add_constant("flat", ints({4096}))}, "b");
  Value* c = node("Sigmoid", {b}, "c");
  Value* d = node("Reshape", {c, g->add_constant("square", ints({64, 64}))}, "d");
  Value* e = node("MatMul", {d, a}, "e");
  Value* f = node("Flatten", {e}, "f");
  Value* out = node("Identity", {f}, "out");
  Value* a4 = node("Unsqueeze", {a, g->add_constant("axis0", ints({0}))}, "a4");
  Value* a_back = node("Squeeze", {a4, g->value("axis0")}, "a_back");
  Value* h = node("Add", {a_back, a}, "h");
  Value* x_view = node("Unsqueeze", {x, g->value("axis0")}, "x_view");
  g->outputs() = {out, h, x_view};
  return g;
}

TensorMap run_views(bool alias, const Tensor& x, RunStats* stats) {
  SessionOptions o;
  o.device = "cpu";
  o.alias_views = alias;
  Session s(view_chain_graph(), o);
  TensorMap out = s.run({{"x", x}});
  out = s.run({{"x", x}});  // the second run reuses the plan and arena
  if (stats) *stats = s.last_stats();
  return out;
}

TEST(SessionViews, ReshapeChainSharesBytesAndGivesTheSameBits) {
  const Tensor x = random_tensor({64, 64}, 3);
  const Tensor x_before = x.clone();
  RunStats on, off;
  TensorMap with = run_views(true, x, &on);
  TensorMap without = run_views(false, x, &off);
  // Reshape x2, Flatten, Identity, Unsqueeze of a, Squeeze; not the Unsqueeze of the graph input.
  EXPECT_EQ(on.aliased_views, 6u);
  EXPECT_EQ(off.aliased_views, 0u);
  EXPECT_EQ(off.arena_bytes, 5u * 64 * 64 * 4);
  EXPECT_EQ(on.arena_bytes, 4u * 64 * 64 * 4);
  for (const char* name : {"out", "h", "x_view"}) {
    ASSERT_TRUE(with.count(name) && without.count(name)) << name;
    EXPECT_TRUE(same_bits(with.at(name), without.at(name))) << name;
  }
  EXPECT_TRUE(same_bits(x, x_before)) << "the graph input was written";

  // The numbers themselves, computed here.
  std::vector<float> a(4096), e(4096, 0.0f);
  for (int i = 0; i < 4096; ++i) a[i] = std::max(0.0f, x.data<float>()[i]);
  for (int i = 0; i < 64; ++i)
    for (int k = 0; k < 64; ++k) {
      float d = 1.0f / (1.0f + std::exp(-a[i * 64 + k]));
      for (int j = 0; j < 64; ++j) e[i * 64 + j] += d * a[k * 64 + j];
    }
  const Tensor& out = with.at("out");
  EXPECT_EQ(out.dims(), (std::vector<int64_t>{64, 64}));
  double worst = 0;
  for (int i = 0; i < 4096; ++i) worst = std::max(worst, std::abs(double(out.data<float>()[i]) - e[i]));
  EXPECT_LT(worst, 1e-3);
  EXPECT_EQ(with.at("h").dims(), (std::vector<int64_t>{64, 64}));
  for (int i = 0; i < 4096; ++i) ASSERT_EQ(with.at("h").data<float>()[i], a[i] + a[i]) << i;
  EXPECT_EQ(with.at("x_view").dims(), (std::vector<int64_t>{1, 64, 64}));
  EXPECT_EQ(std::memcmp(with.at("x_view").raw(), x.raw(), x.nbytes()), 0);
}

// y = Reshape(x, shape) with `shape` a graph input: its contents drive the plan.
std::unique_ptr<Graph> reshape_by_input_graph() {
  auto g = std::make_unique<Graph>();
  g->opsets.push_back({"", 17});
  Value* x = g->value("x");
  x->set_dtype(DType::F32);
  x->set_shape(Shape({Dim::symbol("n")}));
  Value* shape = g->value("shape");
  shape->set_dtype(DType::I64);
  shape->set_shape(Shape({Dim(2)}));
  g->inputs() = {x, shape};
  Value* r = g->value("r");
  g->add_node("Relu", {x}, {r}, "relu");
  Value* y = g->value("y");
  g->add_node("Reshape", {r, shape}, {y}, "reshape");
  Value* z = g->value("z");
  g->add_node("Neg", {y}, {z}, "neg");
  g->outputs() = {z};
  return g;
}

TEST(SessionPlans, FoundAgainByShapesAndShapeDrivingContents) {
  Session s(reshape_by_input_graph(), SessionOptions{"cpu"});
  const Tensor x12 = random_tensor({12}, 1), x20 = random_tensor({20}, 2);
  struct Case {
    const Tensor* x;
    std::vector<int64_t> shape;
  };
  // Same x shape with other shape contents, another x shape, then back again:
  // a key that left out the contents or the dims would reuse a wrong plan.
  const std::vector<Case> cases = {{&x12, {3, 4}}, {&x12, {4, 3}}, {&x20, {5, 4}}, {&x12, {3, 4}},
                                   {&x12, {2, 6}}, {&x12, {4, 3}}, {&x20, {2, 10}}};
  for (const Case& c : cases) {
    TensorMap out = s.run({{"x", *c.x}, {"shape", ints(c.shape)}});
    const Tensor& z = out.at("z");
    ASSERT_EQ(z.dims(), c.shape);
    for (int64_t i = 0; i < z.numel(); ++i) ASSERT_EQ(z.data<float>()[i], -std::max(0.0f, c.x->data<float>()[i]));
  }
  EXPECT_THROW(s.run({{"x", x12}, {"shape", ints({3, 4})}, {"nope", x12}}), Error);
  EXPECT_THROW(s.run({{"x", x12}}), Error);
}

TEST(SessionProfile, CountsEveryNodeThatRanAndNothingWhenOff) {
  Session s(view_chain_graph(), SessionOptions{"cpu"});
  const Tensor x = random_tensor({64, 64}, 5);
  s.run({{"x", x}});
  EXPECT_EQ(s.profile().runs, 0);
  s.set_profiling(true);
  for (int i = 0; i < 3; ++i) s.run({{"x", x}});
  s.set_profiling(false);
  s.run({{"x", x}});
  const NodeProfile& p = s.profile();
  EXPECT_EQ(p.runs, 3);
  EXPECT_GT(p.run_seconds, 0);
  const auto& nodes = s.graph().nodes();
  ASSERT_EQ(p.calls.size(), nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    const std::string& op = nodes[i]->op_type();
    bool computes = op == "Relu" || op == "Sigmoid" || op == "MatMul" || op == "Add" || nodes[i]->name() == "Unsqueeze_x_view";
    EXPECT_EQ(p.calls[i], computes ? 3 : 0) << nodes[i]->name();
  }
  std::vector<OpTypeTime> rows = op_type_times(s.graph(), p);
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.back().op, kRuntimeRow);
  double percent = 0;
  for (const OpTypeTime& r : rows) percent += r.percent;
  EXPECT_NEAR(percent, 100.0, 0.01);
}

}  // namespace
}  // namespace vdrt::test
