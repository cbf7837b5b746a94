// fuse-gemm-epilogue on hand-built Linear layers: MatMul with its bias Add
// (either order, a [1, 1, N] bias too), Gelu (ONNX and vdrt, erf and tanh),
// residual Add and last-axis Split become one vdrt.FusedMatMul with the same
// outputs; chains stop where an intermediate is used elsewhere; near misses
// are explained; nothing is fused for a device without the kernel.
#include <gtest/gtest.h>

#include "graph_builder.h"
#include "passes/pass_registry.h"
#include "test_util.h"

namespace vdrt {
namespace {

using test::attrs;
using test::GraphBuilder;

PassContext cpu_context() {
  PassContext ctx;
  ctx.device_runs = [](const Node&) { return true; };
  return ctx;
}

// Runs the pass for a device that has the kernel; the outputs must not change.
PassContext fuse_and_compare(GraphBuilder& b, bool expect_change) {
  auto before = b.graph().clone();
  PassContext ctx = cpu_context();
  EXPECT_EQ(test::run_pass("fuse-gemm-epilogue", b.graph(), &ctx), expect_change) << test::explained(ctx);
  auto inputs = test::random_inputs(*before, 3, {{"S", 5}});
  auto want = test::run_graph(*before, inputs);
  auto got = test::run_graph(b.graph(), inputs);
  for (const auto& [name, t] : want) EXPECT_LE(test::max_abs_diff(got.at(name), t), 1e-5) << name;
  return ctx;
}

// A Q/K/V-style Linear on x [1, 6, 16]: MatMul by [16, 40], bias, and a
// Split on the last axis into q, k, v (16, 16, 8), all graph outputs.
void add_qkv_split(GraphBuilder& b, Value* x) {
  Value* y = b.op("Add", {b.op("MatMul", {x, b.random({16, 40}, 1)}), b.random({40}, 2)});
  std::vector<Value*> parts{b.graph().value("q"), b.graph().value("k"), b.graph().value("v")};
  Node* split = b.graph().add_node("Split", {y, b.ints({16, 16, 8})}, parts, "split");
  split->attrs().set("axis", int64_t{2});
  for (Value* p : parts) b.output(p);
}

const Node* only_fused(const Graph& g) {
  const Node* found = nullptr;
  for (const auto& n : g.nodes())
    if (n->qualified_op() == "vdrt.FusedMatMul") {
      EXPECT_EQ(found, nullptr) << "more than one vdrt.FusedMatMul";
      found = n.get();
    }
  return found;
}

TEST(FuseGemmEpilogue, BiasGeluResidualBecomeOneNode) {
  for (const char* domain : {"", "vdrt"}) {
    for (const char* approx : {"none", "tanh"}) {
      SCOPED_TRACE(std::string(domain) + " Gelu " + approx);
      GraphBuilder b(20);
      Value* x = b.input("x", {2, Dim::symbol("S"), 8});
      Value* res = b.input("res", {2, Dim::symbol("S"), 12});
      Value* y = b.op("MatMul", {x, b.random({8, 12}, 1)});
      y = b.op("Add", {b.random({12}, 2), y});
      y = b.op("Gelu", {y}, attrs({{"approximate", std::string(approx)}}), domain);
      b.output(b.op("Add", {y, res}));
      PassContext ctx = fuse_and_compare(b, true);
      EXPECT_TRUE(ctx.explanations().empty()) << test::explained(ctx);
      ASSERT_EQ(b.graph().nodes().size(), 1u);
      const Node* n = only_fused(b.graph());
      ASSERT_NE(n, nullptr);
      EXPECT_EQ(n->attrs().get_string("activation"), std::string(approx) == "tanh" ? "gelu_tanh" : "gelu");
      EXPECT_EQ(n->input(3)->name(), "res");
    }
  }
}

TEST(FuseGemmEpilogue, RowShapedBiasIsStoredAsAVector) {
  GraphBuilder b(17);
  Value* x = b.input("x", {3, 8});
  Value* y = b.op("MatMul", {x, b.random({8, 5}, 1)});
  b.output(b.op("Add", {y, b.random({1, 5}, 2)}));
  fuse_and_compare(b, true);
  const Node* n = only_fused(b.graph());
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->input(2)->constant().dims(), (std::vector<int64_t>{5}));
}

TEST(FuseGemmEpilogue, SplitOnTheLastAxisBecomesTheOutputs) {
  GraphBuilder b(17);
  Value* x = b.input("x", {1, 6, 16});
  add_qkv_split(b, x);
  fuse_and_compare(b, true);
  const Node* n = only_fused(b.graph());
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->attrs().get_ints("split"), (std::vector<int64_t>{16, 16, 8}));
  EXPECT_EQ(n->output(0)->name(), "q");  // the graph's outputs keep their names
  EXPECT_EQ(n->output(2)->name(), "v");
}

