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
  if (token_blocks()) return;
  VDRT_CHECK(tile_h > 0 && tile_w > 0, "block_tile must be two positive sizes, got [" + std::to_string(tile_h) + ", " +
                                           std::to_string(tile_w) + "]");
}

BlockLayout::TileOrder BlockLayout::tile_order() const {
  TileOrder o;
  o.token.reserve(static_cast<size_t>(tokens_per_frame()));
  o.offset.push_back(0);
  if (token_blocks()) {  // 1-D runs in token order, the last one of a frame short
    for (int64_t t = 0; t < tokens_per_frame(); ++t) o.token.push_back(static_cast<int32_t>(t));
    for (int64_t b = 1; b <= tiles(); ++b)
      o.offset.push_back(static_cast<int32_t>(std::min(b * block_tokens, tokens_per_frame())));
    return o;
  }
  for (int64_t ty = 0; ty < tiles_y(); ++ty)
    for (int64_t tx = 0; tx < tiles_x(); ++tx) {
      for (int64_t y = ty * tile_h; y < std::min(grid_h, (ty + 1) * tile_h); ++y)
        for (int64_t x = tx * tile_w; x < std::min(grid_w, (tx + 1) * tile_w); ++x)
          o.token.push_back(static_cast<int32_t>(y * grid_w + x));
      o.offset.push_back(static_cast<int32_t>(o.token.size()));
    }
  return o;
}

double CagSchedule::lightforcing_beta() const {
  const int64_t chunks = std::max<int64_t>(total_frames / std::max<int64_t>(chunk_frames, 1), 2);
  double kv_sum = 0, weighted = 0;
  for (int64_t i = 1; i < chunks; ++i) {
    const double frames = static_cast<double>((i + 1) * chunk_frames);
    const double kv = window > 0 ? std::min(frames, static_cast<double>(window)) : frames;
    kv_sum += kv;
    weighted += kv / std::sqrt(frames);
  }
  return (base - target) * kv_sum / weighted;
}

