// Attention (ONNX opset 23-25), com.microsoft.MultiHeadAttention and the
// flash-style core against a naive float64 softmax(QK^T)V written here.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include <tbb/task_arena.h>

#include "kernels/cpu/attention_core.h"
#include "math_test_util.h"

namespace vdrt::test {
namespace {

// Naive attention on [B, H, S, D] arrays (double). `bias(b, h, i, j)` returns
// the additive term (may be -inf); rows whose every bias is -inf give 0.
struct Ref {
  int64_t B, Hq, Hk, Sq, T, D, Dv;
  std::vector<double> q, k, v;  // [B, Hq, Sq, D], [B, Hk, T, D], [B, Hk, T, Dv]
  double scale, softcap = 0;
  std::function<double(int64_t, int64_t, int64_t, int64_t)> bias = [](int64_t, int64_t, int64_t, int64_t) { return 0.0; };

  double score(int64_t b, int64_t h, int64_t i, int64_t j) const {
    const int64_t kh = h / (Hq / Hk);
    double s = 0;
    for (int64_t d = 0; d < D; ++d) s += q[((b * Hq + h) * Sq + i) * D + d] * k[((b * Hk + kh) * T + j) * D + d];
    s *= scale;
    if (softcap > 0) s = softcap * std::tanh(s / softcap);
    return s;
  }
  std::vector<double> probs(int64_t b, int64_t h, int64_t i) const {
    std::vector<double> p(T);
    double m = -INFINITY;
    bool any = false;
    for (int64_t j = 0; j < T; ++j) {
      const double bj = bias(b, h, i, j);
      any |= !std::isinf(bj) || bj > 0;
      p[j] = score(b, h, i, j) + bj;
      m = std::max(m, p[j]);
    }
    double sum = 0;
    for (auto& x : p) sum += x = std::isinf(x) && x < 0 ? 0.0 : std::exp(x - m);
    for (auto& x : p) x = any ? x / sum : 0.0;
    return p;
  }
  // Output [B, Hq, Sq, Dv].
  std::vector<double> out() const {
    std::vector<double> o(static_cast<size_t>(B * Hq * Sq * Dv), 0.0);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < Hq; ++h)
        for (int64_t i = 0; i < Sq; ++i) {
          auto p = probs(b, h, i);
          const int64_t kh = h / (Hq / Hk);
          for (int64_t j = 0; j < T; ++j)
            for (int64_t c = 0; c < Dv; ++c) o[((b * Hq + h) * Sq + i) * Dv + c] += p[j] * v[((b * Hk + kh) * T + j) * Dv + c];
        }
    return o;
  }
};

// [B, H, S, D] <-> [B, S, H*D]
std::vector<double> to_bshd(const std::vector<double>& x, int64_t B, int64_t H, int64_t S, int64_t D) {
  std::vector<double> y(x.size());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t s = 0; s < S; ++s)
        for (int64_t d = 0; d < D; ++d) y[((b * S + s) * H + h) * D + d] = x[((b * H + h) * S + s) * D + d];
  return y;
}

std::vector<double> concat_seq(const std::vector<double>& a, const std::vector<double>& b, int64_t BH, int64_t Sa,
                               int64_t Sb, int64_t D) {
  std::vector<double> y;
  for (int64_t i = 0; i < BH; ++i) {
    y.insert(y.end(), a.begin() + i * Sa * D, a.begin() + (i + 1) * Sa * D);
    y.insert(y.end(), b.begin() + i * Sb * D, b.begin() + (i + 1) * Sb * D);
  }
  return y;
}

OpCall attention_call(std::initializer_list<std::pair<const char*, Attribute>> attrs, size_t outputs = 1,
                      int64_t opset = 23) {
  OpCall c{"Attention", "", opset, outputs};
  for (const auto& [k, v] : attrs) c.attrs.set(k, v);
  return c;
}

