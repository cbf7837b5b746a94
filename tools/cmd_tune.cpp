// `vdrt tune`: times every fp32 GEMM tile the device can run on the
// Wan2.1-1.3B linears (or --shapes), keeps the fastest by total time once it
// matches the CPU, and writes the device's tuning file, which every later
// backend on that device reads (backends/gpu_tuning.h; CLBlast's tuner and
// database, in small). Tiles are switched through VDRT_MATMUL_TILE, which
// each backend reads when created, so one process tries them all.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "backends/registry.h"
#include "tools/command.h"
#include "tools/common_options.h"
#include "tools/gemm_timing.h"
#include "tools/json_output.h"
#include "tools/progress.h"
#if defined(VDRT_WITH_VULKAN) || defined(VDRT_WITH_OPENCL)
#include "backends/gpu_tuning.h"
#include "kernels/gpu/matmul_tile.h"
#endif

namespace vdrt::cli {
namespace {

constexpr double kTolerance = 1e-4;  // max |gpu - cpu| / max |cpu| the chosen tile must meet
const char* kDefaultShapes = "4680x1536x1536,4680x1536x8960,4680x8960x1536";

struct TuneArgs {
  DeviceOptions dev;
  std::string shapes = kDefaultShapes;
  int runs = 5;
  bool json = false, dry_run = false;
};

std::vector<GemmShape> parse_shapes(const std::string& text) {
  std::vector<GemmShape> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    const std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    GemmShape s;
    int used = 0;
    if (std::sscanf(item.c_str(), "%ldx%ldx%ld%n", &s.m, &s.k, &s.n, &used) != 3 ||
        used != static_cast<int>(item.size()) || s.m <= 0 || s.k <= 0 || s.n <= 0)
      throw UsageError("--shapes: '" + item + "' is not MxKxN with positive sizes (e.g. 64x48x80)");
    out.push_back(s);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

#if defined(VDRT_WITH_VULKAN) || defined(VDRT_WITH_OPENCL)

struct Trial {
  gpu::MatmulTile tile;
  std::vector<double> ms;
  double total_ms = 0, tflops = 0;
  std::string error;  // the device refused the tile (it is then skipped)
};

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

// Clears the override for the tuning run (each tile sets it) and puts the
// caller's value back afterwards.
class TileEnv {
 public:
  TileEnv() {
    for (const char* n : {"VDRT_MATMUL_TILE", "VDRT_VULKAN_MATMUL_TILE"}) {
      if (const char* v = std::getenv(n)) {
        saved_.emplace_back(n, v);
        spdlog::info("tune: {}={} is ignored while tuning", n, v);
      }
      unsetenv(n);
    }
  }
  ~TileEnv() {
    unsetenv("VDRT_MATMUL_TILE");
    for (const auto& [n, v] : saved_) setenv(n.c_str(), v.c_str(), 1);
  }
  void use(const gpu::MatmulTile& t) { setenv("VDRT_MATMUL_TILE", gpu::to_csv(t).c_str(), 1); }

 private:
  std::vector<std::pair<std::string, std::string>> saved_;
};

Json tile_json(const gpu::MatmulTile& t) {
  return Json::array_of(std::vector<unsigned>{t.bm, t.bn, t.bk, t.tm, t.tn});
}

void print_table(const std::vector<GemmShape>& shapes, const std::vector<Trial>& trials, const Trial* best) {
  std::string head = fmt::format("{:<16}", "TILE");
  for (const GemmShape& s : shapes) head += fmt::format(" {:>16}", s.text() + " ms");
  std::printf("%s %9s %10s\n", head.c_str(), "TFLOP/s", "TOTAL ms");
  for (const Trial& t : trials) {
    std::string line = fmt::format("{:<16}", gpu::to_string(t.tile));
    if (!t.error.empty()) {
      std::printf("%s failed: %s\n", line.c_str(), t.error.c_str());
      continue;
    }
    for (double ms : t.ms) line += fmt::format(" {:>16.3f}", ms);
    std::printf("%s %9.3f %10.3f%s\n", line.c_str(), t.tflops, t.total_ms, &t == best ? "  <- fastest" : "");
  }
}

int run_tune(const TuneArgs& a) {
  validate(a.dev);
  require_at_least("--runs", a.runs, 1);
  const std::vector<GemmShape> shapes = parse_shapes(a.shapes);
  const std::string& sel = a.dev.device;
  if (sel == "cpu" || sel.rfind("cpu:", 0) == 0)
    throw UsageError("-d " + sel + ": tune measures a GPU backend's GEMM tiles; pick a GPU from `vdrt devices`");

  TileEnv env;
  // The selection as a concrete device (auto, "opencl" = opencl:0).
  DeviceInfo info = BackendRegistry::instance().create(sel, BackendOptions{a.dev.threads, "fp32"})->info();
  if (info.backend == "cpu") throw Error("no GPU device to tune (-d " + sel + " is the CPU; see `vdrt devices`)");
  const std::string device = info.backend + ":" + std::to_string(info.index);
  const std::optional<tuning::TunableDevice> td = tuning::tunable_device(info.backend, info.index);
  if (!td) throw Error(device + " cannot be tuned");
  if (td->tuning_file.empty() && !a.dry_run)
    throw Error("no cache folder for the tuning file: set VDRT_CACHE_DIR (or HOME), or use --dry-run");

  std::vector<Trial> trials;
  for (const gpu::MatmulTile& t : gpu::matmul_tile_candidates())
    if (gpu::matmul_tile_fits(t, td->caps)) trials.push_back(Trial{t});
  spdlog::info("tune: {} ({}), {} tiles x {} shapes, median of {} runs", device, td->name, trials.size(),
               shapes.size(), a.runs);
  Progress progress(true);
  double flops = 0;
  for (const GemmShape& s : shapes) flops += s.flops();
  for (size_t i = 0; i < trials.size(); ++i) {
    Trial& t = trials[i];
    env.use(t.tile);
    try {
      for (const GemmShape& s : shapes) {
        progress.update(fmt::format("tune: [{}/{}] tile {} on {}", i + 1, trials.size(), gpu::to_string(t.tile), s.text()));
        t.ms.push_back(time_gemm_ms(device, s, a.runs));
        t.total_ms += t.ms.back();
      }
      t.tflops = flops / (t.total_ms * 1e-3) / 1e12;
    } catch (const OutOfMemory&) {
      throw;
    } catch (const Error& e) {
      t.error = e.what();
      spdlog::warn("tune: tile {} failed on {}: {}", gpu::to_string(t.tile), device, e.what());
    }
  }
  progress.finish();
  const Trial* best = nullptr;
  for (const Trial& t : trials)
    if (t.error.empty() && (!best || t.total_ms < best->total_ms)) best = &t;
  if (!best) throw Error("no fp32 GEMM tile ran on " + device);

  // The winner must compute what the CPU computes before it is kept.
  env.use(best->tile);
  double worst = 0;
  for (const GemmShape& s : shapes) {
    progress.update(fmt::format("tune: checking {} against the CPU on {}", gpu::to_string(best->tile), s.text()));
    worst = std::max(worst, gemm_relative_error(device, s, a.dev.threads));
  }
  progress.finish();
  const bool ok = worst <= kTolerance;
  bool written = false;
  if (ok && !a.dry_run) {
    tuning::Record r{info.backend, td->name, td->driver, utc_now(), best->tile, {}, a.runs, {}};
    for (const GemmShape& s : shapes) r.shapes.push_back(s.text());
    for (const Trial& t : trials)
      if (t.error.empty()) r.measured.push_back(tuning::Measured{t.tile, t.ms});
    tuning::write_record(td->tuning_file, r);
    written = true;
  }

  if (a.json) {
    Json doc = Json::object();
    doc["device"] = device;
    doc["name"] = td->name;
    doc["tuning_file"] = td->tuning_file;
    doc["written"] = written;
    Json& js = doc["shapes"] = Json::array();
    for (const GemmShape& s : shapes) js.push(s.text());
    doc["runs"] = a.runs;
    Json& tiles = doc["tiles"] = Json::array();
    for (const Trial& t : trials) {
      Json& j = tiles.push(Json::object());
      j["tile"] = tile_json(t.tile);
      j["name"] = gpu::to_string(t.tile);
      if (!t.error.empty()) {
        j["error"] = t.error;
        continue;
      }
      j["ms"] = Json::array_of(t.ms);
      j["total_ms"] = t.total_ms;
      j["tflops"] = t.tflops;
    }
    Json& c = doc["chosen"] = Json::object();
    c["tile"] = tile_json(best->tile);
    c["name"] = gpu::to_string(best->tile);
    c["total_ms"] = best->total_ms;
    c["tflops"] = best->tflops;
    c["max_relative_error"] = worst;
    c["matches_cpu"] = ok;
    print_json(doc);
  } else {
    std::printf("%s: %s (fp32 GEMM, device time per product, median of %d runs)\n", device.c_str(), td->name.c_str(),
                a.runs);
    print_table(shapes, trials, best);
    std::printf("fastest: %s, %.3f TFLOP/s over %zu shape(s); against the CPU: max relative error %.2e (limit %.0e)\n",
                gpu::to_string(best->tile).c_str(), best->tflops, shapes.size(), worst, kTolerance);
    if (written) std::printf("wrote %s\n", td->tuning_file.c_str());
    else if (ok) std::printf("--dry-run: nothing written (%s)\n", td->tuning_file.c_str());
  }
  if (!ok) {
    std::fprintf(stderr, "vdrt: error: tile %s disagrees with the CPU (max relative error %.2e > %.0e); nothing written\n",
                 gpu::to_string(best->tile).c_str(), worst, kTolerance);
    return kExitError;
  }
  return kExitOk;
}

#else

int run_tune(const TuneArgs& a) {
  validate(a.dev);
  require_at_least("--runs", a.runs, 1);
  parse_shapes(a.shapes);
  if (a.dev.device == "cpu" || a.dev.device.rfind("cpu:", 0) == 0)
    throw UsageError("-d " + a.dev.device + ": tune measures a GPU backend's GEMM tiles");
  throw Error("this build has no GPU backend to tune (configure with VDRT_WITH_VULKAN or VDRT_WITH_OPENCL)");
}

#endif

Action setup_tune(CLI::App& sub) {
  auto a = std::make_shared<TuneArgs>();
  add_device_options(sub, a->dev, false);
  sub.add_option("--shapes", a->shapes,
                 "Products to time, MxKxN[,MxKxN...] (default: the Wan2.1-1.3B linears of a 3-frame chunk)")
      ->capture_default_str();
  sub.add_option("--runs", a->runs, "Timed calls per tile and shape (the median counts)")->capture_default_str();
  add_json_flag(sub, a->json);
  sub.add_flag("--dry-run", a->dry_run, "Measure and report, but write no tuning file");
  return [a] { return run_tune(*a); };
}

CommandRegistrar reg("tune",
                     "Time the fp32 GEMM tiles on a GPU device and keep the fastest for it (a per-device tuning file)",
                     setup_tune);

}  // namespace
}  // namespace vdrt::cli