double CagSchedule::sparsity(int64_t chunk) const {
  if (curve == Curve::LightForcing) {
    if (chunk <= 0) return 0.0;
    const double frames = static_cast<double>((chunk + 1) * chunk_frames);
    return std::max(0.0, base - lightforcing_beta() / std::sqrt(frames));
  }
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

int64_t CagSchedule::keep_floor(int64_t chunk, int64_t n) const {
  if (n <= 0) return 0;
  const double kept = std::floor((1.0 - sparsity(chunk)) * static_cast<double>(n));
  return std::clamp<int64_t>(static_cast<int64_t>(kept), 1, n);
}

CagSchedule::Curve CagSchedule::parse_curve(const std::string& name) {
  if (name == "linear") return Curve::Linear;
  if (name == "cosine") return Curve::Cosine;
  if (name == "lightforcing") return Curve::LightForcing;
  throw Error("cag_curve must be 'linear', 'cosine' or 'lightforcing', got '" + name + "'");
}

SparseAttentionParams::MemoryRank SparseAttentionParams::parse_memory_rank(const std::string& name) {
  if (name == "accumulated") return MemoryRank::Accumulated;
  if (name == "pooled_refresh") return MemoryRank::PooledRefresh;
  throw Error("memory_rank must be 'accumulated' or 'pooled_refresh', got '" + name + "'");
}

const char* SparseAttentionParams::memory_rank_name(MemoryRank r) {
  return r == MemoryRank::Accumulated ? "accumulated" : "pooled_refresh";
}

const char* CagSchedule::curve_name(Curve c) {
  return c == Curve::Linear ? "linear" : c == Curve::Cosine ? "cosine" : "lightforcing";
}

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
  const std::string block_layout = a.get_string("block_layout", "tiles");
  VDRT_CHECK(block_layout == "tiles" || block_layout == "tokens",
             "block_layout must be 'tiles' or 'tokens', got '" + block_layout + "'");
  if (block_layout == "tokens") {
    p.layout.block_tokens = a.get_int("block_size", 0);
    VDRT_CHECK(p.layout.block_tokens > 0, "block_layout 'tokens' needs a positive block_size");
  } else {
    VDRT_CHECK(a.has("block_tile"), "block_tile (tokens per block as [height, width] of the grid) is required");
    std::tie(p.layout.tile_h, p.layout.tile_w) = pair_attr(a, "block_tile");
  }
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
  if (p.cag.curve == CagSchedule::Curve::LightForcing) {
    p.cag.target = a.get_float("cag_target", 0.0f);
    p.cag.base = a.get_float("cag_base", 0.0f);
    VDRT_CHECK(p.cag.target >= 0 && p.cag.target <= p.cag.base && p.cag.base < 1,
               "cag_curve 'lightforcing' needs 0 <= cag_target <= cag_base < 1, got " + std::to_string(p.cag.target) +
                   " / " + std::to_string(p.cag.base));
    p.cag.chunk_frames = a.get_int("cag_chunk_frames", 3);
    p.cag.total_frames = a.get_int("cag_total_frames", 21);
    p.cag.window = non_negative(a, "cag_window", 0);
    VDRT_CHECK(p.cag.chunk_frames > 0 && p.cag.total_frames >= 2 * p.cag.chunk_frames,
               "cag_chunk_frames must be positive and cag_total_frames at least two chunks");
  }

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
    p.keep_frames = non_negative(a, "keep_frames", 0);
    p.keep_near = non_negative(a, "keep_near", 0);
    VDRT_CHECK(p.keep_frames == 0 || p.sink_frames + p.keep_near <= p.keep_frames,
               "keep_frames " + std::to_string(p.keep_frames) + " must hold sink_frames + keep_near (" +
                   std::to_string(p.sink_frames) + " + " + std::to_string(p.keep_near) + ")");
    const std::string cc = a.get_string("current_chunk", "dense");
    VDRT_CHECK(cc == "dense" || cc == "compete", "current_chunk must be 'dense' or 'compete', got '" + cc + "'");
    p.current_chunk = cc == "dense" ? CurrentChunk::Dense : CurrentChunk::Compete;
  }
  return p;
}

void SparseAttentionParams::to_attributes(AttributeMap& a) const {
  a.set("scale", scale);
  if (num_heads > 0) a.set("num_heads", num_heads);
  if (kv_num_heads > 0) a.set("kv_num_heads", kv_num_heads);
  a.set("kv_cache_layer", layer);
  a.set("frame_grid", std::vector<int64_t>{layout.grid_h, layout.grid_w});
  if (layout.token_blocks()) {
    a.set("block_layout", std::string("tokens"));
    a.set("block_size", layout.block_tokens);
  } else {
    a.set("block_tile", std::vector<int64_t>{layout.tile_h, layout.tile_w});
  }
  a.set("sink_frames", sink_frames);
  if (cag.enabled()) {
    a.set("cag_sparsity", std::vector<float>{static_cast<float>(cag.s_min), static_cast<float>(cag.s_max)});
    a.set("cag_ramp", cag.ramp);
    a.set("cag_curve", std::string(CagSchedule::curve_name(cag.curve)));
    if (cag.curve == CagSchedule::Curve::LightForcing) {
      a.set("cag_target", static_cast<float>(cag.target));
      a.set("cag_base", static_cast<float>(cag.base));
      a.set("cag_chunk_frames", cag.chunk_frames);
      a.set("cag_total_frames", cag.total_frames);
      a.set("cag_window", cag.window);
    }
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
    a.set("keep_frames", keep_frames);
    a.set("keep_near", keep_near);
    a.set("current_chunk", std::string(current_chunk == CurrentChunk::Dense ? "dense" : "compete"));
  }
}

}  // namespace vdrt
