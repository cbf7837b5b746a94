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
                 int64_t tokens_per_frame, CachePolicy policy, DType dtype)
    : tokens_per_frame_(tokens_per_frame), policy_(policy) {
  VDRT_CHECK(key_shapes.size() == value_shapes.size(), "cache needs as many key as value layers");
  VDRT_CHECK(tokens_per_frame > 0, "tokens per frame must be positive");
  for (size_t l = 0; l < key_shapes.size(); ++l) {
    key_shapes[l].at(1) = 0;
    value_shapes[l].at(1) = 0;
    keys_.emplace_back(dtype, key_shapes[l]);
    values_.emplace_back(dtype, value_shapes[l]);
  }
}

int64_t KvCache::frames() const {
  int64_t tokens = 0;
  for (const Tensor& k : keys_) tokens = std::max(tokens, k.dims()[1]);
  for (const DeviceArray& k : device_keys_) tokens = std::max(tokens, k.desc.dims[1]);
  return tokens / tokens_per_frame_;
}

size_t KvCache::bytes() const {
  size_t b = 0;
  if (device_) {
    for (size_t l = 0; l < device_keys_.size(); ++l) b += device_keys_[l].desc.nbytes() + device_values_[l].desc.nbytes();
    return b;
  }
  for (size_t l = 0; l < keys_.size(); ++l) b += keys_[l].nbytes() + values_[l].nbytes();
  return b;
}

void KvCache::use_device(Session& session) {
  VDRT_CHECK(frames_seen_ == 0, "the KV cache moves to the device before the first chunk");
  device_ = &session;
  device_keys_.clear();
  device_values_.clear();
  for (size_t l = 0; l < keys_.size(); ++l) {
    device_keys_.push_back(session.to_device(keys_[l]));
    device_values_.push_back(session.to_device(values_[l]));
  }
}

// Row n of a [B, T, ...] tensor is T * token_bytes long.
DeviceArray KvCache::concat_device(const DeviceArray& a, const DeviceArray& b) const {
  VDRT_CHECK(a.desc.dims.size() == b.desc.dims.size() && a.desc.dims[0] == b.desc.dims[0] &&
                 std::equal(a.desc.dims.begin() + 2, a.desc.dims.end(), b.desc.dims.begin() + 2),
             "cache tensors " + dims_str(a.desc.dims) + " and " + dims_str(b.desc.dims) + " differ beyond the token axis");
  Backend& be = device_->backend();
  std::vector<int64_t> dims = a.desc.dims;
  dims[1] += b.desc.dims[1];
  DeviceArray out{std::shared_ptr<Buffer>(be.allocate(std::max<size_t>(TensorDesc{a.desc.dtype, dims}.nbytes(), 1))),
                  TensorDesc{a.desc.dtype, dims}};
  const int64_t batch = std::max<int64_t>(dims[0], 1);
  const size_t row_a = a.desc.nbytes() / batch, row_b = b.desc.nbytes() / batch;
  for (int64_t n = 0; n < dims[0]; ++n) {
    if (row_a) be.copy(*a.buffer, n * row_a, *out.buffer, n * (row_a + row_b), row_a);
    if (row_b) be.copy(*b.buffer, n * row_b, *out.buffer, n * (row_a + row_b) + row_a, row_b);
  }
  return out;
}

DeviceArray KvCache::evict_device(const DeviceArray& t) const {
  const int64_t held = t.desc.dims[1] / tokens_per_frame_;
  if (policy_.kind != CachePolicy::Kind::Window || held <= policy_.window_frames) return t;
  Backend& be = device_->backend();
  const int64_t recent = policy_.window_frames - policy_.sink_frames;
  std::vector<int64_t> dims = t.desc.dims;
  dims[1] = policy_.window_frames * tokens_per_frame_;
  DeviceArray out{std::shared_ptr<Buffer>(be.allocate(std::max<size_t>(TensorDesc{t.desc.dtype, dims}.nbytes(), 1))),
                  TensorDesc{t.desc.dtype, dims}};
  const size_t token_bytes = t.desc.nbytes() / static_cast<size_t>(std::max<int64_t>(t.desc.dims[0] * t.desc.dims[1], 1));
  const size_t sink_bytes = policy_.sink_frames * tokens_per_frame_ * token_bytes;
  const size_t recent_bytes = recent * tokens_per_frame_ * token_bytes;
  const size_t in_row = t.desc.dims[1] * token_bytes, out_row = dims[1] * token_bytes;
  for (int64_t n = 0; n < dims[0]; ++n) {
    if (sink_bytes) be.copy(*t.buffer, n * in_row, *out.buffer, n * out_row, sink_bytes);
    if (recent_bytes) be.copy(*t.buffer, n * in_row + in_row - recent_bytes, *out.buffer, n * out_row + sink_bytes, recent_bytes);
  }
  return out;
}

int64_t KvCache::new_tokens(const std::vector<std::vector<int64_t>>& dims) const {
  // Layers whose cache lives elsewhere (sparse attention, block_kv_cache.h)
  // pass empty tensors; the longest layer says how many tokens arrived.
  int64_t n = 0;
  for (const auto& d : dims) n = std::max(n, d.at(1));
  VDRT_CHECK(n % tokens_per_frame_ == 0, "present keys hold " + std::to_string(n) +
                                             " tokens, not a whole number of frames of " +
                                             std::to_string(tokens_per_frame_) + " tokens");
  return n;
}

void KvCache::append(const std::vector<DeviceArray>& keys, const std::vector<DeviceArray>& values) {
  VDRT_CHECK(device_, "append of device arrays to a host KV cache");
  VDRT_CHECK(keys.size() == device_keys_.size() && values.size() == device_values_.size(),
             "the model returned " + std::to_string(keys.size()) + " present key layers, the cache has " +
                 std::to_string(device_keys_.size()));
  std::vector<std::vector<int64_t>> dims;
  for (const DeviceArray& k : keys) dims.push_back(k.desc.dims);
  const int64_t added = new_tokens(dims);
  for (size_t l = 0; l < keys.size(); ++l) {
    device_keys_[l] = concat_device(device_keys_[l], keys[l]);
    device_values_[l] = concat_device(device_values_[l], values[l]);
  }
  peak_bytes_ = std::max(peak_bytes_, bytes());
  for (size_t l = 0; l < keys.size(); ++l) {
    device_keys_[l] = evict_device(device_keys_[l]);
    device_values_[l] = evict_device(device_values_[l]);
  }
  frames_seen_ += added / tokens_per_frame_;
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
  VDRT_CHECK(!device_, "append of host tensors to a KV cache on the device");
  VDRT_CHECK(keys.size() == keys_.size() && values.size() == values_.size(),
             "the model returned " + std::to_string(keys.size()) + " present key layers, the cache has " +
                 std::to_string(keys_.size()));
  std::vector<std::vector<int64_t>> dims;
  for (const Tensor& k : keys) dims.push_back(k.dims());
  const int64_t added = new_tokens(dims);
  for (size_t l = 0; l < keys_.size(); ++l) {
    keys_[l] = concat_tokens(keys_[l], keys[l]);
    values_[l] = concat_tokens(values_[l], values[l]);
  }
  peak_bytes_ = std::max(peak_bytes_, bytes());
  for (size_t l = 0; l < keys_.size(); ++l) {
    keys_[l] = evict(keys_[l]);
    values_[l] = evict(values_[l]);
  }
  frames_seen_ += added / tokens_per_frame_;
}

}  // namespace vdrt
