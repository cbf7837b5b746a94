// External data: read from files inside the model's folder only.
#include <gtest/gtest.h>

#include <cstring>

#include "graph/error.h"
#include "importer/onnx_import.h"
#include "proto_builder.h"
#include "temp_dir.h"
#include "test_util.h"

namespace vdrt {
namespace {

namespace fs = std::filesystem;

// add_initializer_model() with w's four floats moved to external data.
onnx::ModelProto external_model(const std::string& location, const std::string& offset, const std::string& length) {
  onnx::ModelProto m = test::add_initializer_model();
  auto* w = m.mutable_graph()->mutable_initializer(0);
  w->clear_float_data();
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  auto entry = [&](const char* k, const std::string& v) {
    if (v.empty()) return;
    auto* e = w->add_external_data();
    e->set_key(k);
    e->set_value(v);
  };
  entry("location", location);
  entry("offset", offset);
  entry("length", length);
  return m;
}

// 16 bytes of padding, then 1, 2, 3, 4 as float32.
std::string weight_bytes() {
  std::string out(16, 'p');
  for (float f : {10.f, 20.f, 30.f, 40.f}) out.append(reinterpret_cast<const char*>(&f), 4);
  return out;
}

struct Folder {
  test::TempDir root;  // holds the model folder and things outside it
  fs::path model_dir = root.path() / "model";
  Folder() { fs::create_directories(model_dir); }
  std::string model_path() const { return (model_dir / "m.onnx").string(); }
  std::string write_model(const onnx::ModelProto& m) const {
    test::write_bytes(model_path(), test::to_bytes(m));
    return model_path();
  }
};

Error load_error(const std::string& path, const ImportOptions& options = {}) {
  try {
    load_onnx(path, options);
  } catch (const Error& e) {
    EXPECT_EQ(e.site().file, path);
    return e;
  }
  ADD_FAILURE() << "loading succeeded";
  return Error("loading succeeded");
}

void expect_in(const std::string& needle, const Error& e) {
  EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "'" << needle << "' not in: " << e.what();
}

std::vector<double> w_values(const Graph& g) { return g.find_value("w")->constant().as_double(); }

TEST(ExternalData, WrittenByPythonOnnx) {
  auto g = load_onnx(test::source_path("tests/data/importer/external_model.onnx"));
  const Tensor& w = g->find_value("w")->constant();
  ASSERT_EQ(w.dims(), (std::vector<int64_t>{4, 4}));
  for (int i = 0; i < 16; ++i) EXPECT_FLOAT_EQ(w.data<float>()[i], i / 8.f);
  EXPECT_EQ(g->find_value("shape")->constant().as_int64(), (std::vector<int64_t>{0, -1}));
}

TEST(ExternalData, HappyPathWithOffsetAndSubfolder) {
  Folder f;
  test::write_bytes((f.model_dir / "weights.bin").string(), weight_bytes());
  auto g = load_onnx(f.write_model(external_model("weights.bin", "16", "16")));
  EXPECT_EQ(w_values(*g), (std::vector<double>{10, 20, 30, 40}));

  fs::create_directories(f.model_dir / "sub");
  test::write_bytes((f.model_dir / "sub" / "w.bin").string(), weight_bytes().substr(16));
  g = load_onnx(f.write_model(external_model("sub/w.bin", "", "")));  // offset 0, length from the shape
  EXPECT_EQ(w_values(*g), (std::vector<double>{10, 20, 30, 40}));

  // Through load_onnx_bytes, the folder is the one the caller names.
  g = load_onnx_bytes(test::to_bytes(external_model("weights.bin", "16", "16")), f.model_dir.string(), "mem");
  EXPECT_EQ(w_values(*g), (std::vector<double>{10, 20, 30, 40}));
}

TEST(ExternalData, SymlinkInsideTheFolderIsFine) {
  Folder f;
  test::write_bytes((f.model_dir / "real.bin").string(), weight_bytes());
  fs::create_symlink("real.bin", f.model_dir / "alias.bin");
  auto g = load_onnx(f.write_model(external_model("alias.bin", "16", "16")));
  EXPECT_EQ(w_values(*g), (std::vector<double>{10, 20, 30, 40}));
}

TEST(ExternalData, SkippingTheDataStillChecksIt) {
  Folder f;
  test::write_bytes((f.model_dir / "weights.bin").string(), weight_bytes());
  ImportOptions no_data;
  no_data.load_external_data = false;
  auto g = load_onnx(f.write_model(external_model("weights.bin", "16", "16")), no_data);
  EXPECT_EQ(w_values(*g), (std::vector<double>{0, 0, 0, 0}));
  expect_in("is shorter than", load_error(f.write_model(external_model("weights.bin", "32", "16")), no_data));
}

TEST(ExternalData, AbsolutePathIsRefused) {
  Folder f;
  std::string outside = (f.root.path() / "outside.bin").string();
  test::write_bytes(outside, weight_bytes());
  Error e = load_error(f.write_model(external_model(outside, "16", "16")));
  expect_in("external data path '" + outside + "' leaves the model folder", e);
  expect_in("initializer 'w'", e);
}

TEST(ExternalData, DotDotIsRefused) {
  Folder f;
  test::write_bytes((f.root.path() / "outside.bin").string(), weight_bytes());
  test::write_bytes((f.model_dir / "inside.bin").string(), weight_bytes());
  for (const char* loc : {"../outside.bin", "sub/../../outside.bin", "./../outside.bin", "sub/../inside.bin"}) {
    SCOPED_TRACE(loc);
    expect_in(std::string("external data path '") + loc + "' leaves the model folder",
              load_error(f.write_model(external_model(loc, "16", "16"))));
  }
}

TEST(ExternalData, SymlinkOutOfTheFolderIsRefused) {
  Folder f;
  test::write_bytes((f.root.path() / "secret.bin").string(), weight_bytes());
  fs::create_symlink(f.root.path() / "secret.bin", f.model_dir / "link.bin");
  expect_in("external data path 'link.bin' leaves the model folder",
            load_error(f.write_model(external_model("link.bin", "16", "16"))));
  // A directory symlink that leads out, with a tame-looking path through it.
  fs::create_directories(f.root.path() / "elsewhere");
  test::write_bytes((f.root.path() / "elsewhere" / "w.bin").string(), weight_bytes());
  fs::create_directory_symlink(f.root.path() / "elsewhere", f.model_dir / "dir");
  expect_in("external data path 'dir/w.bin' leaves the model folder",
            load_error(f.write_model(external_model("dir/w.bin", "16", "16"))));
  // A relative symlink climbing out.
  fs::create_symlink("../secret.bin", f.model_dir / "up.bin");
  expect_in("leaves the model folder", load_error(f.write_model(external_model("up.bin", "16", "16"))));
}

TEST(ExternalData, TruncatedDataFile) {
  Folder f;
  test::write_bytes((f.model_dir / "weights.bin").string(), weight_bytes().substr(0, 30));
  Error e = load_error(f.write_model(external_model("weights.bin", "16", "16")));
  expect_in("external data file 'weights.bin' is shorter than", e);
  // An offset far past the end, and one that would overflow offset + length.
  test::write_bytes((f.model_dir / "weights.bin").string(), weight_bytes());
  expect_in("is shorter than", load_error(f.write_model(external_model("weights.bin", "1000000", "16"))));
  expect_in("is shorter than",
            load_error(f.write_model(external_model("weights.bin", "18446744073709551610", "16"))));
}

TEST(ExternalData, OtherDefects) {
  Folder f;
  test::write_bytes((f.model_dir / "weights.bin").string(), weight_bytes());
  expect_in("external data file 'missing.bin' does not exist",
            load_error(f.write_model(external_model("missing.bin", "0", "16"))));
  expect_in("is 12 bytes but its shape [4] of f32 needs 16",
            load_error(f.write_model(external_model("weights.bin", "16", "12"))));
  expect_in("offset 'sixteen'", load_error(f.write_model(external_model("weights.bin", "sixteen", "16"))));
  expect_in("offset '-16'", load_error(f.write_model(external_model("weights.bin", "-16", "16"))));
  expect_in("names no location", load_error(f.write_model(external_model("", "16", "16"))));
  fs::create_directories(f.model_dir / "adir");
  expect_in("not a regular file", load_error(f.write_model(external_model("adir", "0", "16"))));
}

}  // namespace
}  // namespace vdrt