// A device that runs vdrt.FusedMatMul with one output only (the GPU
// backends): the bias folds, the Split stays a node reading the fused
// product, and a MatMul followed by nothing but a Split is left alone.
TEST(FuseGemmEpilogue, SplitStaysForADeviceWithoutTheSplitForm) {
  GraphBuilder b(17);
  Value* x = b.input("x", {1, 6, 16});
  add_qkv_split(b, x);
  Value* z = b.op("MatMul", {x, b.random({16, 8}, 3)});
  std::vector<Value*> halves{b.graph().value("z0"), b.graph().value("z1")};
  Node* split2 = b.graph().add_node("Split", {z, b.ints({4, 4})}, halves, "split2");
  split2->attrs().set("axis", int64_t{-1});
  for (Value* h : halves) b.output(h);
  auto before = b.graph().clone();
  PassContext gpu;
  gpu.device_runs = [](const Node& n) { return n.domain().empty() || !n.attrs().has("split"); };
  EXPECT_TRUE(test::run_pass("fuse-gemm-epilogue", b.graph(), &gpu)) << test::explained(gpu);
  const Node* n = only_fused(b.graph());
  ASSERT_NE(n, nullptr);
  EXPECT_FALSE(n->attrs().has("split"));
  EXPECT_EQ(n->inputs().size(), 3u);  // x, w, bias
  EXPECT_EQ(test::count_ops(b.graph(), "Split"), 2);
  EXPECT_EQ(test::count_ops(b.graph(), "MatMul"), 1);
  auto inputs = test::random_inputs(*before, 3, {});
  auto want = test::run_graph(*before, inputs);
  auto got = test::run_graph(b.graph(), inputs);
  for (const auto& [name, t] : want) EXPECT_LE(test::max_abs_diff(got.at(name), t), 1e-5) << name;
}

// quantize-fp8's vdrt.QMatMul (bias inside) followed by a GELU and a
// residual Add: both fold into its epilogue (activation, input 4), with the
// same outputs; a device without that form keeps the graph as it was.
TEST(FuseGemmEpilogue, QMatMulGeluAndResidualFoldIntoIt) {
  GraphBuilder b(17);
  Value* x = b.input("x", {1, 6, 16});
  Value* r = b.input("r", {1, 6, 8});
  Tensor codes(DType::F8E4M3, {16, 8});
  auto* code = static_cast<uint8_t*>(codes.raw());
  for (int64_t i = 0; i < codes.numel(); ++i) code[i] = static_cast<uint8_t>((i * 37) % 120);
  Value* q = b.op("QMatMul", {x, b.constant("w8", codes), b.random({8}, 2), b.random({8}, 3)}, {}, "vdrt");
  AttributeMap tanh_form;
  tanh_form.set("approximate", std::string("tanh"));
  b.output(b.op("Add", {r, b.op("Gelu", {q}, tanh_form)}));
  auto before = b.graph().clone();
  PassContext gpu_without;
  gpu_without.device_runs = [](const Node& n) { return !n.attrs().has("activation"); };
  EXPECT_FALSE(test::run_pass("fuse-gemm-epilogue", b.graph(), &gpu_without));
  EXPECT_EQ(test::count_ops(b.graph(), "Gelu"), 1);
  fuse_and_compare(b, true);
  EXPECT_EQ(test::count_ops(b.graph(), "vdrt.QMatMul"), 1);
  EXPECT_EQ(test::count_ops(b.graph(), "Gelu") + test::count_ops(b.graph(), "Add"), 0);
  for (const auto& n : b.graph().nodes())
    if (n->qualified_op() == "vdrt.QMatMul") {
      EXPECT_EQ(n->attrs().get_string("activation", "none"), "gelu_tanh");
      ASSERT_EQ(n->inputs().size(), 5u);
      EXPECT_EQ(n->input(4), r);
    }
}

