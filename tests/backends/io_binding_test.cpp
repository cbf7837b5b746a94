// Device-resident I/O: the KV cache bound as device arrays and the new keys
// and values left on the device give the same numbers as host tensors, and
// the run copies nothing to the device but its host inputs.
#include <gtest/gtest.h>

#include "backends/parity.h"
#include "importer/tensor_file.h"
#include "runtime/compare.h"
#include "runtime/session.h"
#include "test_util.h"

namespace vdrt::test {
namespace {

class IoBindingTest : public testing::TestWithParam<std::string> {};

TEST_P(IoBindingTest, KvCacheStaysOnTheDevice) {
  const std::string backend = GetParam();
  if (backend != "cpu") VDRT_REQUIRE_DEVICE(backend);
  const std::string dir = source_path("models/tiny_wan/ts17");
  SessionOptions o;
  o.device = backend;
  auto session = Session::load(dir + "/denoiser.onnx", o);
  TensorMap feed;
  for (NamedTensor& t : load_test_set(dir + "/denoiser/test_data_set_2", "input")) feed[t.name] = t.tensor;
  std::vector<NamedTensor> expected = load_test_set(dir + "/denoiser/test_data_set_2", "output");

  IoBinding io;
  size_t host_inputs = 0;
  for (const auto& [name, t] : feed) {
    if (name.rfind("past_", 0) == 0) {
      io.device_inputs[name] = session->to_device(t);
    } else {
      io.host_inputs[name] = t;
      host_inputs += is_float(t.dtype());  // small integer inputs stay on the host
    }
  }
  for (const NamedTensor& e : expected)
    if (e.name.rfind("present_", 0) == 0) io.device_outputs.insert(e.name);
  ASSERT_FALSE(io.device_inputs.empty());
  ASSERT_FALSE(io.device_outputs.empty());

  for (int run = 0; run < 2; ++run) {
    IoResult r = session->run(io);
    EXPECT_EQ(r.device_outputs.size(), io.device_outputs.size());
    for (const NamedTensor& e : expected) {
      Tensor got = r.device_outputs.count(e.name) ? session->to_host(r.device_outputs.at(e.name)) : r.host_outputs.at(e.name);
      Comparison c = compare_tensors(got, e.tensor, 0.0, 1e-4);
      EXPECT_TRUE(c.ok) << e.name << ": " << c.reason;
    }
    if (run == 0) continue;  // the plan's first run uploads its host-computed tables once
    EXPECT_EQ(session->last_stats().host_uploads, host_inputs);
    EXPECT_EQ(session->last_stats().cross_copies, 0u);
  }
  // A host run of the same session still works (another plan).
  TensorMap host = session->run(feed);
  EXPECT_TRUE(compare_tensors(host.at("flow"), expected[0].tensor, 0.0, 1e-4).ok);
}

TEST(IoBinding, RejectsUnknownOutputsAndDoubleBinding) {
  const std::string dir = source_path("models/tiny_wan/ts17");
  auto session = Session::load(dir + "/denoiser.onnx", SessionOptions{"cpu"});
  TensorMap feed;
  for (NamedTensor& t : load_test_set(dir + "/denoiser/test_data_set_1", "input")) feed[t.name] = t.tensor;
  IoBinding io;
  io.host_inputs = feed;
  io.device_outputs.insert("no_such_output");
  EXPECT_THROW(session->run(io), Error);
  io.device_outputs.clear();
  io.device_inputs["timestep"] = session->to_device(feed.at("timestep"));
  EXPECT_THROW(session->run(io), Error);
}

std::vector<std::string> backends() {
  std::vector<std::string> b{"cpu"};
  for (const std::string& g : gpu_backends()) b.push_back(g);
  return b;
}

INSTANTIATE_TEST_SUITE_P(Backends, IoBindingTest, testing::ValuesIn(backends()));

}  // namespace
}  // namespace vdrt::test
