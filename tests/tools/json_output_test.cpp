// `--json` on every command that has it (docs/cli_json.md): stdout is exactly
// one JSON document (a strict parser below reads all of it), the documented
// fields are there with the right types, and their values are the right
// ones. Also `vdrt inspect` with concrete shapes (issue 17, item 11).
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "importer/tensor_file.h"
#include "test_util.h"
#include "tools/json_output.h"

namespace vdrt::test {
namespace {
namespace fs = std::filesystem;

// A strict JSON (RFC 8259) reader: anything else, trailing text included, throws.
struct J {
  enum T { Null, Bool, Num, Str, Arr, Obj } t = Null;
  bool b = false;
  double n = 0;
  std::string s;
  std::vector<J> a;
  std::vector<std::pair<std::string, J>> o;

  bool has(const std::string& k) const {
    for (const auto& [key, v] : o)
      if (key == k) return true;
    return false;
  }
  const J& operator[](const std::string& k) const {
    if (t != Obj) throw std::runtime_error("not an object, looking up " + k);
    for (const auto& [key, v] : o)
      if (key == k) return v;
    throw std::runtime_error("no field " + k);
  }
  const J& operator[](size_t i) const {
    if (t != Arr || i >= a.size()) throw std::runtime_error("no element " + std::to_string(i));
    return a[i];
  }
  // An array element (of objects) whose `key` is `value`.
  const J& find(const std::string& key, const std::string& value) const {
    for (const J& x : a)
      if (x.t == Obj && x.has(key) && x[key].t == Str && x[key].s == value) return x;
    throw std::runtime_error("no element with " + key + " = " + value);
  }
};

class Reader {
 public:
  explicit Reader(const std::string& text) : s_(text) {}
  J document() {
    J v = value();
    ws();
    if (i_ != s_.size()) fail("text after the document");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& why) {
    throw std::runtime_error("JSON: " + why + " at offset " + std::to_string(i_));
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool eat(char c) {
    ws();
    if (i_ < s_.size() && s_[i_] == c) { ++i_; return true; }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  bool literal(const char* word) {
    size_t n = std::char_traits<char>::length(word);
    if (s_.compare(i_, n, word) != 0) return false;
    i_ += n;
    return true;
  }
  J value() {
    ws();
    if (i_ >= s_.size()) fail("unexpected end");
    J v;
    char c = s_[i_];
    if (c == '{') {
      ++i_;
      v.t = J::Obj;
      if (eat('}')) return v;
      do {
        ws();
        if (i_ >= s_.size() || s_[i_] != '"') fail("expected a key");
        std::string k = string();
        for (const auto& [key, x] : v.o)
          if (key == k) fail("duplicate key " + k);
        expect(':');
        v.o.emplace_back(k, value());
      } while (eat(','));
      expect('}');
    } else if (c == '[') {
      ++i_;
      v.t = J::Arr;
      if (eat(']')) return v;
      do v.a.push_back(value());
      while (eat(','));
      expect(']');
    } else if (c == '"') {
      v.t = J::Str;
      v.s = string();
    } else if (literal("true")) {
      v.t = J::Bool, v.b = true;
    } else if (literal("false")) {
      v.t = J::Bool;
    } else if (literal("null")) {
    } else {
      v.t = J::Num;
      v.n = number();
    }
    return v;
  }
  double number() {
    const size_t start = i_;
    auto digits = [&] {
      size_t d = i_;
      while (i_ < s_.size() && isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
      return i_ - d;
    };
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ < s_.size() && s_[i_] == '0') ++i_;
    else if (digits() == 0) fail("bad number");
    if (i_ < s_.size() && s_[i_] == '.') { ++i_; if (digits() == 0) fail("bad fraction"); }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (digits() == 0) fail("bad exponent");
    }
    return std::strtod(s_.substr(start, i_ - start).c_str(), nullptr);
  }
  unsigned hex4() {
    if (i_ + 4 > s_.size()) fail("short \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; ++k) {
      char h = s_[i_++];
      v = v * 16 + (isdigit(static_cast<unsigned char>(h)) ? h - '0' : (h | 32) >= 'a' && (h | 32) <= 'f' ? (h | 32) - 'a' + 10 : 99);
      if (v >= 0x10000) fail("bad hex digit");
    }
    return v;
  }
  void utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) out += static_cast<char>(cp);
    else if (cp < 0x800) out += static_cast<char>(0xC0 | (cp >> 6)), out += static_cast<char>(0x80 | (cp & 63));
    else if (cp < 0x10000)
      out += static_cast<char>(0xE0 | (cp >> 12)), out += static_cast<char>(0x80 | ((cp >> 6) & 63)),
          out += static_cast<char>(0x80 | (cp & 63));
    else
      out += static_cast<char>(0xF0 | (cp >> 18)), out += static_cast<char>(0x80 | ((cp >> 12) & 63)),
          out += static_cast<char>(0x80 | ((cp >> 6) & 63)), out += static_cast<char>(0x80 | (cp & 63));
  }
  std::string string() {
    ++i_;  // the opening quote
    std::string out;
    while (true) {
      if (i_ >= s_.size()) fail("unterminated string");
      const auto c = static_cast<unsigned char>(s_[i_++]);
      if (c == '"') return out;
      if (c < 0x20) fail("raw control character in a string");
      if (c != '\\') { out += static_cast<char>(c); continue; }
      if (i_ >= s_.size()) fail("unterminated escape");
      switch (s_[i_++]) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {
            if (!literal("\\u")) fail("lone high surrogate");
            unsigned lo = hex4();
            if (lo < 0xDC00 || lo >= 0xE000) fail("bad low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            fail("lone low surrogate");
          }
          utf8(out, cp);
          break;
        }
        default: fail("bad escape");
      }
    }
  }
  const std::string& s_;
  size_t i_ = 0;
};

