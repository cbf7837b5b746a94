// TensorProto files: every dtype vdrt knows, written by the C++ writer and
// by the ONNX Python package (tests/data/importer/make_data.py), in both the
// raw-bytes and the typed-field encodings.
#include <gtest/gtest.h>

#include <cstring>

#include "graph/error.h"
#include "importer/tensor_file.h"
#include "temp_dir.h"
#include "test_util.h"

namespace vdrt {
namespace {

std::string data_file(const std::string& name) { return test::source_path("tests/data/importer/tensors/" + name); }

// The values make_data.py writes, as the exact bytes each dtype stores.
struct Expected {
  std::string name;
  DType dtype;
  std::vector<uint8_t> bytes;
};

template <typename T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

std::vector<uint16_t> as_f16(const std::vector<float>& v) {
  std::vector<uint16_t> out;
  for (float f : v) out.push_back(float_to_half(f));
  return out;
}
std::vector<uint16_t> as_bf16(const std::vector<float>& v) {
  std::vector<uint16_t> out;
  for (float f : v) out.push_back(float_to_bf16(f));
  return out;
}

const std::vector<float> kFloats = {-2.5f, -1.f, 0.f, 0.5f, 1.f, 3.5f};

std::vector<Expected> expected_tensors() {
  return {
      {"f32", DType::F32, bytes_of(kFloats)},
      {"f64", DType::F64, bytes_of(std::vector<double>(kFloats.begin(), kFloats.end()))},
      {"f16", DType::F16, bytes_of(as_f16(kFloats))},
      {"bf16", DType::BF16, bytes_of(as_bf16(kFloats))},
      // Bit patterns worked out by hand: sign | exponent (bias 7 / 15) | mantissa.
      {"f8e4m3", DType::F8E4M3, {0xC2, 0xB8, 0x00, 0x30, 0x38, 0x46}},
      {"f8e5m2", DType::F8E5M2, {0xC1, 0xBC, 0x00, 0x38, 0x3C, 0x43}},
      {"i8", DType::I8, bytes_of(std::vector<int8_t>{-3, -1, 0, 1, 2, 100})},
      {"u8", DType::U8, {0, 1, 2, 3, 200, 255}},
      {"i16", DType::I16, bytes_of(std::vector<int16_t>{-3, -1, 0, 1, 2, 100})},
      {"i32", DType::I32, bytes_of(std::vector<int32_t>{-3, -1, 0, 1, 2, 100})},
      {"i64", DType::I64, bytes_of(std::vector<int64_t>{-3, -1, 0, 1, 2, 100})},
      {"bool", DType::Bool, {1, 0, 1, 1, 0, 0}},
  };
}

std::vector<uint8_t> bytes_of(const Tensor& t) {
  const auto* p = static_cast<const uint8_t*>(t.raw());
  return {p, p + t.nbytes()};
}

TEST(TensorPb, ReadsEveryDtypeWrittenByPythonOnnx) {
  for (const auto& e : expected_tensors()) {
    for (const char* encoding : {"raw", "typed"}) {
      SCOPED_TRACE(e.name + " " + encoding);
      NamedTensor nt = load_tensor_pb(data_file(e.name + "_" + encoding + ".pb"));
      EXPECT_EQ(nt.name, e.name);
      EXPECT_EQ(nt.tensor.dtype(), e.dtype);
      EXPECT_EQ(nt.tensor.dims(), (std::vector<int64_t>{2, 3}));
      EXPECT_EQ(bytes_of(nt.tensor), e.bytes);
    }
  }
}

TEST(TensorPb, CppWriterRoundTripsEveryDtype) {
  test::TempDir dir;
  for (const auto& e : expected_tensors()) {
    SCOPED_TRACE(e.name);
    Tensor t(e.dtype, {2, 3});
    std::memcpy(t.raw(), e.bytes.data(), e.bytes.size());
    std::string path = dir.file(e.name + ".pb");
    save_tensor_pb(t, e.name, path);
    NamedTensor back = load_tensor_pb(path);
    EXPECT_EQ(back.name, e.name);
    EXPECT_EQ(back.tensor.dtype(), e.dtype);
    EXPECT_EQ(back.tensor.dims(), t.dims());
    EXPECT_EQ(bytes_of(back.tensor), e.bytes);
    // The C++ writer uses raw bytes, as the Python *_raw.pb files do.
    EXPECT_EQ(test::read_bytes(path), test::read_bytes(data_file(e.name + "_raw.pb")));
  }
}

TEST(TensorPb, ScalarAndEmptyShapes) {
  NamedTensor s = load_tensor_pb(data_file("scalar_i64.pb"));
  EXPECT_TRUE(s.tensor.dims().empty());
  EXPECT_EQ(s.tensor.as_int64(), std::vector<int64_t>{7});
  NamedTensor e = load_tensor_pb(data_file("empty_f32.pb"));
  EXPECT_EQ(e.tensor.dims(), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(e.tensor.numel(), 0);

  test::TempDir dir;
  save_tensor_pb(Tensor(DType::F16, {0}), "z", dir.file("z.pb"));
  EXPECT_EQ(load_tensor_pb(dir.file("z.pb")).tensor.dims(), std::vector<int64_t>{0});
}

TEST(TensorPb, BoolBytesAreNormalisedToZeroOrOne) {
  test::TempDir dir;
  Tensor t(DType::U8, {3});
  t.data<uint8_t>()[0] = 0;
  t.data<uint8_t>()[1] = 7;
  t.data<uint8_t>()[2] = 255;
  save_tensor_pb(t, "b", dir.file("b.pb"));
  // Patch the element type from UINT8 (2) to BOOL (9): field 2, varint.
  std::string bytes = test::read_bytes(dir.file("b.pb"));
  size_t at = bytes.find(std::string("\x10\x02", 2));
  ASSERT_NE(at, std::string::npos);
  bytes[at + 1] = 9;
  test::write_bytes(dir.file("b.pb"), bytes);
  NamedTensor nt = load_tensor_pb(dir.file("b.pb"));
  ASSERT_EQ(nt.tensor.dtype(), DType::Bool);
  EXPECT_EQ(bytes_of(nt.tensor), (std::vector<uint8_t>{0, 1, 1}));
}

TEST(TensorPb, UnsupportedDtypesNameTheTensor) {
  for (auto [file, type] : {std::pair{"string.pb", "STRING"}, std::pair{"uint16.pb", "UINT16"}}) {
    try {
      load_tensor_pb(data_file(file));
      FAIL() << file << " loaded";
    } catch (const Error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(type), std::string::npos) << msg;
      EXPECT_NE(msg.find(file), std::string::npos) << msg;
      EXPECT_NE(msg.find("does not support"), std::string::npos) << msg;
    }
  }
}

TEST(TensorPb, MissingAndCorruptFilesThrow) {
  test::TempDir dir;
  EXPECT_THROW(load_tensor_pb(dir.file("absent.pb")), Error);
  test::write_bytes(dir.file("junk.pb"), std::string("\xff\xff\xff\xff\x0f garbage", 14));
  try {
    load_tensor_pb(dir.file("junk.pb"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("junk.pb"), std::string::npos);
  }
  // Raw data shorter than the shape needs.
  std::string f32 = test::read_bytes(data_file("f32_raw.pb"));
  size_t dims_at = f32.find(std::string("\x08\x02\x08\x03", 4));  // dims: 2, 3
  ASSERT_NE(dims_at, std::string::npos);
  f32[dims_at + 3] = 4;  // now claims [2, 4]
  test::write_bytes(dir.file("short.pb"), f32);
  try {
    load_tensor_pb(dir.file("short.pb"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs 32"), std::string::npos) << e.what();
  }
}

TEST(TensorPb, TestSetLoadsInNumericOrder) {
  test::TempDir dir;
  for (int i = 0; i < 12; ++i)
    save_tensor_pb(Tensor::scalar<int64_t>(i), "t" + std::to_string(i), dir.file("input_" + std::to_string(i) + ".pb"));
  save_tensor_pb(Tensor::scalar<int64_t>(99), "o", dir.file("output_0.pb"));
  auto inputs = load_test_set(dir.path().string(), "input");
  ASSERT_EQ(inputs.size(), 12u);
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ(inputs[i].name, "t" + std::to_string(i));
    EXPECT_EQ(inputs[i].tensor.as_int64(), std::vector<int64_t>{i});
  }
  auto outputs = load_test_set(dir.path().string(), "output");
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].tensor.as_int64(), std::vector<int64_t>{99});
  std::filesystem::remove(dir.file("input_3.pb"));
  EXPECT_THROW(load_test_set(dir.path().string(), "input"), Error);
  EXPECT_THROW(load_test_set(dir.file("nope"), "input"), Error);
}

}  // namespace
}  // namespace vdrt
