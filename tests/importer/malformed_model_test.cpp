// Bad input: every defect must surface as a vdrt::Error that names the file,
// and the node/op/initializer where one is involved. Nothing may crash.
#include <gtest/gtest.h>

#include <random>

#include "graph/error.h"
#include "importer/onnx_import.h"
#include "proto_builder.h"
#include "temp_dir.h"
#include "test_util.h"

namespace vdrt {
namespace {

// Loads `bytes` from a file called `name` in a fresh folder and returns the
// error; fails the test if loading succeeds.
Error load_error(const std::string& bytes, const std::string& name = "model.onnx") {
  test::TempDir dir;
  std::string path = dir.file(name);
  test::write_bytes(path, bytes);
  try {
    load_onnx(path);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_EQ(e.site().file, path);
    return e;
  }
  ADD_FAILURE() << "loading succeeded";
  return Error("loading succeeded");
}

void expect_in(const std::string& needle, const Error& e) {
  EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "'" << needle << "' not in: " << e.what();
}

TEST(Malformed, MissingFileAndDirectory) {
  test::TempDir dir;
  try {
    load_onnx(dir.file("absent.onnx"));
    FAIL();
  } catch (const Error& e) {
    expect_in("absent.onnx", e);
    expect_in("does not exist", e);
  }
  try {
    load_onnx(dir.path().string());
    FAIL();
  } catch (const Error& e) {
    expect_in("not a regular file", e);
  }
}

TEST(Malformed, EmptyFile) {
  Error e = load_error("", "empty.onnx");
  expect_in("not a valid ONNX model (truncated or corrupt?)", e);
}

TEST(Malformed, GarbageBytes) {
  std::mt19937 rng(1234);
  for (size_t size : {1u, 7u, 64u, 4096u}) {
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    Error e = load_error(bytes, "garbage.onnx");
    expect_in("garbage.onnx", e);
  }
  expect_in("not a valid ONNX model", load_error("this is not a model at all, just some text\n"));
}

TEST(Malformed, TruncatedAtEveryLength) {
  const std::string path = test::source_path("tests/data/importer/small_model.onnx");
  const std::string full = test::read_bytes(path);
  auto whole = load_onnx(path);
  size_t failures = 0;
  for (size_t len = 0; len < full.size(); ++len) {
    SCOPED_TRACE("length " + std::to_string(len));
    try {
      auto g = load_onnx_bytes(full.substr(0, len), ".", "cut.onnx");
      // Cutting between top-level fields after the graph only loses trailing
      // opset imports or metadata entries; the graph itself must be whole.
      EXPECT_EQ(g->nodes().size(), whole->nodes().size());
      EXPECT_EQ(g->outputs().size(), whole->outputs().size());
      EXPECT_LT(g->metadata.size() + g->opsets.size(), whole->metadata.size() + whole->opsets.size());
    } catch (const Error& e) {
      ++failures;
      EXPECT_EQ(e.site().file, "cut.onnx");
    }
  }
  EXPECT_GT(failures, full.size() * 9 / 10);
  // And through real files, for a sample of lengths.
  for (size_t len : {size_t{1}, size_t{10}, full.size() / 3, full.size() / 2, full.size() * 3 / 4})
    load_error(full.substr(0, len), "truncated.onnx");
}

TEST(Malformed, ModelWithoutGraph) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  expect_in("not a valid ONNX model (truncated or corrupt?)", load_error(test::to_bytes(m)));
}

TEST(Malformed, NoNodesButClaimedOutputs) {
  onnx::ModelProto m = test::relu_model();
  m.mutable_graph()->clear_node();
  expect_in("not a valid ONNX model (truncated or corrupt?)", load_error(test::to_bytes(m)));
}

TEST(Malformed, UndefinedNodeInputNamesNodeAndInput) {
  onnx::ModelProto m = test::relu_model();
  m.mutable_graph()->mutable_node(0)->add_input("ghost");
  Error e = load_error(test::to_bytes(m));
  EXPECT_EQ(e.site().node, "relu");
  EXPECT_EQ(e.site().op, "Relu");
  expect_in("input 'ghost' is not defined", e);
}

TEST(Malformed, GraphAttributeNamesNodeAndOp) {
  onnx::ModelProto m = test::relu_model();
  auto* g = m.mutable_graph();
  g->clear_node();
  auto* cond = g->add_initializer();
  cond->set_name("cond");
  cond->set_data_type(onnx::TensorProto::BOOL);
  cond->add_int32_data(1);
  auto* n = test::add_node(g, "If", {"cond"}, {"y"}, "branch");
  auto* a = n->add_attribute();
  a->set_name("then_branch");
  a->set_type(onnx::AttributeProto::GRAPH);
  a->mutable_g()->set_name("then");
  Error e = load_error(test::to_bytes(m));
  EXPECT_EQ(e.site().node, "branch");
  EXPECT_EQ(e.site().op, "If");
  expect_in("unsupported attribute kind GRAPH", e);
  expect_in("then_branch", e);
}

TEST(Malformed, OtherUnsupportedAttributeKinds) {
  for (auto kind : {onnx::AttributeProto::SPARSE_TENSOR, onnx::AttributeProto::TYPE_PROTO,
                    onnx::AttributeProto::TENSORS}) {
    onnx::ModelProto m = test::relu_model();
    auto* a = m.mutable_graph()->mutable_node(0)->add_attribute();
    a->set_name("odd");
    a->set_type(kind);
    Error e = load_error(test::to_bytes(m));
    EXPECT_EQ(e.site().node, "relu");
    expect_in("unsupported attribute kind", e);
  }
  onnx::ModelProto m = test::relu_model();
  m.mutable_graph()->mutable_node(0)->add_attribute()->set_name("empty");
  expect_in("has no type", load_error(test::to_bytes(m)));
}

TEST(Malformed, UnsupportedInitializerDtypeNamesInitializer) {
  for (auto [type, name] : {std::pair{onnx::TensorProto::STRING, "STRING"},
                            std::pair{onnx::TensorProto::UINT16, "UINT16"},
                            std::pair{onnx::TensorProto::COMPLEX64, "COMPLEX64"}}) {
    onnx::ModelProto m = test::add_initializer_model();
    auto* w = m.mutable_graph()->mutable_initializer(0);
    w->clear_float_data();
    w->set_data_type(type);
    Error e = load_error(test::to_bytes(m));
    expect_in("initializer 'w'", e);
    expect_in(name, e);
  }
  onnx::ModelProto m = test::add_initializer_model();
  m.mutable_graph()->mutable_initializer(0)->set_data_type(22);  // INT4
  expect_in("INT4", load_error(test::to_bytes(m)));
}

TEST(Malformed, InitializerDataThatDoesNotFitItsShape) {
  onnx::ModelProto m = test::add_initializer_model();
  m.mutable_graph()->mutable_initializer(0)->add_dims(2);  // [4, 2] but 4 values
  Error e = load_error(test::to_bytes(m));
  expect_in("initializer 'w' holds 4 values", e);

  m = test::add_initializer_model();
  auto* w = m.mutable_graph()->mutable_initializer(0);
  w->clear_float_data();
  w->set_raw_data(std::string(15, '\0'));
  expect_in("15 bytes of raw data", load_error(test::to_bytes(m)));

  m = test::add_initializer_model();
  m.mutable_graph()->mutable_initializer(0)->set_dims(0, -4);
  expect_in("negative dimension", load_error(test::to_bytes(m)));

  // A huge claimed shape must be refused before anything is allocated.
  m = test::add_initializer_model();
  w = m.mutable_graph()->mutable_initializer(0);
  w->set_dims(0, int64_t{1} << 40);
  w->add_dims(int64_t{1} << 40);
  expect_in("impossibly large", load_error(test::to_bytes(m)));
  m = test::add_initializer_model();
  m.mutable_graph()->mutable_initializer(0)->set_dims(0, int64_t{1} << 40);
  expect_in("initializer 'w' holds 4 values", load_error(test::to_bytes(m)));
}

TEST(Malformed, DuplicateDefinitions) {
  onnx::ModelProto m = test::add_initializer_model();
  *m.mutable_graph()->add_initializer() = m.graph().initializer(0);
  expect_in("initializer 'w' is defined twice", load_error(test::to_bytes(m)));

  m = test::relu_model();
  test::add_node(m.mutable_graph(), "Neg", {"x"}, {"y"}, "again");
  Error e = load_error(test::to_bytes(m));
  EXPECT_EQ(e.site().node, "again");
  expect_in("produced by more than one node", e);

  m = test::relu_model();
  test::add_node(m.mutable_graph(), "Neg", {"y"}, {"x"}, "clobber");
  expect_in("redefines a graph input", load_error(test::to_bytes(m)));
}

TEST(Malformed, UndefinedGraphOutput) {
  onnx::ModelProto m = test::relu_model();
  m.mutable_graph()->mutable_output(0)->set_name("nowhere");
  expect_in("graph output 'nowhere'", load_error(test::to_bytes(m)));
}

TEST(Malformed, Cycle) {
  onnx::ModelProto m = test::relu_model();
  auto* g = m.mutable_graph();
  g->clear_node();
  test::add_node(g, "Add", {"x", "b"}, {"a"}, "first");
  test::add_node(g, "Relu", {"a"}, {"b"}, "second");
  test::add_node(g, "Relu", {"a"}, {"y"}, "out");
  expect_in("cycle", load_error(test::to_bytes(m)));
}

TEST(Malformed, NonTensorAndUnsupportedGraphInputs) {
  onnx::ModelProto m = test::relu_model();
  auto* in = m.mutable_graph()->mutable_input(0);
  in->mutable_type()->mutable_sequence_type()->mutable_elem_type()->mutable_tensor_type()->set_elem_type(1);
  Error e = load_error(test::to_bytes(m));
  expect_in("graph input 'x' has a sequence type", e);

  m = test::relu_model();
  m.mutable_graph()->mutable_input(0)->mutable_type()->mutable_tensor_type()->set_elem_type(8);
  expect_in("graph input 'x' has element type STRING", load_error(test::to_bytes(m)));
}

TEST(Malformed, SparseInitializer) {
  onnx::ModelProto m = test::relu_model();
  auto* s = m.mutable_graph()->add_sparse_initializer();
  s->mutable_values()->set_name("sparse_w");
  expect_in("sparse initializer 'sparse_w'", load_error(test::to_bytes(m)));
}

TEST(Malformed, OnnxOpsWithoutOnnxOpsetImport) {
  onnx::ModelProto m = test::relu_model();
  m.clear_opset_import();
  Error e = load_error(test::to_bytes(m));
  EXPECT_EQ(e.site().node, "relu");
  expect_in("imports no ai.onnx opset", e);
}

TEST(Malformed, NodeWithoutOpType) {
  onnx::ModelProto m = test::relu_model();
  m.mutable_graph()->mutable_node(0)->clear_op_type();
  expect_in("no op type", load_error(test::to_bytes(m)));
}

}  // namespace
}  // namespace vdrt