TEST(Attention, FourDBasicCausalGqaSoftcapScale) {
  const int64_t B = 2, Hq = 6, Hk = 3, S = 5, T = 7, D = 8, Dv = 6;
  Tensor q = random_tensor({B, Hq, S, D}, 1), k = random_tensor({B, Hk, T, D}, 2), v = random_tensor({B, Hk, T, Dv}, 3);
  for (int variant = 0; variant < 4; ++variant) {
    Ref r{B, Hq, Hk, S, T, D, Dv, q.as_double(), k.as_double(), v.as_double(), 1 / std::sqrt(8.0)};
    OpCall call = attention_call({});
    if (variant == 1) {
      call.attrs.set("is_causal", int64_t{1});
      r.bias = [](int64_t, int64_t, int64_t i, int64_t j) { return j <= i ? 0.0 : -INFINITY; };
    } else if (variant == 2) {
      call.attrs.set("softcap", 2.0f);
      r.softcap = 2;
    } else if (variant == 3) {
      call.attrs.set("scale", 0.05f);
      r.scale = 0.05;
    }
    Tensor y = run_op1(call, {q, k, v});
    EXPECT_EQ(y.dims(), (std::vector<int64_t>{B, Hq, S, Dv}));
    EXPECT_LT(max_error(y, r.out()), 1e-5) << variant;
  }
}

TEST(Attention, ThreeDLayoutWithPastAndPresent) {
  const int64_t B = 2, Hq = 4, Hk = 2, S = 3, P = 4, D = 5, Dv = 3;
  Tensor q = random_tensor({B, S, Hq * D}, 4), k = random_tensor({B, S, Hk * D}, 5), v = random_tensor({B, S, Hk * Dv}, 6);
  Tensor pk = random_tensor({B, Hk, P, D}, 7), pv = random_tensor({B, Hk, P, Dv}, 8);
  Tensor mask = random_tensor({S, P + S}, 9);
  OpCall call = attention_call({{"q_num_heads", int64_t{Hq}}, {"kv_num_heads", int64_t{Hk}}, {"is_causal", int64_t{1}}}, 3);
  auto outs = run_op(call, {q, k, v, mask, pk, pv});
  // Reference in [B, H, S, D].
  auto bhsd = [](const Tensor& t, int64_t H, int64_t D) {
    const int64_t Bn = t.dims()[0], Sn = t.dims()[1];
    auto x = t.as_double();
    std::vector<double> y(x.size());
    for (int64_t b = 0; b < Bn; ++b)
      for (int64_t s = 0; s < Sn; ++s)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t d = 0; d < D; ++d) y[((b * H + h) * Sn + s) * D + d] = x[((b * Sn + s) * H + h) * D + d];
    return y;
  };
  auto kk = concat_seq(pk.as_double(), bhsd(k, Hk, D), B * Hk, P, S, D);
  auto vv = concat_seq(pv.as_double(), bhsd(v, Hk, Dv), B * Hk, P, S, Dv);
  auto mv = mask.as_double();
  Ref r{B, Hq, Hk, S, P + S, D, Dv, bhsd(q, Hq, D), kk, vv, 1 / std::sqrt(5.0)};
  r.bias = [&](int64_t, int64_t, int64_t i, int64_t j) { return j <= i + P ? mv[i * (P + S) + j] : -INFINITY; };
  EXPECT_EQ(outs[0].dims(), (std::vector<int64_t>{B, S, Hq * Dv}));
  EXPECT_LT(max_error(outs[0], to_bshd(r.out(), B, Hq, S, Dv)), 1e-5);
  EXPECT_EQ(outs[1].dims(), (std::vector<int64_t>{B, Hk, P + S, D}));
  EXPECT_LT(max_error(outs[1], kk), 1e-7);
  EXPECT_LT(max_error(outs[2], vv), 1e-7);
}

