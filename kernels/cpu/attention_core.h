#pragma once
// Scaled dot-product attention for the CPU kernels (ONNX Attention,
// com.microsoft.MultiHeadAttention, vdrt.Attention):
//   out = softmax(softcap(scale * Q K^T) + bias + masks) V
// computed flash-style: per (batch, head, block of queries) the keys are
// visited in blocks with an online softmax, so the score matrix is never
// materialised and memory stays O(block) whatever the sequence lengths.
// Every tensor is a strided view (element d of row s of head h of batch b at
// data[b*batch_stride + h*head_stride + s*seq_stride + d]), so [B, S, H, D],
// [B, H, S, D] and packed QKV layouts are read in place, and the keys may
// come in several consecutive segments (a KV cache followed by the new
// tokens) without concatenation.
#include <cstdint>
#include <limits>
#include <vector>

namespace vdrt::cpu {

struct AttentionTensor {
  const float* data = nullptr;
  int64_t batch_stride = 0, head_stride = 0, seq_stride = 0;
};

// An additive bias over [batch, head, query, key], broadcast through zero
// strides. Keys at or past `key_len` count as masked (-inf): ONNX pads an
// attention mask shorter than the keys that way.
struct AttentionBias {
  const float* data = nullptr;
  int64_t batch_stride = 0, head_stride = 0, query_stride = 0, key_stride = 0;
  int64_t key_len = std::numeric_limits<int64_t>::max();
};

// A bias of shape `dims` (rank <= 4) right-aligned against [batch, head,
// query, key]: size-1 and missing dims broadcast, key_len is its last dim.
AttentionBias make_attention_bias(const float* data, const std::vector<int64_t>& dims);

struct AttentionKV {
  AttentionTensor k, v;
  int64_t len = 0;
};

struct AttentionParams {
  int64_t batch = 1, q_heads = 1, kv_heads = 1, q_len = 0, head_dim = 0, v_head_dim = 0;
  AttentionTensor q;
  std::vector<AttentionKV> kv;  // key segments in order; the key index runs across them
  float* out = nullptr;
  int64_t out_batch_stride = 0, out_head_stride = 0, out_seq_stride = 0;

  float scale = 1.0f;
  float softcap = 0.0f;  // > 0: scores become softcap * tanh(scores / softcap) before bias and masks
  AttentionBias bias[2];

  // Structural masks. Query i sees key j iff j <= i + offset (causal), and
  // i + offset - window_left <= j <= i + offset + window_right for the
  // non-negative window bounds, and j < kv_valid_len[b] when given. offset
  // is batch_offset[b] when given, else causal_offset.
  bool causal = false;
  int64_t causal_offset = 0;
  const int64_t* batch_offset = nullptr;
  const int64_t* kv_valid_len = nullptr;
  int64_t window_left = -1, window_right = -1;
  // What a key hidden by those masks adds to its score: -inf removes it;
  // a finite value (com.microsoft's mask_filter_value) only penalises it.
  float mask_fill = -std::numeric_limits<float>::infinity();

  int64_t kv_len() const;
};

// Query rows that see no key at all (every score -inf) produce zeros.
void attention_f32(const AttentionParams& p);

// The score matrix [q_len, kv_len] of one (batch, head) at a given stage,
// for ops that expose it (ONNX Attention's qk_matmul_output).
enum class AttentionScoreStage {
  Scaled,   // scale * Q K^T, softcapped when softcap > 0
  Biased,   // + bias and masks
  Softmax,  // probabilities; fully masked rows are 0
};
void attention_scores_f32(const AttentionParams& p, int64_t b, int64_t h, AttentionScoreStage stage, float* out);

}  // namespace vdrt::cpu
