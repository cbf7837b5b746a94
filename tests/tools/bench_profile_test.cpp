// `vdrt bench --profile`: the per-op-type table of the timed runs, as text,
// with real op types of the model and shares that add up to the whole call.
#include <gtest/gtest.h>

#include <sstream>

#include "test_util.h"

namespace vdrt::test {
namespace {

const std::string kModel = source_path("models/tiny_wan/ts17/denoiser.onnx");
const std::string kData = source_path("models/tiny_wan/ts17/denoiser/test_data_set_1");

struct Row {
  std::string op;
  long nodes = 0, calls = 0;
  double total_ms = 0, percent = 0, ms_per_call = 0;
};

// Rows between the "op type" header and the "total" line.
std::vector<Row> table_rows(const std::string& out, double* total_percent) {
  std::istringstream in(out);
  std::string line;
  std::vector<Row> rows;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.rfind("op type", 0) == 0) { inside = true; continue; }
    if (!inside) continue;
    std::istringstream f(line);
    Row r;
    f >> r.op;
    if (r.op == "total") {
      double ms = 0;
      std::string pct;
      f >> ms >> pct;
      *total_percent = std::stod(pct);
      break;
    }
    std::string pct;
    f >> r.nodes >> r.calls >> r.total_ms >> pct >> r.ms_per_call;
    r.percent = std::stod(pct);
    rows.push_back(r);
  }
  return rows;
}

TEST(BenchProfile, PrintsTimePerOpTypeOfTheCall) {
  CliResult r = run_vdrt("bench " + kModel + " -i " + kData + " -d cpu -t 2 --runs 5 --warmup 1 --profile -q");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("profile     5 runs"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("time per node on the CPU backend"), std::string::npos) << r.output;
  double total_percent = 0;
  std::vector<Row> rows = table_rows(r.output, &total_percent);
  ASSERT_GE(rows.size(), 3u) << r.output;
  double sum = 0;
  bool matmul = false, attention = false;
  for (const Row& row : rows) {
    sum += row.percent;
    // A CPU session fuses each Linear with its epilogue (fuse-gemm-epilogue).
    matmul |= row.op == "vdrt.FusedMatMul" && row.calls > 0 && row.total_ms > 0;
    attention |= row.op == "vdrt.Attention" && row.nodes == 4 && row.calls == 20;
    EXPECT_GE(row.percent, 0) << row.op;
  }
  EXPECT_TRUE(matmul) << r.output;
  EXPECT_TRUE(attention) << r.output;
  EXPECT_EQ(rows.back().op, "(runtime)");
  EXPECT_NEAR(sum, 100.0, 1.0) << r.output;  // rounded to 0.1 per row
  EXPECT_NEAR(total_percent, 100.0, 0.1);
  // Rows by time, most first (the runtime's own share last).
  for (size_t i = 1; i + 1 < rows.size(); ++i) EXPECT_GE(rows[i - 1].total_ms, rows[i].total_ms);
}

TEST(BenchProfile, NoTableWithoutTheFlag) {
  CliResult r = run_vdrt("bench " + kModel + " -i " + kData + " -d cpu --runs 2 --warmup 0 -q");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.find("op type"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace vdrt::test