TEST(Attention, MasksBoolShortAndBroadcast) {
  const int64_t B = 2, H = 3, S = 4, T = 6, D = 4;
  Tensor q = random_tensor({B, H, S, D}, 10), k = random_tensor({B, H, T, D}, 11), v = random_tensor({B, H, T, D}, 12);
  // Bool mask [H, S, 4] (shorter than T: keys 4, 5 masked), with a fully masked row.
  std::vector<bool> bits;
  for (int64_t i = 0; i < H * S * 4; ++i) bits.push_back((i * 7) % 3 != 0);
  for (int64_t j = 0; j < 4; ++j) bits[1 * 4 + j] = false;  // head 0, query 1: nothing visible
  Tensor mask = Tensor::from_vector<bool>({H, S, 4}, bits);
  Tensor y = run_op1(attention_call({}), {q, k, v, mask});
  Ref r{B, H, H, S, T, D, D, q.as_double(), k.as_double(), v.as_double(), 0.5};
  r.bias = [&](int64_t, int64_t h, int64_t i, int64_t j) {
    return j < 4 && bits[(h * S + i) * 4 + j] ? 0.0 : -INFINITY;
  };
  EXPECT_LT(max_error(y, r.out()), 1e-5);
  // Float 4-D mask broadcast over heads.
  Tensor fm = random_tensor({B, 1, S, T}, 13, -2, 2);
  auto fv = fm.as_double();
  Tensor y2 = run_op1(attention_call({}), {q, k, v, fm});
  r.bias = [&](int64_t b, int64_t, int64_t i, int64_t j) { return fv[(b * S + i) * T + j]; };
  EXPECT_LT(max_error(y2, r.out()), 1e-5);
  EXPECT_THROW(run_op1(attention_call({}), {q, k, v, random_tensor({5, T}, 1)}), Error);
}

TEST(Attention, QkMatmulOutputModes) {
  const int64_t B = 1, H = 2, S = 3, T = 5, D = 4;
  Tensor q = random_tensor({B, H, S, D}, 14), k = random_tensor({B, H, T, D}, 15), v = random_tensor({B, H, T, D}, 16);
  Tensor mask = random_tensor({S, T}, 17);
  auto mv = mask.as_double();
  Ref r{B, H, H, S, T, D, D, q.as_double(), k.as_double(), v.as_double(), 0.5, 1.5};
  r.bias = [&](int64_t, int64_t, int64_t i, int64_t j) { return mv[i * T + j]; };
  for (int64_t mode = 0; mode < 4; ++mode) {
    OpCall call = attention_call({{"qk_matmul_output_mode", mode}, {"softcap", 1.5f}}, 4);
    auto outs = run_op(call, {q, k, v, mask}, {true, false, false, true});
    std::vector<double> ref;
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < S; ++i) {
        auto p = r.probs(0, h, i);
        for (int64_t j = 0; j < T; ++j)
          ref.push_back(mode <= 1 ? r.score(0, h, i, j) : mode == 2 ? r.score(0, h, i, j) + mv[i * T + j] : p[j]);
      }
    EXPECT_LT(max_error(outs[3], ref), 1e-5) << mode;
    EXPECT_LT(max_error(outs[0], r.out()), 1e-5) << mode;
  }
}

TEST(Attention, NonpadLengthsAndWindows) {
  const int64_t B = 2, H = 2, S = 3, T = 8, D = 4;
  Tensor q = random_tensor({B, H, S, D}, 18), k = random_tensor({B, H, T, D}, 19), v = random_tensor({B, H, T, D}, 20);
  Tensor lens = Tensor::from_vector<int64_t>({B}, {5, 8});
  OpCall call = attention_call({{"is_causal", int64_t{1}}}, 1, 24);
  Tensor y = run_op1(call, {q, k, v, Tensor(), Tensor(), Tensor(), lens});
  Ref r{B, H, H, S, T, D, D, q.as_double(), k.as_double(), v.as_double(), 0.5};
  const int64_t len[2] = {5, 8};
  r.bias = [&](int64_t b, int64_t, int64_t i, int64_t j) {
    return j < len[b] && j <= i + len[b] - S ? 0.0 : -INFINITY;
  };
  EXPECT_LT(max_error(y, r.out()), 1e-5);
  OpCall win = attention_call({{"left_window_size", int64_t{1}}, {"right_window_size", int64_t{2}}}, 1, 25);
  Tensor yw = run_op1(win, {q, k, v});
  r.bias = [&](int64_t, int64_t, int64_t i, int64_t j) { return i - 1 <= j && j <= i + 2 ? 0.0 : -INFINITY; };
  EXPECT_LT(max_error(yw, r.out()), 1e-5);
}

TEST(Attention, HalfPrecisionInputs) {
  Tensor q = random_tensor({1, 2, 3, 4}, 21), k = random_tensor({1, 2, 5, 4}, 22), v = random_tensor({1, 2, 5, 4}, 23);
  Tensor y = run_op1(attention_call({}), {q.to(DType::F16), k.to(DType::F16), v.to(DType::F16)});
  EXPECT_EQ(y.dtype(), DType::F16);
  Ref r{1, 2, 2, 3, 5, 4, 4, q.to(DType::F16).as_double(), k.to(DType::F16).as_double(), v.to(DType::F16).as_double(), 0.5};
  EXPECT_LT(max_error(y, r.out()), 2e-3);
}

