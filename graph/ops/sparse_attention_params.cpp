#include "graph/ops/sparse_attention_params.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "graph/error.h"

namespace vdrt {

const char* sparse_method_op(SparseMethod m) { return m == SparseMethod::Pbsa ? "PBSAttention" : "HSAttention"; }

void BlockLayout::check() const {
  VDRT_CHECK(grid_h > 0 && grid_w > 0, "frame_grid must be two positive sizes, got [" + std::to_string(grid_h) + ", " +
                                           std::to_string(grid_w) + "]");
  VDRT_CHECK(tile_h > 0 && tile_w > 0, "block_tile must be two positive sizes, got [" + std::to_string(tile_h) + ", " +
                                           std::to_string(tile_w) + "]");
}

BlockLayout::TileOrder BlockLayout::tile_order() const {
  TileOrder o;
  o.token.reserve(static_cast<size_t>(tokens_per_frame()));
  o.offset.push_back(0);
  for (int64_t ty = 0; ty < tiles_y(); ++ty)
    for (int64_t tx = 0; tx < tiles_x(); ++tx) {
      for (int64_t y = ty * tile_h; y < std::min(grid_h, (ty + 1) * tile_h); ++y)
        for (int64_t x = tx * tile_w; x < std::min(grid_w, (tx + 1) * tile_w); ++x)
          o.token.push_back(static_cast<int32_t>(y * grid_w + x));
      o.offset.push_back(static_cast<int32_t>(o.token.size()));
    }
  return o;
}

double CagSchedule::sparsity(int64_t chunk) const {
  if (ramp <= 0 || chunk >= ramp) return s_max;
  const double x = static_cast<double>(std::max<int64_t>(chunk, 0)) / static_cast<double>(ramp);
  const double g = curve == Curve::Linear ? x : 0.5 * (1.0 - std::cos(std::numbers::pi * x));
  return s_min + (s_max - s_min) * g;
}

int64_t CagSchedule::keep(int64_t chunk, int64_t n) const {
  if (n <= 0) return 0;
  // A hair below 1 so that a budget that is exact in decimal (0.2 * 10)
  // does not round up through binary noise.
  const double kept = std::ceil((1.0 - sparsity(chunk)) * static_cast<double>(n) - 1e-9);
  return std::clamp<int64_t>(static_cast<int64_t>(kept), 1, n);
}

CagSchedule::Curve CagSchedule::parse_curve(const std::string& name) {
  if (name == "linear") return Curve::Linear;
  if (name == "cosine") return Curve::Cosine;
  throw Error("cag_curve must be 'linear' or 'cosine', got '" + name + "'");
}

SparseAttentionParams::MemoryRank SparseAttentionParams::parse_memory_rank(const std::string& name) {
  if (name == "accumulated") return MemoryRank::Accumulated;
  if (name == "pooled_refresh") return MemoryRank::PooledRefresh;
  throw Error("memory_rank must be 'accumulated' or 'pooled_refresh', got '" + name + "'");
}

const char* SparseAttentionParams::memory_rank_name(MemoryRank r) {
  return r == MemoryRank::Accumulated ? "accumulated" : "pooled_refresh";
}

const char* CagSchedule::curve_name(Curve c) { return c == Curve::Linear ? "linear" : "cosine"; }

int64_t SparseAttentionParams::budget(int64_t chunk, int64_t n, int64_t fixed) const {
  int64_t b = fixed > 0 ? std::min(fixed, n) : n;
  if (cag.enabled()) b = std::min(b, cag.keep(chunk, n));
  return std::max<int64_t>(b, 0);
}

namespace {

std::pair<int64_t, int64_t> pair_attr(const AttributeMap& a, const char* name) {
  std::vector<int64_t> v = a.get_ints(name);
  VDRT_CHECK(v.size() == 2, std::string(name) + " must hold two integers, got " + std::to_string(v.size()));
  return {v[0], v[1]};
}

int64_t non_negative(const AttributeMap& a, const char* name, int64_t fallback) {
  int64_t v = a.get_int(name, fallback);
  VDRT_CHECK(v >= 0, std::string(name) + " must be >= 0, got " + std::to_string(v));
  return v;
}

}  // namespace

SparseAttentionParams SparseAttentionParams::from_attributes(SparseMethod method, const AttributeMap& a) {
  SparseAttentionParams p;
  p.method = method;
  p.scale = a.get_float("scale", 0.0f);
  VDRT_CHECK(p.scale > 0.0f && std::isfinite(p.scale), "scale must be a positive float");
  p.num_heads = non_negative(a, "num_heads", 0);
  p.kv_num_heads = non_negative(a, "kv_num_heads", 0);
  p.layer = a.get_int("kv_cache_layer", -1);
  VDRT_CHECK(a.has("frame_grid"), "frame_grid (the token grid of a frame, [height, width]) is required");
  std::tie(p.layout.grid_h, p.layout.grid_w) = pair_attr(a, "frame_grid");
  VDRT_CHECK(a.has("block_tile"), "block_tile (tokens per block as [height, width] of the grid) is required");
  std::tie(p.layout.tile_h, p.layout.tile_w) = pair_attr(a, "block_tile");
  p.layout.check();
  p.sink_frames = non_negative(a, "sink_frames", method == SparseMethod::Hsa ? 1 : 0);

  if (a.has("cag_sparsity")) {
    std::vector<float> s = a.get_floats("cag_sparsity");
    VDRT_CHECK(s.size() == 2, "cag_sparsity must hold [s_min, s_max]");
    p.cag.s_min = s[0];
    p.cag.s_max = s[1];
    VDRT_CHECK(p.cag.s_min >= 0 && p.cag.s_max < 1 && p.cag.s_min <= p.cag.s_max,
               "cag_sparsity must satisfy 0 <= s_min <= s_max < 1, got [" + std::to_string(s[0]) + ", " +
                   std::to_string(s[1]) + "]");
  }
  p.cag.ramp = non_negative(a, "cag_ramp", 0);
  p.cag.curve = CagSchedule::parse_curve(a.get_string("cag_curve", "linear"));

  if (method == SparseMethod::Pbsa) {
    p.window_frames = a.get_int("window_frames", 0);
    VDRT_CHECK(p.window_frames > 0, "window_frames must be a positive number of frames");
    p.top_k = non_negative(a, "top_k", 0);
    p.memory_blocks = non_negative(a, "memory_blocks", 0);
    p.compress = a.get_int("compress", 0) != 0;
    p.saliency_decay = a.get_float("saliency_decay", 1.0f);
    VDRT_CHECK(p.saliency_decay > 0.0f && p.saliency_decay <= 1.0f, "saliency_decay must be in (0, 1]");
    p.memory_rank = parse_memory_rank(a.get_string("memory_rank", "accumulated"));
    VDRT_CHECK(p.sink_frames * p.layout.tiles() <= p.memory_blocks,
               "sink_frames " + std::to_string(p.sink_frames) + " need " +
                   std::to_string(p.sink_frames * p.layout.tiles()) + " blocks but memory_blocks is " +
                   std::to_string(p.memory_blocks));
  } else {
    p.top_frames = non_negative(a, "top_frames", 0);
    p.top_blocks = non_negative(a, "top_blocks", 0);
  }
  return p;
}

void SparseAttentionParams::to_attributes(AttributeMap& a) const {
  a.set("scale", scale);
  if (num_heads > 0) a.set("num_heads", num_heads);
  if (kv_num_heads > 0) a.set("kv_num_heads", kv_num_heads);
  a.set("kv_cache_layer", layer);
  a.set("frame_grid", std::vector<int64_t>{layout.grid_h, layout.grid_w});
  a.set("block_tile", std::vector<int64_t>{layout.tile_h, layout.tile_w});
  a.set("sink_frames", sink_frames);
  if (cag.enabled()) {
    a.set("cag_sparsity", std::vector<float>{static_cast<float>(cag.s_min), static_cast<float>(cag.s_max)});
    a.set("cag_ramp", cag.ramp);
    a.set("cag_curve", std::string(CagSchedule::curve_name(cag.curve)));
  }
  if (method == SparseMethod::Pbsa) {
    a.set("window_frames", window_frames);
    a.set("top_k", top_k);
    a.set("memory_blocks", memory_blocks);
    a.set("compress", int64_t{compress ? 1 : 0});
    a.set("saliency_decay", saliency_decay);
    a.set("memory_rank", std::string(memory_rank_name(memory_rank)));
  } else {
    a.set("top_frames", top_frames);
    a.set("top_blocks", top_blocks);
  }
}

}  // namespace vdrt