J parse(const std::string& text) { return Reader(text).document(); }

// Runs vdrt with stdout and stderr apart: --json writes only the document to stdout.
struct Split {
  int code = -1;
  std::string out, err;
};
Split run_split(const std::string& args, const std::string& env = "") {
  static int counter = 0;
  const fs::path err_file = fs::temp_directory_path() / ("vdrt_json_test_stderr_" + std::to_string(getpid()) + "_" +
                                                         std::to_string(counter++));
  Split r;
  FILE* p = popen(((env.empty() ? "" : "env " + env + " ") + vdrt_binary() + " " + args + " 2>" + err_file.string()).c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream f(err_file);
  r.err.assign(std::istreambuf_iterator<char>(f), {});
  fs::remove(err_file);
  return r;
}

// Runs a --json command and parses all of its stdout (failing the test when it is not one document).
J run_json(const std::string& args, int expected_code = 0, Split* raw = nullptr, const std::string& env = "") {
  Split r = run_split(args, env);
  EXPECT_EQ(r.code, expected_code) << "vdrt " << args << "\nstdout:\n" << r.out << "\nstderr:\n" << r.err;
  if (raw) *raw = r;
  try {
    return parse(r.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "vdrt " << args << ": stdout is not one JSON document: " << e.what() << "\n" << r.out
                  << "\nstderr:\n" << r.err;
    return J();
  }
}

const std::string kModel = source_path("models/tiny_wan/ts17/denoiser.onnx");
const std::string kData = source_path("models/tiny_wan/ts17/denoiser/test_data_set_1");
const std::vector<std::string> kOutputs = {"flow", "present_key.0", "present_value.0", "present_key.1",
                                           "present_value.1"};

std::vector<double> numbers(const J& arr) {
  std::vector<double> v;
  for (const J& x : arr.a) {
    EXPECT_EQ(x.t, J::Num);
    v.push_back(x.n);
  }
  return v;
}

TEST(JsonWriter, EscapesStringsAndWritesNonFiniteNumbersAsNull) {
  using vdrt::cli::Json;
  Json doc = Json::object();
  doc["text"] = std::string("quote \" backslash \\ newline \n tab \t bell \x07 del \x7f é \xff end");
  doc["nan"] = std::nan("");
  doc["inf"] = -INFINITY;
  doc["small"] = 1e-300;
  doc["big"] = int64_t{1} << 62;
  doc["list"] = Json::array_of(std::vector<double>{0.1, 2.5, NAN});
  doc["empty"] = Json::array();
  doc["nested"] = Json::object();
  doc["nested"]["k"] = true;
  for (int indent : {-1, 2}) {
    const std::string text = doc.dump(indent);
    J j = parse(text);
    EXPECT_EQ(j["text"].s, "quote \" backslash \\ newline \n tab \t bell \x07 del \x7f é \xEF\xBF\xBD end") << text;
    EXPECT_EQ(j["nan"].t, J::Null) << text;
    EXPECT_EQ(j["inf"].t, J::Null) << text;
    EXPECT_DOUBLE_EQ(j["small"].n, 1e-300);
    EXPECT_EQ(j["big"].n, std::ldexp(1.0, 62));
    ASSERT_EQ(j["list"].a.size(), 3u);
    EXPECT_DOUBLE_EQ(j["list"][0].n, 0.1);
    EXPECT_EQ(j["list"][2].t, J::Null);
    EXPECT_TRUE(j["empty"].a.empty());
    EXPECT_TRUE(j["nested"]["k"].b);
  }
  EXPECT_EQ(vdrt::cli::json_quote("a\x01"), "\"a\\u0001\"");
  // The reader used below is strict.
  for (const char* bad : {"{\"a\":1,}", "[1 2]", "{\"a\":NaN}", "\"raw \n\"", "01", "{} {}", "{\"a\":1,\"a\":2}"})
    EXPECT_THROW(parse(bad), std::runtime_error) << bad;
}

TEST(JsonCli, DevicesListsTheCpuWithItsMemory) {
  Split raw;
  J d = run_json("devices --json", 0, &raw);
  ASSERT_EQ(d["devices"].t, J::Arr);
  const J& cpu = d["devices"].find("id", "cpu:0");
  EXPECT_EQ(cpu["backend"].s, "cpu");
  EXPECT_EQ(cpu["index"].n, 0);
  EXPECT_EQ(cpu["kind"].s, "cpu");
  EXPECT_GT(cpu["memory_bytes"].n, 0);
  EXPECT_FALSE(cpu["name"].s.empty());
  EXPECT_EQ(cpu["details"].t, J::Str);
  for (const J& dev : d["devices"].a)
    EXPECT_EQ(dev["id"].s, dev["backend"].s + ":" + std::to_string(static_cast<int>(dev["index"].n)));
  EXPECT_EQ(d["unavailable"].t, J::Arr);
  EXPECT_EQ(raw.out.find("DEVICE"), std::string::npos);  // no table around the document
}

TEST(JsonCli, DevicesSaysWhyABackendHasNoDevice) {
  J d = run_json("devices --json", 0, nullptr, "VDRT_VULKAN_DISABLE=1 VDRT_OPENCL_DISABLE=1");
  EXPECT_EQ(d["devices"].a.size(), 1u);  // the CPU alone
  std::vector<std::string> why;
  for (const J& u : d["unavailable"].a) why.push_back(u.s);
  size_t expected = 0;
#ifdef VDRT_WITH_VULKAN
  ++expected;
  EXPECT_TRUE(std::count_if(why.begin(), why.end(), [](const std::string& w) {
    return w.rfind("vulkan: ", 0) == 0 && w.find("VDRT_VULKAN_DISABLE") != std::string::npos;
  })) << d["unavailable"].a.size();
#endif
#ifdef VDRT_WITH_OPENCL
  ++expected;
  EXPECT_TRUE(std::count_if(why.begin(), why.end(), [](const std::string& w) {
    return w.rfind("opencl: ", 0) == 0 && w.find("VDRT_OPENCL_DISABLE") != std::string::npos;
  })) << d["unavailable"].a.size();
#endif
  EXPECT_EQ(why.size(), expected);
}

TEST(JsonCli, InspectGivesShapesOpsAndSupport) {
  J d = run_json("inspect " + kModel + " --json");
  EXPECT_EQ(d["model"].s, kModel);
  EXPECT_EQ(d["producer"].s, "pytorch");
  EXPECT_EQ(d["opsets"]["ai.onnx"].n, 17);
  EXPECT_EQ(d["metadata"]["vdrt.num_layers"].s, "2");
  EXPECT_EQ(d["metadata"]["vdrt.tokens_per_frame"].s, "16");
  ASSERT_EQ(d["inputs"].a.size(), 8u);
  const J& x = d["inputs"].find("name", "noisy_latents");
  EXPECT_EQ(x["dtype"].s, "f32");
  EXPECT_EQ(numbers(x["shape"]), (std::vector<double>{1, 3, 16, 8, 8}));
  const J& past = d["inputs"].find("name", "past_key.0");  // a symbolic dim is its name
  ASSERT_EQ(past["shape"].a.size(), 4u);
  EXPECT_EQ(past["shape"][1].t, J::Str);
  EXPECT_EQ(past["shape"][1].s, "past_len");
  EXPECT_EQ(d["inputs"].find("name", "frame_offset")["shape"].a.size(), 0u);  // a scalar
  ASSERT_EQ(d["outputs"].a.size(), kOutputs.size());
  for (size_t i = 0; i < kOutputs.size(); ++i) EXPECT_EQ(d["outputs"][i]["name"].s, kOutputs[i]);
  // Item 11: concrete output shapes follow from the declared input shapes.
  EXPECT_EQ(numbers(d["outputs"].find("name", "flow")["shape"]), (std::vector<double>{1, 3, 16, 8, 8}));
  EXPECT_EQ(numbers(d["outputs"].find("name", "present_key.1")["shape"]), (std::vector<double>{1, 48, 4, 16}));
  EXPECT_EQ(d["node_count"].n, 570);
  EXPECT_EQ(d["constants"].n, 72);
  EXPECT_GT(d["constant_bytes"].n, 0.5 * 1048576);
  EXPECT_EQ(d["unknown_ops"].n, 0);
  EXPECT_EQ(d["shape_error"].t, J::Null);
  ASSERT_EQ(d["backends"].t, J::Arr);
  EXPECT_EQ(d["backends"][0].s, "cpu");
  double total = 0;
  for (const J& op : d["ops"].a) {
    total += op["count"].n;
    EXPECT_TRUE(op["known"].b) << op["op"].s;
    EXPECT_EQ(op["supported"]["cpu"].n, op["count"].n) << op["op"].s;  // the CPU runs every op
    for (const J& b : d["backends"].a) EXPECT_LE(op["supported"][b.s].n, op["count"].n);
  }
  EXPECT_EQ(total, 570);
  EXPECT_EQ(d["ops"].find("op", "Add")["count"].n, 65);
  EXPECT_FALSE(d.has("nodes"));  // only with --nodes
}

TEST(JsonCli, InspectNodesWithTestInputsHaveNoUnknownDims) {
  J d = run_json("inspect " + kModel + " -i " + kData + " --nodes --json");
  EXPECT_EQ(numbers(d["inputs"].find("name", "past_key.0")["shape"]), (std::vector<double>{1, 48, 4, 16}));
  ASSERT_EQ(d["nodes"].a.size(), 570u);
  for (const J& n : d["nodes"].a)
    for (const J& o : n["outputs"].a) {
      ASSERT_EQ(o["shape"].t, J::Arr) << n["name"].s;
      for (const J& dim : o["shape"].a) EXPECT_EQ(dim.t, J::Num) << n["name"].s << " " << o["name"].s;
    }
}

// Item 11: `inspect` prints concrete shapes, not `?`, from the declared input
// shapes (symbolic dims stay named) and from -i test inputs.
TEST(InspectShapes, DeclaredShapesGiveConcreteOrSymbolicDims) {
  CliResult r = run_vdrt("inspect " + kModel + " --nodes");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.find('?'), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("flow                         f32[1, 3, 16, 8, 8]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("present_key.0                f32[1, 48, 4, 16]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("f32[1, past_len+48, 4, 16]"), std::string::npos) << r.output;  // the concatenated cache
}

TEST(InspectShapes, TestInputsMakeEveryShapeConcrete) {
  CliResult r = run_vdrt("inspect " + kModel + " -i " + kData + " --nodes");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.find('?'), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("past_len"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("past_key.0                   f32[1, 48, 4, 16]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("f32[1, 96, 4, 16]"), std::string::npos) << r.output;  // 48 cached + 48 new keys
  // Inputs that do not fit the model (latents of rank 4): shape inference says where, exit 1.
  const fs::path bad = fs::temp_directory_path() / "vdrt_json_test_bad_inputs";
  fs::remove_all(bad);
  fs::create_directories(bad);
  save_tensor_pb(Tensor(DType::F32, {1, 3, 16, 8}), "noisy_latents", (bad / "input_0.pb").string());
  r = run_vdrt("inspect " + kModel + " -i " + bad.string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("shape inference stopped"), std::string::npos) << r.output;
  fs::remove_all(bad);
  // A folder that does not exist is a bad command line.
  r = run_vdrt("inspect " + kModel + " -i /nonexistent/dir");
  EXPECT_EQ(r.code, 2) << r.output;
}

TEST(JsonCli, RunReportsEveryOutputWithItsError) {
  Split raw;
  J d = run_json("run " + kModel + " -i " + kData + " -d cpu -r 3 --json", 0, &raw);
  EXPECT_EQ(d["model"].s, kModel);
  EXPECT_EQ(d["device"]["backend"].s, "cpu");
  EXPECT_EQ(d["device"]["id"].s, "cpu:0");
  EXPECT_GT(d["device"]["memory_bytes"].n, 0);
  EXPECT_EQ(d["expected_dir"].s, kData);
  EXPECT_DOUBLE_EQ(d["rtol"].n, 1e-3);
  EXPECT_DOUBLE_EQ(d["atol"].n, 1e-5);
  ASSERT_EQ(d["outputs"].a.size(), kOutputs.size());
  for (size_t i = 0; i < kOutputs.size(); ++i) {
    const J& o = d["outputs"][i];
    EXPECT_EQ(o["name"].s, kOutputs[i]);
    EXPECT_EQ(o["dtype"].s, "f32");
    EXPECT_TRUE(o["compared"].b);
    EXPECT_TRUE(o["ok"].b);
    EXPECT_LE(o["max_abs_error"].n, 1e-4) << o["name"].s;
    EXPECT_GE(o["max_abs_error"].n, 0);
    EXPECT_EQ(o["mismatches"].n, 0);
    EXPECT_EQ(o["reason"].t, J::Null);
    // The worst element is the one with the largest error.
    EXPECT_NEAR(std::fabs(o["worst"]["actual"].n - o["worst"]["expected"].n), o["max_abs_error"].n, 1e-12);
    EXPECT_EQ(o["worst"]["index"].a.size(), o["shape"].a.size());
  }
  EXPECT_EQ(numbers(d["outputs"][0]["shape"]), (std::vector<double>{1, 3, 16, 8, 8}));
  EXPECT_EQ(d["compared"].n, 5);
  EXPECT_TRUE(d["ok"].b);
  EXPECT_EQ(d["exit_code"].n, 0);
  EXPECT_EQ(d["timing"]["runs"].n, 3);
  EXPECT_GT(d["timing"]["median_ms"].n, 0);
  EXPECT_LE(d["timing"]["min_ms"].n, d["timing"]["median_ms"].n);
  EXPECT_LE(d["timing"]["median_ms"].n, d["timing"]["max_ms"].n);
  EXPECT_GT(d["memory"]["arena_bytes"].n, 0);
  EXPECT_GE(d["memory"]["naive_bytes"].n, d["memory"]["arena_bytes"].n);
  EXPECT_GT(d["placement"]["nodes"]["cpu"].n, 0);
  EXPECT_GE(d["placement"]["cross_copies"].n, 0);
  // The logs went to stderr.
  EXPECT_NE(raw.err.find("placement:"), std::string::npos) << raw.err;
  EXPECT_EQ(raw.out.find("placement:"), std::string::npos) << raw.out;
}

TEST(JsonCli, RunMismatchIsExitCode3WithTheWorstElement) {
  J d = run_json("run " + kModel + " -i " + kData + " -d cpu --rtol 0 --atol 1e-9 --json", 3);
  EXPECT_FALSE(d["ok"].b);
  EXPECT_EQ(d["exit_code"].n, 3);
  const J& flow = d["outputs"].find("name", "flow");
  EXPECT_FALSE(flow["ok"].b);
  EXPECT_GT(flow["mismatches"].n, 0);
  EXPECT_LE(flow["mismatches"].n, 1 * 3 * 16 * 8 * 8);
  EXPECT_EQ(flow["reason"].t, J::Str);
  const std::vector<double> index = numbers(flow["worst"]["index"]);
  ASSERT_EQ(index.size(), 5u);
  const std::vector<double> shape = {1, 3, 16, 8, 8};
  double flat = 0;
  for (size_t k = 0; k < 5; ++k) {
    EXPECT_LT(index[k], shape[k]);
    flat = flat * shape[k] + index[k];
  }
  EXPECT_EQ(flat, flow["worst"]["flat_index"].n);
}

TEST(JsonCli, FailuresLeaveStdoutEmpty) {
  // A bad command line (exit 2) and a bad model (exit 1): the reason on stderr, nothing on stdout.
  Split r = run_split("run " + kModel + " -i " + kData + " --expected /nonexistent --json");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("/nonexistent"), std::string::npos) << r.err;
  const fs::path bad = fs::temp_directory_path() / "vdrt_json_test_bad.onnx";
  std::ofstream(bad) << "not a model";
  r = run_split("inspect " + bad.string() + " --json");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(r.out, "");
  fs::remove(bad);
}

TEST(JsonCli, RunWithoutExpectedOutputsComparesNothing) {
  const fs::path dir = fs::temp_directory_path() / "vdrt_json_test_inputs_only";
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(kData))
    if (e.path().filename().string().rfind("input_", 0) == 0) fs::copy_file(e.path(), dir / e.path().filename());
  J d = run_json("run " + kModel + " -i " + dir.string() + " -d cpu --json");
  EXPECT_EQ(d["compared"].n, 0);
  EXPECT_EQ(d["ok"].t, J::Null);
  EXPECT_EQ(d["expected_dir"].t, J::Null);
  for (const J& o : d["outputs"].a) {
    EXPECT_FALSE(o["compared"].b);
    EXPECT_EQ(o["ok"].t, J::Null);
    EXPECT_EQ(o["max_abs_error"].t, J::Null);
  }
  fs::remove_all(dir);
}

TEST(JsonCli, BenchGivesTheDistribution) {
  J d = run_json("bench " + kModel + " -i " + kData + " -d cpu --runs 5 --warmup 1 --json");
  EXPECT_EQ(d["runs"].n, 5);
  EXPECT_EQ(d["warmup"].n, 1);
  EXPECT_EQ(d["device"]["backend"].s, "cpu");
  EXPECT_GT(d["p10_ms"].n, 0);
  EXPECT_LE(d["min_ms"].n, d["p10_ms"].n);
  EXPECT_LE(d["p10_ms"].n, d["median_ms"].n);
  EXPECT_LE(d["median_ms"].n, d["p90_ms"].n);
  EXPECT_LE(d["p90_ms"].n, d["max_ms"].n);
  EXPECT_GE(d["mean_ms"].n, d["min_ms"].n);
  EXPECT_LE(d["mean_ms"].n, d["max_ms"].n);
  EXPECT_GT(d["arena_bytes"].n, 0);
  EXPECT_EQ(d["arena_bytes"].n, d["memory"]["arena_bytes"].n);
  EXPECT_GT(d["placement"]["nodes"]["cpu"].n, 0);
  EXPECT_GE(d["placement"]["host_uploads"].n, 0);
  EXPECT_EQ(d["profile"].t, J::Null);  // only with --profile
}

TEST(JsonCli, BenchProfileGivesTimePerOpType) {
  J d = run_json("bench " + kModel + " -i " + kData + " -d cpu --runs 4 --warmup 1 --profile --json");
  const J& p = d["profile"];
  EXPECT_EQ(p["runs"].n, 4);
  EXPECT_EQ(p["node_time"].s, "kernel");
  EXPECT_GT(p["ms_per_run"].n, 0);
  double percent = 0;
  for (const J& row : p["op_types"].a) {
    EXPECT_GE(row["total_ms"].n, 0);
    EXPECT_GT(row["calls"].n, 0) << row["op"].s;
    EXPECT_NEAR(row["ms_per_call"].n, row["total_ms"].n / row["calls"].n, 1e-9) << row["op"].s;
    percent += row["percent"].n;
  }
  EXPECT_NEAR(percent, 100.0, 0.1);
  // The default pipeline fuses the attention; the tiny model has 4 of them.
  EXPECT_EQ(p["op_types"].find("op", "vdrt.Attention")["nodes"].n, 4);
  EXPECT_EQ(p["op_types"].find("op", "vdrt.Attention")["calls"].n, 16);
  EXPECT_GT(p["op_types"].find("op", "vdrt.FusedMatMul")["total_ms"].n, 0);  // each Linear with its epilogue
  EXPECT_EQ(p["op_types"].a.back()["op"].s, "(runtime)");
}

TEST(JsonCli, OptListPassesGivesEveryOptionTyped) {
  J d = run_json("opt --list-passes --json");
  const J& fold = d["passes"].find("name", "fold-constants");
  EXPECT_FALSE(fold["description"].s.empty());
  const J& max_bytes = fold["options"].find("name", "max_bytes");
  EXPECT_EQ(max_bytes["type"].s, "int");
  EXPECT_EQ(max_bytes["default"].n, 16 << 20);
  EXPECT_FALSE(max_bytes["help"].s.empty());
  const J& fold_shapes = fold["options"].find("name", "fold_shapes");
  EXPECT_EQ(fold_shapes["type"].s, "bool");
  EXPECT_EQ(fold_shapes["default"].t, J::Bool);
  EXPECT_TRUE(fold_shapes["default"].b);
  d["passes"].find("name", "sparsify-attention");
  d["passes"].find("name", "quantize-fp8");
  for (const J& p : d["passes"].a)
    for (const J& o : p["options"].a) {
      const std::string& t = o["type"].s;
      const J& v = o["default"];
      const bool typed = (t == "bool" && v.t == J::Bool) || ((t == "int" || t == "float") && v.t == J::Num) ||
                         (t == "string" && v.t == J::Str) || v.t == J::Arr;
      EXPECT_TRUE(typed) << p["name"].s << "." << o["name"].s << " (" << t << ")";
    }
}

// Issue 17: each option's allowed range or values, taken from the OptionSpec
// that configure() checks: the listed bounds are the ones a pipeline is held
// to (one past them exits 2, on them is accepted), and unconstrained options
// say null.
TEST(JsonCli, OptListPassesGivesTheAllowedRangeOrValues) {
  J d = run_json("opt --list-passes --json");
  const J& fold = d["passes"].find("name", "fold-constants")["options"];
  EXPECT_EQ(fold.find("name", "max_bytes")["min"].t, J::Num);
  EXPECT_EQ(fold.find("name", "max_bytes")["min"].n, 0);
  EXPECT_EQ(fold.find("name", "max_bytes")["max"].t, J::Null);
  EXPECT_EQ(fold.find("name", "max_bytes")["allowed"].t, J::Null);
  EXPECT_EQ(fold.find("name", "max_sweeps")["min"].n, 1);
  EXPECT_EQ(fold.find("name", "fold_shapes")["min"].t, J::Null);  // a bool: no range
  const J& sparse = d["passes"].find("name", "sparsify-attention")["options"];
  const J& method = sparse.find("name", "method");
  ASSERT_EQ(method["allowed"].t, J::Arr);
  ASSERT_EQ(method["allowed"].a.size(), 2u);
  EXPECT_EQ(method["allowed"][0].s, "pbsa");
  EXPECT_EQ(method["allowed"][1].s, "hsa");
  EXPECT_EQ(method["min"].t, J::Null);
  EXPECT_EQ(sparse.find("name", "saliency_decay")["min"].n, 0);
  EXPECT_EQ(sparse.find("name", "saliency_decay")["max"].n, 1);
  EXPECT_EQ(sparse.find("name", "block_tile")["allowed"].t, J::Null);  // any "HxW" string
  for (const J& p : d["passes"].a)
    for (const J& o : p["options"].a) {
      for (const char* k : {"min", "max", "allowed"}) EXPECT_TRUE(o.has(k)) << p["name"].s << "." << o["name"].s;
      if (o["type"].s != "int" && o["type"].s != "float") EXPECT_EQ(o["min"].t, J::Null) << o["name"].s;
      if (o["type"].s != "string") EXPECT_EQ(o["allowed"].t, J::Null) << o["name"].s;
    }

  // What is listed is what is enforced.
  const fs::path dir = fs::temp_directory_path() / ("vdrt_json_test_ranges_" + std::to_string(getpid()));
  fs::create_directories(dir);
  auto accepted = [&](const std::string& entry) {
    std::ofstream(dir / "p.toml") << "[[pass]]\n" << entry;
    Split r = run_split("opt --print-pipeline --pipeline " + (dir / "p.toml").string());
    EXPECT_TRUE(r.code == 0 || r.code == 2) << entry << r.err;
    return r.code == 0;
  };
  const auto min_sweeps = static_cast<long long>(fold.find("name", "max_sweeps")["min"].n);
  EXPECT_TRUE(accepted("name = \"fold-constants\"\nmax_sweeps = " + std::to_string(min_sweeps) + "\n"));
  EXPECT_FALSE(accepted("name = \"fold-constants\"\nmax_sweeps = " + std::to_string(min_sweeps - 1) + "\n"));
  EXPECT_TRUE(accepted("name = \"sparsify-attention\"\nsaliency_decay = 1.0\n"));
  EXPECT_FALSE(accepted("name = \"sparsify-attention\"\nsaliency_decay = 1.01\n"));
  for (const J& v : method["allowed"].a)
    EXPECT_TRUE(accepted("name = \"sparsify-attention\"\nmethod = \"" + v.s + "\"\n")) << v.s;
  EXPECT_FALSE(accepted("name = \"sparsify-attention\"\nmethod = \"pbs\"\n"));
  fs::remove_all(dir);
}

TEST(JsonCli, OptReportGivesEachQuantisedLayersError) {
  J d = run_json("opt " + kModel + " --passes quantize-fp8 --report --json");
  EXPECT_EQ(d["nodes_before"].n, 570);
  EXPECT_EQ(d["output"].t, J::Null);
  const J& q = d["report"];
  ASSERT_GT(q["quantized_layers"].n, 0);
  EXPECT_EQ(d["ops"]["vdrt.QMatMul"].n, q["quantized_layers"].n);
  EXPECT_EQ(q["layers"].a.size(), static_cast<size_t>(q["quantized_layers"].n));
  for (const J& l : q["layers"].a) {
    EXPECT_FALSE(l["layer"].s.empty());
    ASSERT_EQ(l["isolated_rel_error"].t, J::Num) << l["layer"].s;
    EXPECT_GT(l["isolated_rel_error"].n, 0) << l["layer"].s;  // fp8 is not exact
    EXPECT_LT(l["isolated_rel_error"].n, 0.2) << l["layer"].s;
  }
  ASSERT_EQ(q["outputs"].a.size(), kOutputs.size());
  for (const J& o : q["outputs"].a) {
    EXPECT_LT(o["rel_l2_error"].n, 0.5) << o["name"].s;
    EXPECT_GE(o["max_abs_error"].n, 0);
  }
  // Nothing quantised: the report says so, with no layers.
  d = run_json("opt " + kModel + " --report --json");
  EXPECT_EQ(d["report"]["quantized_layers"].n, 0);
  EXPECT_TRUE(d["report"]["layers"].a.empty());
  EXPECT_NE(d["report"]["note"].s.find("quantize-fp8"), std::string::npos);
  EXPECT_LT(d["nodes_after"].n, d["nodes_before"].n);  // the default pipeline ran
  EXPECT_GT(d["ops"]["vdrt.Attention"].n, 0);
}

TEST(JsonCli, ProfileAttentionGivesPerLayerFiguresAndTheSuggestion) {
  J d = run_json("profile-attention " + source_path("models/tiny_wan") + " --chunks 3 --block-size 4 --json");
  EXPECT_EQ(d["options"]["chunks"].n, 3);
  EXPECT_EQ(d["options"]["block_size"].n, 4);
  const size_t budgets = d["options"]["budgets"].a.size();
  EXPECT_EQ(budgets, 5u);
  EXPECT_GT(d["layout"]["blocks_per_frame"].n, 0);
  ASSERT_EQ(d["rows"].a.size(), 3u * 2u);  // chunks x layers
  for (const J& r : d["rows"].a) {
    EXPECT_LT(r["layer"].n, 2);
    EXPECT_LT(r["chunk"].n, 3);
    const double total = r["local_mass"].n + r["window_mass"].n + r["outside_mass"].n;
    EXPECT_NEAR(total, 1.0, 1e-6);
    EXPECT_EQ(r["oracle_kept"].a.size(), budgets);
    EXPECT_EQ(r["score_kept"].a.size(), budgets);
    for (double kept : numbers(r["oracle_kept"])) {
      EXPECT_GE(kept, 0);
      EXPECT_LE(kept, 1 + 1e-9);
    }
  }
  EXPECT_EQ(d["rows"][0]["cached_frames"].n, 0);  // the first chunk has no cache
  EXPECT_GT(d["rows"].a.back()["cached_frames"].n, 0);
  EXPECT_NE(d["suggestion"].s.find("sparsify-attention"), std::string::npos) << d["suggestion"].s;
  EXPECT_EQ(d["compare"].t, J::Null);
  EXPECT_EQ(d["options"]["pipeline"].s, "<default>");
  EXPECT_TRUE(d["options"]["added_passes"].a.empty());
}

// Issue 17: profile-attention optimises the denoiser at load like run and
// generate, so the profile is of the model that will run: the exact passes
// (default pipeline, -O0) give the same masses to rounding, while a pipeline
// that quantises to fp8 changes them. -O0 fuses no attention, so the
// profiler adds the two passes its rewrite needs and says so.
TEST(JsonCli, ProfileAttentionProfilesTheOptimisedModel) {
  const std::string prof = "profile-attention " + source_path("models/tiny_wan") + " --chunks 3 --block-size 4 --json";
  J def = run_json(prof);
  J raw = run_json(prof + " -O0");
  J fp8 = run_json(prof + " --passes fold-constants,fuse-attention,quantize-fp8");
  EXPECT_EQ(raw["options"]["pipeline"].s, "-O0");
  ASSERT_EQ(raw["options"]["added_passes"].a.size(), 2u);
  EXPECT_EQ(raw["options"]["added_passes"][0].s, "fold-constants");
  EXPECT_EQ(raw["options"]["added_passes"][1].s, "fuse-attention");
  EXPECT_EQ(fp8["options"]["pipeline"].s, "--passes fold-constants,fuse-attention,quantize-fp8");
  EXPECT_TRUE(fp8["options"]["added_passes"].a.empty());
  ASSERT_EQ(def["rows"].a.size(), 6u);
  ASSERT_EQ(raw["rows"].a.size(), 6u);
  ASSERT_EQ(fp8["rows"].a.size(), 6u);
  double raw_diff = 0, fp8_diff = 0;
  for (size_t i = 0; i < 6; ++i)
    for (const char* k : {"local_mass", "window_mass"}) {
      raw_diff = std::max(raw_diff, std::fabs(def["rows"][i][k].n - raw["rows"][i][k].n));
      fp8_diff = std::max(fp8_diff, std::fabs(def["rows"][i][k].n - fp8["rows"][i][k].n));
    }
  EXPECT_LT(raw_diff, 1e-6);  // folding and fusion are exact up to float rounding
  EXPECT_GT(fp8_diff, 1e-5);  // e4m3 weights move the attention (about 3e-4 on this model)
}

// `vdrt generate --json` (the document bench/rollout_bench.py reads): one
// entry per chunk, the KV cache the policy keeps, and rates that are the
// frames over the summed chunk times. The tiny Wan caches 2 layers x (K, V)
// x 16 tokens x 4 heads x 16 dims x 4 bytes = 16 KiB a latent frame.
constexpr double kTinyFrameBytes = 2 * 2 * 16 * 4 * 16 * 4;

void expect_rates_match_chunks(const J& d) {
  double total = 0;
  for (const J& c : d["chunks"].a) {
    EXPECT_GT(c["ms"].n, 0);
    total += c["ms"].n;
    EXPECT_GE(d["peak_kv_cache_bytes"].n, c["cache_bytes"].n);
  }
  EXPECT_NEAR(d["total_ms"].n, total, 1e-9 * total + 1e-9);
  EXPECT_NEAR(d["latent_fps"].n, d["latent_frames"].n / (total / 1e3), 1e-9 * d["latent_fps"].n);
  EXPECT_EQ(d["chunks_done"].n, static_cast<double>(d["chunks"].a.size()));
  EXPECT_EQ(d["latent_frames"].n, 3 * d["chunks_done"].n);
}

TEST(JsonCli, GuidedGenerateReportsTwiceTheCallsAndTheCache) {
  const std::string gen = "generate " + source_path("models/tiny_wan") +
                          " --frames 36 --cache window:6,sink:1 -d cpu --no-decode --no-progress --json";
  J plain = run_json(gen);
  J guided = run_json(gen + " --guidance 3 --negative-context " +
                      source_path("models/tiny_wan/rollout_reference_guided/negative_context.pb"));
  EXPECT_EQ(guided["guidance"].n, 3);
  EXPECT_EQ(guided["denoiser_calls_per_chunk"].n, 10);
  EXPECT_EQ(guided["peak_kv_cache_bytes"].n, 2 * plain["peak_kv_cache_bytes"].n);
  ASSERT_EQ(guided["chunks"].a.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(guided["chunks"][i]["cache_bytes"].n, 2 * plain["chunks"][i]["cache_bytes"].n) << "chunk " << i;
    EXPECT_EQ(guided["chunks"][i]["cache_frames"].n, plain["chunks"][i]["cache_frames"].n) << "chunk " << i;
  }
}

TEST(JsonCli, GenerateReportsEveryChunkAndThePeakCache) {
  J d = run_json("generate " + source_path("models/tiny_wan") +
                 " --frames 60 --cache window:6,sink:1 -d cpu --no-decode --no-progress --json");
  EXPECT_EQ(d["device"]["id"].s, "cpu:0");
  EXPECT_EQ(d["cache"].s, "window:6,sink:1");
  EXPECT_EQ(d["kv_cache_dtype"].s, "f32");
  EXPECT_EQ(d["pass_pipeline"].s, "<default>");
  EXPECT_EQ(numbers(d["steps"]), (std::vector<double>{1000, 750, 500, 250}));
  EXPECT_EQ(d["scheduler"].s, "flow-matching");
  EXPECT_EQ(d["denoiser_calls_per_chunk"].n, 5);
  EXPECT_EQ(d["guidance"].n, 1);
  EXPECT_EQ(d["tokens_per_frame"].n, 16);
  EXPECT_FALSE(d["decoded"].b);
  EXPECT_EQ(d["output"].t, J::Null);
  EXPECT_EQ(d["video_fps"].t, J::Null);
  EXPECT_FALSE(d["interrupted"].b);
  EXPECT_EQ(d["chunks_requested"].n, 5);  // 60 video frames = 5 chunks of 12
  ASSERT_EQ(d["chunks"].a.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    const J& c = d["chunks"][i];
    EXPECT_EQ(c["index"].n, i);
    const double frames = std::min<double>(3 * (i + 1), 6);  // window:6 keeps 6 frames
    EXPECT_EQ(c["cache_frames"].n, frames) << i;
    EXPECT_EQ(c["cache_bytes"].n, frames * kTinyFrameBytes) << i;
    EXPECT_EQ(c["video_frames"].n, 0);
  }
  // The peak is the moment a chunk's keys are appended, before the window evicts: 6 + 3 frames.
  EXPECT_EQ(d["peak_kv_cache_bytes"].n, 9 * kTinyFrameBytes);
  expect_rates_match_chunks(d);
  EXPECT_GT(d["steady_latent_fps"].n, 0);
  EXPECT_GT(d["placement"]["nodes"]["cpu"].n, 0);
}

#ifdef VDRT_WITH_VULKAN
// At fp16 on Vulkan the cache is f16: the same frames in half the bytes;
// --f32-kv-cache keeps f32. (lavapipe in CI: scripts/run-tests.sh.)
TEST(JsonCli, GenerateOnVulkanAtFp16KeepsTheCacheInHalf) {
  if (!(std::getenv("VDRT_REQUIRE_GPU") && std::string(std::getenv("VDRT_REQUIRE_GPU")) == "1"))
    GTEST_SKIP() << "needs a Vulkan device (VDRT_REQUIRE_GPU=1 asserts there is one)";
  const std::string cmd = "generate " + source_path("models/tiny_wan") +
                          " --frames 36 --cache window:6,sink:1 -d vulkan --precision fp16 --no-decode --no-progress --json";
  J half = run_json(cmd), full = run_json(cmd + " --f32-kv-cache");
  EXPECT_EQ(half["kv_cache_dtype"].s, "f16");
  EXPECT_EQ(full["kv_cache_dtype"].s, "f32");
  EXPECT_EQ(half["peak_kv_cache_bytes"].n, 9 * kTinyFrameBytes / 2);
  EXPECT_EQ(full["peak_kv_cache_bytes"].n, 9 * kTinyFrameBytes);
  ASSERT_EQ(half["chunks"].a.size(), 3u);
  EXPECT_EQ(half["chunks"][2]["cache_bytes"].n, 6 * kTinyFrameBytes / 2);
}
#endif

TEST(JsonCli, GenerateCountsTheVideoFramesWritten) {
  const fs::path out = fs::temp_directory_path() / ("vdrt_json_generate_" + std::to_string(getpid()) + ".y4m");
  J d = run_json("generate " + source_path("models/tiny_wan") + " --frames 30 -d cpu --no-progress -o " +
                 out.string() + " --json");
  EXPECT_TRUE(d["decoded"].b);
  EXPECT_EQ(d["output"].s, out.string());
  ASSERT_EQ(d["chunks"].a.size(), 3u);  // 12 + 12 + the first 6 of the third chunk
  std::vector<double> per_chunk;
  for (const J& c : d["chunks"].a) per_chunk.push_back(c["video_frames"].n);
  EXPECT_EQ(per_chunk, (std::vector<double>{12, 12, 6}));
  EXPECT_EQ(d["video_frames"].n, 30);
  EXPECT_NEAR(d["video_fps"].n, 30 / (d["total_ms"].n / 1e3), 1e-9 * d["video_fps"].n);
  EXPECT_EQ(d["chunks"][2]["cache_bytes"].n, 9 * kTinyFrameBytes);  // unbounded: every frame
  expect_rates_match_chunks(d);
  fs::remove(out);
}

// Ctrl-C (SIGINT) mid-rollout still gives the document, over the chunks done.
TEST(JsonCli, GenerateInterruptedReportsTheChunksDone) {
  const std::string cmd = "timeout --preserve-status -s INT 3 " + vdrt_binary() + " generate " +
                          source_path("models/tiny_wan") + " --frames 1200000 -d cpu --no-decode --no-progress --json"
                          " 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_TRUE(p);
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  const int status = pclose(p);
  EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 130);
  J d = parse(text);
  EXPECT_TRUE(d["interrupted"].b);
  EXPECT_EQ(d["chunks_requested"].n, 100000);
  EXPECT_GE(d["chunks_done"].n, 1);
  EXPECT_LT(d["chunks_done"].n, 100000);
  expect_rates_match_chunks(d);
}

}  // namespace
}  // namespace vdrt::test