TEST(Attention, ShapeErrors) {
  Tensor q = random_tensor({1, 2, 3, 4}, 1), k = random_tensor({1, 2, 5, 4}, 2), v = random_tensor({1, 2, 5, 4}, 3);
  EXPECT_THROW(run_op1(attention_call({}), {q, random_tensor({1, 2, 5, 3}, 4), v}), Error);
  EXPECT_THROW(run_op1(attention_call({}), {q, random_tensor({1, 3, 5, 4}, 4), random_tensor({1, 3, 5, 4}, 5)}), Error);
  EXPECT_THROW(run_op1(attention_call({}), {random_tensor({1, 3, 8}, 1), random_tensor({1, 5, 8}, 2), random_tensor({1, 5, 8}, 3)}), Error);
}

// The core directly on [B, S, Hq, D] queries and keys in two segments (a
// [B, Hk, P, D] cache and [B, L, Hk, D] new keys) against Ref; the knobs reach
// every path: query blocks of whole and partial strips (the tiled path) or a
// few queries (the matrix-vector path), ragged key blocks, head dims the
// micro-kernel pads, causal with an offset, a bias, softcap, a finite mask
// fill, batches whose keys are all hidden.
namespace {

struct CoreCase {
  int64_t B = 1, Hq = 4, Hk = 2, S = 150, P = 300, L = 150, D = 32, Dv = 24;
  float scale = 0.2f, softcap = 0.0f;
  bool causal = false, bias = false;
  float mask_fill = -INFINITY;
  std::vector<int64_t> valid;  // kv_valid_len per batch, or empty
  int threads = 0;             // 0: the default arena
};

std::vector<float> run_core(const CoreCase& c, std::vector<double>* reference = nullptr) {
  const int64_t B = c.B, Hq = c.Hq, Hk = c.Hk, S = c.S, P = c.P, L = c.L, D = c.D, Dv = c.Dv, T = P + L;
  auto q = random_floats(B * S * Hq * D, 24), past_k = random_floats(B * Hk * P * D, 25);
  auto past_v = random_floats(B * Hk * P * Dv, 26), new_k = random_floats(B * L * Hk * D, 27);
  auto new_v = random_floats(B * L * Hk * Dv, 28), bias = random_floats(S * T, 29, -2.0f, 2.0f);
  std::vector<float> out(B * S * Hq * Dv, NAN);
  cpu::AttentionParams p;
  p.batch = B, p.q_heads = Hq, p.kv_heads = Hk, p.q_len = S, p.head_dim = D, p.v_head_dim = Dv;
  p.q = {q.data(), S * Hq * D, D, Hq * D};
  cpu::AttentionKV seg_past{{past_k.data(), Hk * P * D, P * D, D}, {past_v.data(), Hk * P * Dv, P * Dv, Dv}, P};
  cpu::AttentionKV seg_new{{new_k.data(), L * Hk * D, D, Hk * D}, {new_v.data(), L * Hk * Dv, Dv, Hk * Dv}, L};
  p.kv = {seg_past, seg_new};
  p.out = out.data(), p.out_batch_stride = S * Hq * Dv, p.out_head_stride = Dv, p.out_seq_stride = Hq * Dv;
  p.scale = c.scale, p.softcap = c.softcap;
  p.causal = c.causal, p.causal_offset = P;
  p.mask_fill = c.mask_fill;
  if (!c.valid.empty()) p.kv_valid_len = c.valid.data();
  if (c.bias) p.bias[1] = cpu::make_attention_bias(bias.data(), {S, T});
  if (c.threads > 0) tbb::task_arena(c.threads).execute([&] { cpu::attention_f32(p); });
  else cpu::attention_f32(p);
  if (!reference) return out;

  Ref r{B, Hq, Hk, S, T, D, Dv, {}, {}, {}, c.scale, c.softcap};
  r.q.resize(B * Hq * S * D), r.k.resize(B * Hk * T * D), r.v.resize(B * Hk * T * Dv);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < Hq; ++h)
      for (int64_t s = 0; s < S; ++s)
        for (int64_t d = 0; d < D; ++d) r.q[((b * Hq + h) * S + s) * D + d] = q[((b * S + s) * Hq + h) * D + d];
    for (int64_t h = 0; h < Hk; ++h)
      for (int64_t t = 0; t < T; ++t) {
        const int64_t kv = (b * Hk + h) * T + t;
        for (int64_t d = 0; d < D; ++d)
          r.k[kv * D + d] = t < P ? past_k[((b * Hk + h) * P + t) * D + d] : new_k[((b * L + t - P) * Hk + h) * D + d];
        for (int64_t d = 0; d < Dv; ++d)
          r.v[kv * Dv + d] =
              t < P ? past_v[((b * Hk + h) * P + t) * Dv + d] : new_v[((b * L + t - P) * Hk + h) * Dv + d];
      }
  }
  r.bias = [&](int64_t b, int64_t, int64_t i, int64_t j) {
    const bool hidden = (c.causal && j > i + P) || (!c.valid.empty() && j >= c.valid[b]);
    const double add = c.bias ? double(bias[i * T + j]) : 0.0;
    return hidden ? (std::isinf(c.mask_fill) ? -INFINITY : add + c.mask_fill) : add;
  };
  *reference = to_bshd(r.out(), B, Hq, S, Dv);
  return out;
}

