#include "conformance/node_test_runner.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "backends/cpu/cpu_backend.h"
#include "graph/shape_inference.h"
#include "importer/onnx_import.h"
#include "kernels/cpu/kernel.h"
#include "importer/tensor_file.h"
#include "runtime/compare.h"
#include "runtime/session.h"

namespace vdrt::test {
namespace fs = std::filesystem;

// ONNX's own backend test defaults.
constexpr double kRtol = 1e-3;
constexpr double kAtol = 1e-7;

// ONNX's reference rounds every intermediate of a 16-bit float test to that
// format, while vdrt accumulates in float32 and rounds once: the two differ by
// a few units in the last place, which is above 1e-3 for bfloat16 (8 bits of
// precision) and float16 (11). Allow 4 ulp of the output's format.
double relative_tolerance(DType output) {
  if (output == DType::BF16) return 4 * 0x1.0p-8;
  if (output == DType::F16) return std::max(kRtol, 4 * 0x1.0p-11);
  return kRtol;
}

std::vector<std::string> list_node_tests(const std::string& root) {
  std::vector<std::string> out;
  if (!fs::is_directory(root)) return out;
  for (const auto& e : fs::directory_iterator(root))
    if (fs::exists(e.path() / "model.onnx")) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

NodeTestResult run_node_test(const std::string& folder, const std::string& device) {
  NodeTestResult r;
  r.name = fs::path(folder).filename().string();
  std::unique_ptr<Graph> graph;
  try {
    graph = load_onnx((fs::path(folder) / "model.onnx").string());
  } catch (const Error& e) {
    r.detail = std::string("import: ") + e.what();
    return r;
  }
  r.op = graph->nodes().size() == 1 ? graph->nodes()[0]->qualified_op() : "(composite)";
  // Ops without a CPU kernel, or whose kernel declines these types or
  // attributes, are not claimed; every later error is a failure.
  for (const auto& n : graph->nodes())
    if (!cpu::KernelRegistry::instance().find(n->domain(), n->op_type())) {
      r.detail = "no CPU kernel for " + n->qualified_op();
      return r;
    }
  try {
    infer_shapes(*graph);
  } catch (const Error& e) {
    r.verdict = Verdict::Failed;
    r.detail = std::string("shape inference: ") + e.what();
    return r;
  }
  auto cpu = make_cpu_backend();
  for (const auto& n : graph->nodes())
    if (!cpu->supports(*n)) {
      r.detail = "the CPU kernel declines " + n->qualified_op() + " with these types or attributes";
      return r;
    }
  std::unique_ptr<Session> session;
  try {
    SessionOptions opts;
    opts.device = device;
    session = std::make_unique<Session>(std::move(graph), opts);
  } catch (const Error& e) {
    r.verdict = Verdict::Failed;
    r.detail = e.what();
    return r;
  }
  const Graph& g = session->graph();
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(folder))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  for (const fs::path& set : sets) {
    std::vector<NamedTensor> ins, outs;
    try {
      ins = load_test_set(set.string(), "input");
      outs = load_test_set(set.string(), "output");
    } catch (const Error& e) {
      r.verdict = Verdict::Unsupported;
      r.detail = std::string("test data: ") + e.what();
      return r;
    }
    try {
      TensorMap feed;
      for (size_t i = 0; i < ins.size() && i < g.inputs().size(); ++i) feed[g.inputs()[i]->name()] = ins[i].tensor;
      TensorMap got = session->run(feed);
      for (size_t i = 0; i < outs.size() && i < g.outputs().size(); ++i) {
        Comparison c = compare_tensors(got.at(g.outputs()[i]->name()), outs[i].tensor,
                                       relative_tolerance(outs[i].tensor.dtype()), kAtol);
        if (!c.ok) {
          r.verdict = Verdict::Failed;
          r.detail = set.filename().string() + " output '" + g.outputs()[i]->name() + "': " + c.reason;
          return r;
        }
      }
    } catch (const std::exception& e) {
      r.verdict = Verdict::Failed;
      r.detail = set.filename().string() + ": " + e.what();
      return r;
    }
  }
  r.verdict = Verdict::Passed;
  return r;
}

std::vector<std::string> node_test_roots() {
  std::vector<std::string> roots;
  auto add = [&](const fs::path& p) {
    if (fs::is_directory(p) && std::find(roots.begin(), roots.end(), p.string()) == roots.end())
      roots.push_back(p.string());
  };
  add("/usr/share/libonnx-testdata/data/node");
  // The node tests of newer ops (Attention-23, RMSNormalization, Gelu,
  // GroupNormalization-21, float8 Q/DQ) that libonnx-testdata 1.12 lacks,
  // written from the onnx 1.23 wheel by generate_onnx_node_tests.py.
  add(std::string(VDRT_SOURCE_ROOT) + "/tests/data/onnx_node_1.23");
  if (const char* extra = std::getenv("VDRT_ONNX_NODE_TESTS")) {
    std::string s = extra;
    size_t start = 0;
    while (start <= s.size()) {
      size_t end = s.find(':', start);
      if (end == std::string::npos) end = s.size();
      if (end > start) add(s.substr(start, end - start));
      start = end + 1;
    }
  }
  return roots;
}

}  // namespace vdrt::test
