// Import -> export -> import must give back the same graph: values, shapes,
// constants, attributes, names, opsets and metadata.
#include <gtest/gtest.h>

#include <onnx/onnx_pb.h>

#include "graph/error.h"
#include "graph_compare.h"
#include "importer/onnx_export.h"
#include "importer/onnx_import.h"
#include "importer/tensor_file.h"
#include "temp_dir.h"
#include "test_util.h"

namespace vdrt {
namespace {

namespace fs = std::filesystem;

// load(path) -> save -> load -> save -> load. The first re-import may raise
// the IR version (export writes at least 8) and name an unnamed graph; from
// then on everything must be identical.
void expect_round_trip(const std::string& path, const ExportOptions& options = {}) {
  SCOPED_TRACE(path);
  auto a = load_onnx(path);
  test::TempDir dir;
  // Same file name in both folders, so that the external-data locations and
  // hence the bytes can match.
  fs::create_directories(dir.path() / "b");
  fs::create_directories(dir.path() / "c");
  const std::string b_path = dir.file("b/m.onnx"), c_path = dir.file("c/m.onnx");
  save_onnx(*a, b_path, options);
  auto b = load_onnx(b_path);
  test::expect_same_graph(*a, *b, {.ir_version = false, .graph_name = !a->name.empty()});
  EXPECT_GE(b->ir_version, std::max<int64_t>(a->ir_version, 8));
  save_onnx(*b, c_path, options);
  auto c = load_onnx(c_path);
  test::expect_same_graph(*b, *c);
  // Writing is deterministic.
  EXPECT_TRUE(test::read_bytes(b_path) == test::read_bytes(c_path));
  EXPECT_TRUE(test::read_bytes(b_path + ".data") == test::read_bytes(c_path + ".data"));
}

TEST(RoundTrip, SmallModel) {
  expect_round_trip(test::source_path("tests/data/importer/small_model.onnx"));
  expect_round_trip(test::source_path("tests/data/importer/external_model.onnx"));
  auto a = load_onnx(test::source_path("tests/data/importer/small_model.onnx"));
  auto b = load_onnx_bytes(serialize_onnx(*a), "", "serialized");
  test::expect_same_graph(*a, *b);
}

// A graph made through the Graph API, with what importers never produce:
// vdrt-domain ops, no opset imports, every attribute kind, unknown ranks.
std::unique_ptr<Graph> hand_built_graph() {
  auto g = std::make_unique<Graph>();
  g->name = "hand_built";
  g->metadata["vdrt.kind"] = "ar-video-denoiser";
  g->metadata["vdrt.denoising_steps"] = "1000,750,500,250";
  Value* x = g->value("x");
  x->set_dtype(DType::F32);
  x->set_shape(Shape({Dim::symbol("B"), Dim::symbol("T"), Dim(8)}));
  g->inputs().push_back(x);
  Value* off = g->value("frame_offset");
  off->set_dtype(DType::I64);
  off->set_shape(Shape(std::vector<Dim>{}));
  g->inputs().push_back(off);

  Tensor w(DType::BF16, {8, 8});
  for (int i = 0; i < 64; ++i) static_cast<uint16_t*>(w.raw())[i] = float_to_bf16(i * 0.5f - 3);
  Value* wv = g->add_constant("w", w);
  Tensor q(DType::F8E4M3, {3});
  static_cast<uint8_t*>(q.raw())[0] = 0x38;
  static_cast<uint8_t*>(q.raw())[2] = 0xC2;
  Value* qv = g->add_constant("q", q);
  g->add_constant("unused", Tensor::scalar<float>(1.f));  // dropped on export

  Value* h = g->value("h");
  h->set_dtype(DType::F32);  // dtype but unknown rank
  Node* mm = g->add_node("MatMul", {x, wv}, {h}, "mm");
  (void)mm;
  Value* y = g->value("y");
  Node* attn = g->add_node("SparseAttention", {h, nullptr, qv, off}, {y, nullptr}, "attn", kVdrtDomain);
  attn->attrs().set("scale", 0.125f);
  attn->attrs().set("heads", int64_t{2});
  attn->attrs().set("mode", std::string("pbsa"));
  attn->attrs().set("window", std::vector<int64_t>{4, -1});
  attn->attrs().set("ratios", std::vector<float>{0.25f, -0.f});
  attn->attrs().set("tags", std::vector<std::string>{"a", ""});
  attn->attrs().set("empty_ints", std::vector<int64_t>{});
  attn->attrs().set("empty_floats", std::vector<float>{});
  attn->attrs().set("table", Tensor::from_vector<int32_t>({2}, {7, -7}));
  y->set_dtype(DType::F32);
  y->set_shape(Shape({Dim::symbol("B"), Dim(), Dim(8)}));
  g->outputs().push_back(y);
  g->sort();
  g->validate();
  return g;
}

TEST(RoundTrip, HandBuiltGraph) {
  auto g = hand_built_graph();
  auto back = load_onnx_bytes(serialize_onnx(*g), "", "hand_built");
  // Export adds the opset imports the nodes need; vdrt ops are version 1.
  EXPECT_EQ(back->opset("vdrt"), 1);
  EXPECT_EQ(back->opset(""), 23);
  EXPECT_EQ(back->ir_version, 11);  // what opset 23 came with (and more than float8 needs)
  EXPECT_EQ(back->find_value("unused"), nullptr);
  EXPECT_EQ(back->find_value("h")->dtype(), DType::F32);  // via value_info
  EXPECT_FALSE(back->find_value("h")->shape().rank_known());
  g->opsets = back->opsets;
  g->prune_values();
  test::expect_same_graph(*g, *back, {.ir_version = false});
}

TEST(RoundTrip, IrVersionFollowsOpsetAndFloat8) {
  auto g = hand_built_graph();
  g->opsets = {{"", 17}};
  EXPECT_EQ(load_onnx_bytes(serialize_onnx(*g), "", "f8")->ir_version, 9);  // float8 constant q
  g->remove_node(g->nodes()[1].get());  // the vdrt node reading q
  g->outputs() = {g->find_value("h")};
  g->prune_values();
  EXPECT_EQ(load_onnx_bytes(serialize_onnx(*g), "", "no f8")->ir_version, 8);
  g->opsets = {{"", 21}};
  EXPECT_EQ(load_onnx_bytes(serialize_onnx(*g), "", "opset 21")->ir_version, 10);
  g->ir_version = 12;
  EXPECT_EQ(load_onnx_bytes(serialize_onnx(*g), "", "newer IR kept")->ir_version, 12);
}

TEST(RoundTrip, ExternalDataFileIsAlignedAndRelative) {
  auto g = hand_built_graph();
  Tensor big(DType::F32, {100});
  for (int i = 0; i < 100; ++i) big.data<float>()[i] = static_cast<float>(i);
  Value* bv = g->add_constant("big", big);
  Value* z = g->value("z");
  g->add_node("Add", {g->find_value("x"), bv}, {z}, "add_big");
  g->outputs().push_back(z);

  test::TempDir dir;
  ExportOptions options;
  options.external_data_threshold = 100;  // w (128 bytes) and big (400) go out, q (3) stays
  save_onnx(*g, dir.file("m.onnx"), options);
  ASSERT_TRUE(fs::exists(dir.file("m.onnx.data")));
  EXPECT_EQ(fs::file_size(dir.file("m.onnx.data")), 128u + 400u);  // 128 is already 64-aligned

  onnx::ModelProto m;
  ASSERT_TRUE(m.ParseFromString(test::read_bytes(dir.file("m.onnx"))));
  int external = 0;
  for (const auto& t : m.graph().initializer()) {
    if (t.data_location() != onnx::TensorProto::EXTERNAL) {
      EXPECT_EQ(t.name(), "q");
      continue;
    }
    ++external;
    EXPECT_FALSE(t.has_raw_data());
    std::map<std::string, std::string> kv;
    for (const auto& e : t.external_data()) kv[e.key()] = e.value();
    EXPECT_EQ(kv["location"], "m.onnx.data");
    EXPECT_EQ(std::stoull(kv["offset"]) % 64, 0u);
  }
  EXPECT_EQ(external, 2);

  auto back = load_onnx(dir.file("m.onnx"));
  g->opsets = back->opsets;
  g->prune_values();
  test::expect_same_graph(*g, *back, {.ir_version = false});

  // Moving the folder keeps the model loadable: the location is relative.
  fs::rename(dir.path(), dir.path().string() + "_moved");
  fs::create_directories(dir.path());
  auto moved = load_onnx(dir.path().string() + "_moved/m.onnx");
  EXPECT_TRUE(test::same_tensor(moved->find_value("big")->constant(), big));
  fs::remove_all(dir.path().string() + "_moved");

  // Without large constants no data file is written.
  test::TempDir dir2;
  auto small = hand_built_graph();
  options.external_data_threshold = 1 << 20;
  save_onnx(*small, dir2.file("s.onnx"), options);
  EXPECT_FALSE(fs::exists(dir2.file("s.onnx.data")));
}

TEST(RoundTrip, SaveToUnwritablePlaceThrows) {
  auto g = hand_built_graph();
  test::TempDir dir;
  try {
    save_onnx(*g, dir.file("no/such/folder/m.onnx"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("m.onnx"), std::string::npos);
  }
}

// Every exported model under models/ (tiny_wan's variants), with and without
// external data.
TEST(RoundTrip, ProjectModels) {
  std::vector<std::string> models;
  fs::path root = test::source_path("models");
  if (fs::exists(root))
    for (const auto& e : fs::recursive_directory_iterator(root))
      if (e.path().extension() == ".onnx") models.push_back(e.path().string());
  if (models.empty()) GTEST_SKIP() << "no models under models/ yet";
  std::sort(models.begin(), models.end());
  for (const auto& path : models) {
    expect_round_trip(path);
    expect_round_trip(path, {.external_data_threshold = 1024});
  }
}

// The ONNX node conformance models shipped with libonnx: everything vdrt can
// represent must round-trip; the rest must be refused with a vdrt::Error.
TEST(RoundTrip, OnnxNodeTestModels) {
  fs::path root = "/usr/share/libonnx-testdata/data/node";
  if (!fs::exists(root)) GTEST_SKIP() << root << " not installed";
  size_t loaded = 0, refused = 0, tensors = 0;
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(root)) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  for (const auto& d : dirs) {
    std::string path = (d / "model.onnx").string();
    if (!fs::exists(path)) continue;
    try {
      load_onnx(path);
    } catch (const Error&) {
      ++refused;  // sequences, strings, subgraphs ...
      continue;
    }
    ++loaded;
    expect_round_trip(path);
    if (HasFailure()) break;
    // Their test data is TensorProto files too.
    for (const auto& set : fs::directory_iterator(d)) {
      if (!set.is_directory()) continue;
      for (const char* prefix : {"input", "output"}) {
        try {
          tensors += load_test_set(set.path().string(), prefix).size();
        } catch (const Error&) {
          // sequence/optional-typed data is not a TensorProto
        }
      }
    }
  }
  std::printf("node test models: %zu round-tripped, %zu refused; %zu test tensors read\n", loaded, refused, tensors);
  EXPECT_GT(loaded, 700u);
  EXPECT_GT(tensors, 1500u);
}

}  // namespace
}  // namespace vdrt
