// A deterministic libFuzzer-style smoke loop: mutated models may only ever
// raise vdrt::Error (the sanitizer CI build turns memory errors into crashes).
#include <gtest/gtest.h>

#include <random>

#include "graph/error.h"
#include "importer/onnx_export.h"
#include "importer/onnx_import.h"
#include "importer/tensor_file.h"
#include "temp_dir.h"
#include "test_util.h"

namespace vdrt {
namespace {

std::string mutate(std::string bytes, std::mt19937& rng) {
  int edits = 1 + static_cast<int>(rng() % 8);
  for (int i = 0; i < edits && !bytes.empty(); ++i) {
    size_t at = rng() % bytes.size();
    switch (rng() % 6) {
      case 0: bytes[at] = static_cast<char>(bytes[at] ^ (1u << (rng() % 8))); break;  // flip a bit
      case 1: bytes[at] = static_cast<char>(rng()); break;                          // random byte
      case 2: bytes[at] = static_cast<char>(0xff); break;                           // long varints
      case 3: bytes.erase(at, 1 + rng() % 4); break;
      case 4: bytes.insert(at, 1 + rng() % 4, static_cast<char>(rng())); break;
      case 5: bytes.resize(at); break;                                              // truncate
    }
  }
  return bytes;
}

// Runs `fn` and reports anything other than success or vdrt::Error.
template <typename Fn>
void expect_only_vdrt_errors(Fn fn, size_t iteration, size_t& loaded) {
  try {
    fn();
    ++loaded;
  } catch (const Error&) {
  } catch (const std::exception& e) {
    ADD_FAILURE() << "iteration " << iteration << ": " << typeid(e).name() << ": " << e.what();
  } catch (...) {
    ADD_FAILURE() << "iteration " << iteration << ": unknown exception";
  }
}

TEST(FuzzSmoke, MutatedModelsOnlyRaiseVdrtErrors) {
  test::TempDir dir;  // external-data references resolve inside it
  const std::string seeds[] = {
      test::read_bytes(test::source_path("tests/data/importer/small_model.onnx")),
      test::read_bytes(test::source_path("tests/data/importer/external_model.onnx")),
  };
  test::write_bytes(dir.file("external_model.onnx.data"),
                    test::read_bytes(test::source_path("tests/data/importer/external_model.onnx.data")));
  std::mt19937 rng(20240611);
  size_t loaded = 0;
  for (size_t i = 0; i < 2000; ++i) {
    std::string bytes = mutate(seeds[i % 2], rng);
    expect_only_vdrt_errors(
        [&] {
          auto g = load_onnx_bytes(bytes, dir.path().string(), "fuzz.onnx");
          // Whatever loads must also export and load again.
          load_onnx_bytes(serialize_onnx(*g), dir.path().string(), "fuzz-reexport.onnx");
        },
        i, loaded);
  }
  std::printf("fuzz: %zu of 2000 mutants loaded\n", loaded);
}

TEST(FuzzSmoke, MutatedTensorFilesOnlyRaiseVdrtErrors) {
  test::TempDir dir;
  const std::string seed = test::read_bytes(test::source_path("tests/data/importer/tensors/f16_typed.pb"));
  std::mt19937 rng(7);
  size_t loaded = 0;
  for (size_t i = 0; i < 300; ++i) {
    test::write_bytes(dir.file("t.pb"), mutate(seed, rng));
    expect_only_vdrt_errors([&] { load_tensor_pb(dir.file("t.pb")); }, i, loaded);
  }
}

}  // namespace
}  // namespace vdrt