TEST(FuseGemmEpilogue, ChainsStopAtSharedIntermediates) {
  GraphBuilder b(20);
  Value* x = b.input("x", {4, 8});
  Value* biased = b.op("Add", {b.op("MatMul", {x, b.random({8, 8}, 1)}), b.random({8}, 2)});
  Value* g = b.op("Gelu", {biased});
  b.output(g);
  b.output(b.op("Mul", {biased, biased}));  // the biased product is read twice: Gelu stays apart
  fuse_and_compare(b, true);
  const Node* n = only_fused(b.graph());
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->attrs().get_string("activation", "none"), "none");
  EXPECT_EQ(test::count_ops(b.graph(), "Gelu"), 1);
}

TEST(FuseGemmEpilogue, PlainMatMulsAndBroadcastAddsStay) {
  GraphBuilder b(17);
  Value* x = b.input("x", {4, 8});
  Value* other = b.input("other", {3, 4, 8});  // broadcasts the product up: no residual
  b.output(b.op("MatMul", {x, b.random({8, 8}, 1)}));
  b.output(b.op("Add", {b.op("MatMul", {x, b.random({8, 8}, 2)}), other}));
  fuse_and_compare(b, false);
}

TEST(FuseGemmEpilogue, NearMissesAreExplained) {
  GraphBuilder b(17);
  Value* x = b.input("x", {4, 8}, DType::F64);
  Tensor w(DType::F64, {8, 3}), bias(DType::F64, {3});
  b.output(b.op("Add", {b.op("MatMul", {x, b.constant("w64", w)}), b.constant("b64", bias)}));
  Value* x2 = b.input("x2", {4, 8});
  Value* parts = b.op("Add", {b.op("MatMul", {x2, b.random({8, 6}, 1)}), b.random({6}, 2)});
  Node* split = b.graph().add_node("Split", {parts, b.input("sizes", {2}, DType::I64)},
                                   {b.graph().value("p0"), b.graph().value("p1")}, "split_at_run_time");
  split->attrs().set("axis", int64_t{-1});
  b.output(b.graph().find_value("p0"));
  b.output(b.graph().find_value("p1"));
  PassContext ctx = cpu_context();
  EXPECT_TRUE(test::run_pass("fuse-gemm-epilogue", b.graph(), &ctx));
  const std::string why = test::explained(ctx);
  EXPECT_NE(why.find("'x' is f64, not float32"), std::string::npos) << why;
  EXPECT_NE(why.find("sizes of its outputs are not known; Split not folded"), std::string::npos) << why;
  EXPECT_EQ(test::count_ops(b.graph(), "vdrt.FusedMatMul"), 1);  // x2's Linear, bias only
  EXPECT_EQ(test::count_ops(b.graph(), "Split"), 1);
}

TEST(FuseGemmEpilogue, OnlyForADeviceThatRunsIt) {
  GraphBuilder b(17);
  Value* x = b.input("x", {4, 8});
  b.output(b.op("Add", {b.op("MatMul", {x, b.random({8, 8}, 1)}), b.random({8}, 2)}));
  PassContext none;  // no device known
  EXPECT_FALSE(test::run_pass("fuse-gemm-epilogue", b.graph(), &none));
  PassContext gpu;
  gpu.device_runs = [](const Node& n) { return n.domain().empty(); };
  EXPECT_FALSE(test::run_pass("fuse-gemm-epilogue", b.graph(), &gpu));
  EXPECT_EQ(test::count_ops(b.graph(), "vdrt.FusedMatMul"), 0);
  auto pass = PassRegistry::instance().create("fuse-gemm-epilogue");
  PassOptions o;
  o.set("fuse_for_any_device", true);
  pass->configure(o);
  PassContext any;
  EXPECT_TRUE(pass->run(b.graph(), any));
  EXPECT_EQ(test::count_ops(b.graph(), "vdrt.FusedMatMul"), 1);
}

}  // namespace
}  // namespace vdrt
