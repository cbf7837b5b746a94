// What the importer makes of well-formed models: constants versus inputs,
// symbolic shapes, attributes, node names, opsets, domains and metadata.
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include "graph/error.h"
#include "importer/onnx_import.h"
#include "proto_builder.h"
#include "test_util.h"

namespace vdrt {
namespace {

std::unique_ptr<Graph> load_proto(const onnx::ModelProto& m) {
  return load_onnx_bytes(test::to_bytes(m), ".", "test.onnx");
}

const Node* find_node(const Graph& g, const std::string& name) {
  for (const auto& n : g.nodes())
    if (n->name() == name) return n.get();
  return nullptr;
}

TEST(Import, SmallModelWrittenByPythonOnnx) {
  auto g = load_onnx(test::source_path("tests/data/importer/small_model.onnx"));
  EXPECT_EQ(g->name, "small");
  EXPECT_EQ(g->ir_version, 8);
  EXPECT_EQ(g->producer_name, "make_data.py");
  EXPECT_EQ(g->producer_version, "1");
  EXPECT_EQ(g->opset(""), 18);
  EXPECT_EQ(g->opset("com.example"), 1);
  EXPECT_EQ(g->metadata.at("vdrt.kind"), "test");
  EXPECT_EQ(g->metadata.at("note"), "small model");

  // Initializers are constants, not graph inputs.
  ASSERT_EQ(g->inputs().size(), 1u);
  const Value* x = g->inputs()[0];
  EXPECT_EQ(x->name(), "x");
  EXPECT_EQ(x->dtype(), DType::F32);
  ASSERT_EQ(x->shape().rank(), 2u);
  EXPECT_TRUE(x->shape()[0].is_symbol());
  EXPECT_EQ(x->shape()[0].name(), "batch");
  EXPECT_EQ(x->shape()[1], Dim(4));
  const Value* w = g->find_value("w");
  ASSERT_TRUE(w && w->is_constant());
  EXPECT_EQ(w->constant().dims(), (std::vector<int64_t>{4, 4}));
  EXPECT_FLOAT_EQ(w->constant().data<float>()[15], 15.f / 8);
  EXPECT_EQ(g->find_value("shape")->constant().as_int64(), (std::vector<int64_t>{0, -1}));

  // Outputs keep their declared types; value_info describes intermediates.
  ASSERT_EQ(g->outputs().size(), 2u);
  EXPECT_EQ(g->outputs()[0]->dtype(), DType::F16);
  EXPECT_EQ(g->outputs()[0]->shape().str(), Shape({Dim(4), Dim::symbol("batch")}).str());
  EXPECT_EQ(g->find_value("xw")->dtype(), DType::F32);
  const Shape& act = g->find_value("act")->shape();
  ASSERT_EQ(act.rank(), 2u);
  EXPECT_TRUE(act[1].unknown());
  EXPECT_FALSE(g->find_value("xwb")->shape().rank_known());  // no value_info for it

  ASSERT_EQ(g->nodes().size(), 9u);
  // Unnamed nodes are named "<op>_<index in the file>".
  EXPECT_NE(find_node(*g, "Add_1"), nullptr);
  EXPECT_NE(find_node(*g, "Mul_4"), nullptr);
  const Node* c = find_node(*g, "const");
  ASSERT_NE(c, nullptr);  // Constant nodes stay nodes; a pass folds them
  EXPECT_EQ(c->attrs().get_tensor("value").data<float>()[0], 0.25f);
  EXPECT_EQ(find_node(*g, "leaky")->attrs().get_float("alpha"), 0.125f);
  EXPECT_EQ(find_node(*g, "transpose")->attrs().get_ints("perm"), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(find_node(*g, "cast")->attrs().get_int("to"), 10);
  const Node* probe = find_node(*g, "probe");
  ASSERT_NE(probe, nullptr);
  EXPECT_EQ(probe->domain(), "com.example");
  EXPECT_EQ(probe->qualified_op(), "com.example.Probe");
  EXPECT_EQ(probe->attrs().get_strings("labels"), (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(probe->attrs().get_floats("weights"), (std::vector<float>{1.5f, -2.f}));
  EXPECT_EQ(probe->attrs().get_string("mode"), "fast");
  EXPECT_EQ(probe->attrs().get_int("count"), 3);
}

TEST(Import, InitializerListedAsInputIsAConstant) {
  onnx::ModelProto m = test::add_initializer_model();
  test::set_tensor_type(m.mutable_graph()->add_input(), "w", onnx::TensorProto::FLOAT, {"4"});
  m.set_ir_version(3);  // IR < 4 had to list initializers as inputs
  auto g = load_proto(m);
  ASSERT_EQ(g->inputs().size(), 1u);
  EXPECT_EQ(g->inputs()[0]->name(), "x");
  ASSERT_TRUE(g->find_value("w")->is_constant());
  EXPECT_EQ(g->find_value("w")->constant().as_double(), (std::vector<double>{1, 2, 3, 4}));
}

// Collects what the default logger prints at warning level while alive.
class CapturedWarnings {
 public:
  CapturedWarnings() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(32)) {
    spdlog::default_logger()->sinks().push_back(sink_);
    level_ = spdlog::default_logger()->level();
    spdlog::set_level(spdlog::level::warn);
  }
  ~CapturedWarnings() {
    auto& sinks = spdlog::default_logger()->sinks();
    sinks.erase(std::find(sinks.begin(), sinks.end(), sink_));
    spdlog::set_level(level_);
  }
  std::string text() const {
    std::string all;
    for (const auto& line : sink_->last_formatted()) all += line;
    return all;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  spdlog::level::level_enum level_;
};

TEST(Import, OpsetsOutsideTheSupportedRangeWarn) {
  CapturedWarnings warnings;
  onnx::ModelProto m = test::relu_model();
  m.mutable_opset_import(0)->set_version(12);
  load_proto(m);
  EXPECT_NE(warnings.text().find("ai.onnx opset 12 is outside the supported range 13..23"), std::string::npos)
      << warnings.text();
  CapturedWarnings quiet;
  load_proto(test::relu_model());  // opset 18: nothing to say
  EXPECT_EQ(quiet.text(), "");
}

TEST(Import, OldOpsetsLoadAndAiOnnxDomainIsNormalised) {
  onnx::ModelProto m = test::relu_model();
  m.mutable_opset_import(0)->set_domain("ai.onnx");
  m.mutable_opset_import(0)->set_version(9);
  m.mutable_graph()->mutable_node(0)->set_domain("ai.onnx");
  auto g = load_proto(m);
  EXPECT_EQ(g->opset(""), 9);
  EXPECT_EQ(g->nodes()[0]->domain(), "");
  EXPECT_EQ(g->nodes()[0]->qualified_op(), "Relu");
}

TEST(Import, UnknownOpsAndDomainsImport) {
  onnx::ModelProto m = test::relu_model();
  auto* g = m.mutable_graph();
  test::add_node(g, "NoSuchOp", {"y"}, {"a"}, "unknown_op");
  test::add_node(g, "Thing", {"a"}, {"b"}, "custom")->set_domain("org.example.custom");
  test::add_node(g, "MultiHeadAttention", {"b"}, {"c"}, "mha")->set_domain("com.microsoft");
  test::add_node(g, "Fused", {"c"}, {"d"}, "fused")->set_domain("vdrt");
  for (const char* d : {"org.example.custom", "com.microsoft", "vdrt"}) {
    auto* op = m.add_opset_import();
    op->set_domain(d);
    op->set_version(1);
  }
  g->mutable_output(0)->set_name("d");
  auto graph = load_proto(m);
  ASSERT_EQ(graph->nodes().size(), 5u);
  EXPECT_EQ(graph->nodes()[2]->qualified_op(), "org.example.custom.Thing");
  EXPECT_EQ(graph->nodes()[4]->qualified_op(), "vdrt.Fused");
  EXPECT_EQ(graph->opset("vdrt"), 1);
}

TEST(Import, NodesInAnyOrderAreSorted) {
  onnx::ModelProto m = test::relu_model();
  auto* g = m.mutable_graph();
  g->clear_node();
  test::add_node(g, "Neg", {"t"}, {"y"}, "second");
  test::add_node(g, "Relu", {"x"}, {"t"}, "first");
  auto graph = load_proto(m);
  ASSERT_EQ(graph->nodes().size(), 2u);
  EXPECT_EQ(graph->nodes()[0]->name(), "first");
  EXPECT_EQ(graph->nodes()[1]->name(), "second");
}

TEST(Import, NodeReadingOneValueTwiceIsNotACycle) {
  onnx::ModelProto m = test::relu_model();
  auto* g = m.mutable_graph();
  g->clear_node();
  test::add_node(g, "Mul", {"r", "r"}, {"y"}, "square");  // listed before its producer
  test::add_node(g, "Relu", {"x"}, {"r"}, "relu");
  auto graph = load_proto(m);
  EXPECT_EQ(graph->nodes()[0]->name(), "relu");
  EXPECT_EQ(graph->nodes()[1]->name(), "square");
}

TEST(Import, GeneratedNodeNamesAvoidExplicitOnes) {
  onnx::ModelProto m = test::relu_model();
  auto* g = m.mutable_graph();
  g->clear_node();
  test::add_node(g, "Relu", {"x"}, {"a"}, "Relu_1");  // collides with what node 1 would get
  test::add_node(g, "Relu", {"a"}, {"b"});
  test::add_node(g, "Relu", {"b"}, {"y"});
  auto graph = load_proto(m);
  std::vector<std::string> names;
  for (const auto& n : graph->nodes()) names.push_back(n->name());
  EXPECT_EQ(names, (std::vector<std::string>{"Relu_1", "Relu_1_1", "Relu_2"}));
}

TEST(Import, AbsentOptionalInputsAndOutputsAreNull) {
  onnx::ModelProto m = test::relu_model();
  auto* g = m.mutable_graph();
  g->clear_node();
  test::add_node(g, "Clip", {"x", "", "hi"}, {"y"}, "clip");
  test::add_node(g, "Dropout", {"x"}, {"d", ""}, "drop");
  auto* hi = g->add_initializer();
  hi->set_name("hi");
  hi->set_data_type(onnx::TensorProto::FLOAT);
  hi->add_float_data(6.f);
  auto graph = load_proto(m);
  const Node* clip = graph->nodes()[0]->name() == "clip" ? graph->nodes()[0].get() : graph->nodes()[1].get();
  ASSERT_EQ(clip->inputs().size(), 3u);
  EXPECT_EQ(clip->input(1), nullptr);
  EXPECT_TRUE(clip->input(2)->is_constant());
  EXPECT_TRUE(clip->input(2)->constant().dims().empty());
  const Node* drop = clip == graph->nodes()[0].get() ? graph->nodes()[1].get() : graph->nodes()[0].get();
  ASSERT_EQ(drop->outputs().size(), 2u);
  EXPECT_EQ(drop->output(1), nullptr);
}

TEST(Import, MissingTypesAndDimsStayUnknown) {
  onnx::ModelProto m = test::relu_model();
  auto* g = m.mutable_graph();
  g->mutable_output(0)->clear_type();
  g->mutable_input(0)->clear_type();
  test::set_tensor_type(g->mutable_input(0), "x", onnx::TensorProto::FLOAT, {"", "4"});
  auto graph = load_proto(m);
  EXPECT_TRUE(graph->inputs()[0]->shape()[0].unknown());
  EXPECT_EQ(graph->outputs()[0]->dtype(), DType::Undefined);
  EXPECT_FALSE(graph->outputs()[0]->shape().rank_known());
}

TEST(Import, AttributeTypeIsDeducedWhenUnset) {
  onnx::ModelProto m = test::relu_model();
  auto* n = m.mutable_graph()->mutable_node(0);
  auto* a = n->add_attribute();
  a->set_name("ints");
  a->add_ints(3);
  auto* f = n->add_attribute();
  f->set_name("f");
  f->set_f(0.5f);
  auto graph = load_proto(m);
  EXPECT_EQ(graph->nodes()[0]->attrs().get_ints("ints"), std::vector<int64_t>{3});
  EXPECT_EQ(graph->nodes()[0]->attrs().get_float("f"), 0.5f);
}

TEST(Import, LoadOnnxBytesLabelsErrors) {
  try {
    load_onnx_bytes("", ".", "in-memory denoiser");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.site().file, "in-memory denoiser");
  }
}

}  // namespace
}  // namespace vdrt
