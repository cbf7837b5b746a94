// store-f16: the named inputs and outputs become float16 at the interface
// (names kept, a Cast each), and the graph computes what it computed on the
// inputs rounded to f16, giving its outputs rounded to f16. Checked on the
// CPU against the untouched graph.
#include <gtest/gtest.h>

#include "graph/shape_inference.h"
#include "graph_builder.h"
#include "passes/pass_registry.h"
#include "test_util.h"

namespace vdrt {
namespace {

using test::GraphBuilder;

bool run_store_f16(Graph& g, StringList inputs, StringList outputs, PassContext& ctx) {
  std::unique_ptr<Pass> pass = PassRegistry::instance().create("store-f16");
  PassOptions o;
  o.set("inputs", std::move(inputs));
  o.set("outputs", std::move(outputs));
  pass->configure(o);
  const bool changed = pass->run(g, ctx);
  g.validate();
  return changed;
}

const Value* graph_input(const Graph& g, const std::string& name) {
  for (const Value* v : g.inputs())
    if (v->name() == name) return v;
  return nullptr;
}
const Value* graph_output(const Graph& g, const std::string& name) {
  for (const Value* v : g.outputs())
    if (v->name() == name) return v;
  return nullptr;
}

// present.0 = Relu(past.0) + Sigmoid(w), read again inside (sq =
// present.0^2); other = Neg(past.0); count (int32) passes through an Add.
std::unique_ptr<Graph> cache_like_graph() {
  GraphBuilder b(18);
  Value* past = b.input("past.0", {2, 7});
  Value* w = b.op("Sigmoid", {b.input("w", {2, 7})});  // computed before past.0 is read
  Value* count = b.input("past.count", {1}, DType::I32);
  Graph& g = b.graph();
  Value* present = g.value("present.0");
  g.add_node("Add", {b.op("Relu", {past}), w}, {present}, "add");
  b.output(present);
  b.output(b.op("Mul", {present, present}));
  b.output(b.op("Neg", {past}));
  b.output(b.op("Add", {count, count}));
  std::unique_ptr<Graph> g_out = b.take();
  infer_shapes(*g_out);
  return g_out;
}

TEST(StoreF16, NamedInputsAndOutputsBecomeHalfAndTheRestComputesAsBefore) {
  std::unique_ptr<Graph> before = cache_like_graph();
  std::unique_ptr<Graph> after = before->clone();
  PassContext ctx;
  ASSERT_TRUE(run_store_f16(*after, {"past.*"}, {"present.*"}, ctx)) << test::explained(ctx);
  EXPECT_EQ(graph_input(*after, "past.0")->dtype(), DType::F16);
  EXPECT_EQ(graph_input(*after, "w")->dtype(), DType::F32);
  EXPECT_EQ(graph_input(*after, "past.count")->dtype(), DType::I32);  // matched, not float32: left alone
  EXPECT_NE(test::explained(ctx).find("past.count"), std::string::npos) << test::explained(ctx);
  EXPECT_EQ(graph_output(*after, "present.0")->dtype(), DType::F16);
  EXPECT_EQ(after->outputs().size(), before->outputs().size());
  for (size_t i = 1; i < after->outputs().size(); ++i)
    EXPECT_EQ(after->outputs()[i]->dtype(), before->outputs()[i]->dtype()) << after->outputs()[i]->name();
  EXPECT_EQ(test::count_ops(*after, "Cast"), 2);
  EXPECT_EQ(test::count_ops(*after, "Add"), 2);
  // Each cast sits where its value is needed, also after a (stable) sort, so
  // that a cache of many layers is never held in f32 all at once: past.0's
  // just before its first reader (after the Sigmoid, which does not read
  // it), present.0's just after its producer.
  after->sort();
  std::vector<std::string> order;
  for (const auto& n : after->nodes()) order.push_back(n->op_type());
  EXPECT_EQ(order, (std::vector<std::string>{"Sigmoid", "Cast", "Relu", "Add", "Cast", "Mul", "Neg", "Add"}));

  // The untouched graph on past.0 rounded to f16 computes the same floats.
  TensorMap in = test::random_inputs(*before, 5);
  in["past.0"] = in.at("past.0").to(DType::F16).to(DType::F32);
  const TensorMap want = test::run_graph(*before, in);
  TensorMap half_in = in;
  half_in["past.0"] = in.at("past.0").to(DType::F16);
  const TensorMap got = test::run_graph(*after, half_in);
  ASSERT_EQ(got.at("present.0").dtype(), DType::F16);
  // Rounded once, at the output: equal to the reference rounded the same way.
  EXPECT_EQ(test::max_abs_diff(got.at("present.0").to(DType::F32), want.at("present.0").to(DType::F16).to(DType::F32)), 0.0);
  for (const auto& [name, t] : want) {
    if (name == "present.0") continue;
    EXPECT_EQ(got.at(name).dtype(), t.dtype()) << name;
    EXPECT_EQ(test::max_abs_diff(got.at(name), t), 0.0) << name << ": computed from the f32 product, not the f16 output";
  }
}

TEST(StoreF16, NothingMatchedChangesNothing) {
  std::unique_ptr<Graph> g = cache_like_graph();
  PassContext ctx;
  EXPECT_FALSE(run_store_f16(*g, {"kv.*"}, {}, ctx));
  EXPECT_EQ(test::count_ops(*g, "Cast"), 0);
  EXPECT_EQ(graph_input(*g, "past.0")->dtype(), DType::F32);
}

}  // namespace
}  // namespace vdrt