double core_error(const CoreCase& c) {
  std::vector<double> ref;
  const std::vector<float> out = run_core(c, &ref);
  double err = 0;
  for (size_t i = 0; i < out.size(); ++i) err = std::max(err, std::fabs(out[i] - ref[i]));  // NaN fails below
  for (float x : out)
    if (!std::isfinite(x)) return INFINITY;
  return err;
}

}  // namespace

// Sizes spanning several query and key blocks, causal with an offset, a bias.
TEST(AttentionCore, ManyBlocksAndSegments) {
  CoreCase c;
  c.causal = true, c.bias = true;
  EXPECT_LT(core_error(c), 2e-5);
}

// The tiled path without any adjustment (no mask, bias or softcap: the
// softmax runs on whole columns only) at Wan's head dim, with query strips
// and key blocks left partial, and dims the micro-kernel pads (40 and 20 are
// neither multiples of 8 nor of 14 or 6).
TEST(AttentionCore, TiledUnmaskedPartialStripsAndBlocks) {
  CoreCase wan;
  wan.Hq = 3, wan.Hk = 3, wan.S = 209, wan.P = 513, wan.L = 209, wan.D = 128, wan.Dv = 128;
  wan.scale = 1.0f / std::sqrt(128.0f);
  EXPECT_LT(core_error(wan), 2e-5);
  CoreCase odd;
  odd.B = 2, odd.S = 61, odd.P = 37, odd.L = 61, odd.D = 40, odd.Dv = 20;
  EXPECT_LT(core_error(odd), 2e-5);
}

// Each adjustment on the tiled path, one query column at a time: softcap, a
// finite mask fill (keys penalised, not hidden), a batch whose keys are all
// hidden (zeros) next to one that sees some.
TEST(AttentionCore, TiledSoftcapFiniteFillAndHiddenRows) {
  CoreCase softcap;
  softcap.softcap = 2.0f, softcap.scale = 1.0f;
  EXPECT_LT(core_error(softcap), 2e-5);
  CoreCase fill;
  fill.causal = true, fill.mask_fill = -5.0f;
  EXPECT_LT(core_error(fill), 2e-5);
  CoreCase hidden;
  hidden.B = 2, hidden.valid = {0, 333};
  EXPECT_LT(core_error(hidden), 2e-5);
  std::vector<double> ref;
  const auto out = run_core(hidden, &ref);
  for (size_t i = 0; i < out.size() / 2; ++i) ASSERT_EQ(out[i], 0.0f) << i;  // batch 0 sees nothing
}

// A few queries go through the matrix-vector path, more through the tiled
// one; both agree with the reference, and the result does not depend on the
// thread count (every task is computed whole by one thread).
TEST(AttentionCore, FewQueriesAndThreadCounts) {
  for (int64_t s : {1, 3, 23, 24, 100}) {
    CoreCase c;
    c.S = c.L = s, c.causal = true;
    EXPECT_LT(core_error(c), 2e-5) << s << " queries";
  }
  CoreCase c;
  c.S = c.L = 200, c.Hq = c.Hk = 3;
  c.threads = 1;
  const auto one = run_core(c);
  c.threads = 3;
  EXPECT_EQ(run_core(c), one);
}

