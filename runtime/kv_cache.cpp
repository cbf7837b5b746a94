#include "runtime/kv_cache.h"

#include <algorithm>
#include <cstring>
#include <sstream>

namespace vdrt {

CachePolicy CachePolicy::parse(const std::string& text) {
  CachePolicy p;
  if (text.empty() || text == "unbounded") return p;
  if (text == "pbsa") {
    p.kind = Kind::Pbsa;
    return p;
  }
  auto bad = [&] {
    return Error("bad cache policy '" + text +
                 "': expected 'unbounded', 'window:N', 'window:N,sink:S' (frames) or 'pbsa'");
  };
  if (text.rfind("window:", 0) != 0) throw bad();
  p.kind = Kind::Window;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    auto colon = part.find(':');
    if (colon == std::string::npos) throw bad();
    std::string key = part.substr(0, colon);
    int64_t v;
    try {
      v = std::stoll(part.substr(colon + 1));
    } catch (const std::exception&) {
      throw bad();
    }
    if (key == "window") p.window_frames = v;
    else if (key == "sink") p.sink_frames = v;
    else throw bad();
  }
  VDRT_CHECK(p.window_frames > 0 && p.sink_frames >= 0 && p.sink_frames < p.window_frames,
             "cache policy '" + text + "': need window > sink >= 0");
  return p;
}

std::string CachePolicy::str() const {
  if (kind == Kind::Unbounded) return "unbounded";
  if (kind == Kind::Pbsa) return "pbsa";
  return "window:" + std::to_string(window_frames) + ",sink:" + std::to_string(sink_frames);
}

Tensor concat_tokens(const Tensor& a, const Tensor& b) {
  VDRT_CHECK(a.dtype() == b.dtype() && a.dims().size() == b.dims().size() && a.dims().size() >= 2,
             "cache tensors " + dims_str(a.dims()) + " and " + dims_str(b.dims()) + " cannot be concatenated");
  std::vector<int64_t> dims = a.dims();
  for (size_t i = 0; i < dims.size(); ++i)
    VDRT_CHECK(i == 1 || dims[i] == b.dims()[i],
               "cache tensors " + dims_str(a.dims()) + " and " + dims_str(b.dims()) + " differ beyond the token axis");
  dims[1] += b.dims()[1];
  Tensor out(a.dtype(), dims);
  const size_t row_a = a.nbytes() / std::max<int64_t>(a.dims()[0], 1);
  const size_t row_b = b.nbytes() / std::max<int64_t>(b.dims()[0], 1);
  auto* dst = static_cast<uint8_t*>(out.raw());
  for (int64_t n = 0; n < dims[0]; ++n) {
    std::memcpy(dst, static_cast<const uint8_t*>(a.raw()) + n * row_a, row_a);
    std::memcpy(dst + row_a, static_cast<const uint8_t*>(b.raw()) + n * row_b, row_b);
    dst += row_a + row_b;
  }
  return out;
}

KvCache::KvCache(std::vector<std::vector<int64_t>> key_shapes, std::vector<std::vector<int64_t>> value_shapes,
                 int64_t tokens_per_frame, CachePolicy policy)
    : tokens_per_frame_(tokens_per_frame), policy_(policy) {
  VDRT_CHECK(key_shapes.size() == value_shapes.size(), "cache needs as many key as value layers");
  VDRT_CHECK(tokens_per_frame > 0, "tokens per frame must be positive");
  for (size_t l = 0; l < key_shapes.size(); ++l) {
    key_shapes[l].at(1) = 0;
    value_shapes[l].at(1) = 0;
    keys_.emplace_back(DType::F32, key_shapes[l]);
    values_.emplace_back(DType::F32, value_shapes[l]);
  }
}

int64_t KvCache::frames() const {
  int64_t tokens = 0;
  for (const Tensor& k : keys_) tokens = std::max(tokens, k.dims()[1]);
  return tokens / tokens_per_frame_;
}

size_t KvCache::bytes() const {
  size_t b = 0;
  for (size_t l = 0; l < keys_.size(); ++l) b += keys_[l].nbytes() + values_[l].nbytes();
  return b;
}

Tensor KvCache::evict(const Tensor& t) const {
  const int64_t held = t.dims()[1] / tokens_per_frame_;
  if (policy_.kind != CachePolicy::Kind::Window || held <= policy_.window_frames) return t;
  // Keep the sink frames and the most recent (window - sink) frames.
  const int64_t recent = policy_.window_frames - policy_.sink_frames;
  std::vector<int64_t> dims = t.dims();
  dims[1] = policy_.window_frames * tokens_per_frame_;
  Tensor out(t.dtype(), dims);
  const size_t token_bytes = t.nbytes() / static_cast<size_t>(std::max<int64_t>(t.dims()[0] * t.dims()[1], 1));
  const size_t sink_bytes = policy_.sink_frames * tokens_per_frame_ * token_bytes;
  const size_t recent_bytes = recent * tokens_per_frame_ * token_bytes;
  const size_t in_row = t.dims()[1] * token_bytes, out_row = dims[1] * token_bytes;
  for (int64_t n = 0; n < dims[0]; ++n) {
    const auto* src = static_cast<const uint8_t*>(t.raw()) + n * in_row;
    auto* dst = static_cast<uint8_t*>(out.raw()) + n * out_row;
    std::memcpy(dst, src, sink_bytes);
    std::memcpy(dst + sink_bytes, src + in_row - recent_bytes, recent_bytes);
  }
  return out;
}

void KvCache::append(const std::vector<Tensor>& keys, const std::vector<Tensor>& values) {
  VDRT_CHECK(keys.size() == keys_.size() && values.size() == values_.size(),
             "the model returned " + std::to_string(keys.size()) + " present key layers, the cache has " +
                 std::to_string(keys_.size()));
  // Layers whose cache lives elsewhere (sparse attention, block_kv_cache.h)
  // pass empty tensors; the longest layer says how many tokens arrived.
  int64_t new_tokens = 0;
  for (const Tensor& k : keys) new_tokens = std::max(new_tokens, k.dims().at(1));
  VDRT_CHECK(new_tokens % tokens_per_frame_ == 0, "present keys hold " + std::to_string(new_tokens) +
                                                      " tokens, not a whole number of frames of " +
                                                      std::to_string(tokens_per_frame_) + " tokens");
  for (size_t l = 0; l < keys_.size(); ++l) {
    keys_[l] = concat_tokens(keys_[l], keys[l]);
    values_[l] = concat_tokens(values_[l], values[l]);
  }
  peak_bytes_ = std::max(peak_bytes_, bytes());
  for (size_t l = 0; l < keys_.size(); ++l) {
    keys_[l] = evict(keys_[l]);
    values_[l] = evict(values_[l]);
  }
  frames_seen_ += new_tokens / tokens_per_frame_;
}

}  // namespace vdrt