TEST(MultiHeadAttention, SeparateQkvWithBiasPastAndMasks) {
  const int64_t B = 2, N = 2, S = 3, L = 4, P = 2, H = 4;
  const int64_t D = N * H, T = P + L;
  Tensor q = random_tensor({B, S, D}, 30), k = random_tensor({B, L, D}, 31), v = random_tensor({B, L, D}, 32);
  Tensor bias = random_tensor({3 * D}, 33), pk = random_tensor({B, N, P, H}, 34), pv = random_tensor({B, N, P, H}, 35);
  Tensor ab = random_tensor({1, N, S, T}, 36);
  Tensor pad = Tensor::from_vector<int32_t>({B, T}, {1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1});
  OpCall call{"MultiHeadAttention", "com.microsoft", 1, 3};
  call.attrs.set("num_heads", N);
  call.attrs.set("unidirectional", int64_t{1});
  auto outs = run_op(call, {q, k, v, bias, pad, ab, pk, pv});
  auto bv = bias.as_double();
  auto add_bias_bhsd = [&](const Tensor& t, int64_t off, int64_t Sn) {
    auto x = t.as_double();
    std::vector<double> y(x.size());
    for (int64_t b = 0; b < B; ++b)
      for (int64_t s = 0; s < Sn; ++s)
        for (int64_t h = 0; h < N; ++h)
          for (int64_t d = 0; d < H; ++d)
            y[((b * N + h) * Sn + s) * H + d] = x[(b * Sn + s) * D + h * H + d] + bv[off + h * H + d];
    return y;
  };
  auto kk = concat_seq(pk.as_double(), add_bias_bhsd(k, D, L), B * N, P, L, H);
  auto vv = concat_seq(pv.as_double(), add_bias_bhsd(v, 2 * D, L), B * N, P, L, H);
  auto abv = ab.as_double();
  auto padv = pad.as_int64();
  Ref r{B, N, N, S, T, H, H, add_bias_bhsd(q, 0, S), kk, vv, 0.5};
  r.bias = [&](int64_t b, int64_t h, int64_t i, int64_t j) {
    double x = abv[(h * S + i) * T + j];
    if (!padv[b * T + j]) x += -10000.0;
    if (j > i + P) x += -10000.0;
    return x;
  };
  EXPECT_LT(max_error(outs[0], to_bshd(r.out(), B, N, S, H)), 1e-5);
  EXPECT_LT(max_error(outs[1], kk), 1e-6);
  EXPECT_LT(max_error(outs[2], vv), 1e-6);
}

TEST(MultiHeadAttention, PackedQkvAndLengthMask) {
  const int64_t B = 2, S = 5, N = 3, H = 4;
  Tensor qkv = random_tensor({B, S, N, 3, H}, 37);
  OpCall call{"MultiHeadAttention", "com.microsoft", 1, 1};
  call.attrs.set("num_heads", N);
  Tensor y = run_op1(call, {qkv, Tensor(), Tensor(), Tensor(), Tensor::from_vector<int32_t>({B}, {3, 5})});
  auto x = qkv.as_double();
  Ref r{B, N, N, S, S, H, H, {}, {}, {}, 0.5};
  for (auto* dst : {&r.q, &r.k, &r.v}) dst->resize(B * N * S * H);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t s = 0; s < S; ++s)
      for (int64_t h = 0; h < N; ++h)
        for (int64_t d = 0; d < H; ++d) {
          const int64_t src = (((b * S + s) * N + h) * 3) * H + d, dst = ((b * N + h) * S + s) * H + d;
          r.q[dst] = x[src], r.k[dst] = x[src + H], r.v[dst] = x[src + 2 * H];
        }
  const int64_t len[2] = {3, 5};
  r.bias = [&](int64_t b, int64_t, int64_t, int64_t j) { return j < len[b] ? 0.0 : -10000.0; };
  EXPECT_EQ(y.dims(), (std::vector<int64_t>{B, S, N * H}));
  EXPECT_LT(max_error(y, to_bshd(r.out(), B, N, S, H)), 1e-5);
}

}  // namespace
}  // namespace vdrt::test
