// RotaryEmbedding (ONNX opset 23) and vdrt.RotaryEmbedding against a float64
// reference written from the ONNX definition: 3-D and 4-D X, interleaved and
// rotate-half pairs, caches per (batch, token) or indexed by position_ids,
// partial rotation (rotary_embedding_dim < head size), and the errors.
#include "data_movement_test_util.h"

namespace vdrt::test {
namespace {

struct Rope {
  std::vector<int64_t> x;  // [B, N, S, H] or [B, S, N*H]
  int64_t heads = 0;       // for 3-D X
  bool interleaved = false;
  int64_t rot = 0;         // 0: the head size
  bool positions = false;
  int64_t cache_rows = 0;  // with positions
};

// Y from the definition, in float64: view X as [B, S, N, H], rotate the first R channels.
std::vector<double> reference(const Rope& r, const Tensor& x, const Tensor& cos, const Tensor& sin, const Tensor* pos) {
  const bool four = r.x.size() == 4;
  const int64_t b_n = r.x[0], n_heads = four ? r.x[1] : r.heads, seq = four ? r.x[2] : r.x[1];
  const int64_t head = four ? r.x[3] : r.x[2] / r.heads, rot = r.rot ? r.rot : head, half = rot / 2;
  auto xv = x.as_double(), cv = cos.as_double(), sv = sin.as_double();
  std::vector<double> y = xv;
  std::vector<double> p = pos ? pos->as_double() : std::vector<double>{};
  for (int64_t b = 0; b < b_n; ++b)
    for (int64_t s = 0; s < seq; ++s)
      for (int64_t n = 0; n < n_heads; ++n) {
        const int64_t base = four ? ((b * n_heads + n) * seq + s) * head : ((b * seq + s) * n_heads + n) * head;
        const int64_t row = pos ? static_cast<int64_t>(p[b * seq + s]) : b * seq + s;
        for (int64_t i = 0; i < half; ++i) {
          const int64_t j1 = r.interleaved ? 2 * i : i, j2 = r.interleaved ? 2 * i + 1 : i + half;
          const double c = cv[row * half + i], sn = sv[row * half + i];
          y[base + j1] = c * xv[base + j1] - sn * xv[base + j2];
          y[base + j2] = sn * xv[base + j1] + c * xv[base + j2];
        }
      }
  return y;
}

void check(const Rope& r, const std::string& domain = "", uint32_t seed = 1) {
  SCOPED_TRACE("x " + dims_str(r.x) + " interleaved " + std::to_string(r.interleaved) + " rot " +
               std::to_string(r.rot) + (r.positions ? " positions" : ""));
  const bool four = r.x.size() == 4;
  const int64_t b = r.x[0], seq = four ? r.x[2] : r.x[1];
  const int64_t head = four ? r.x[3] : r.x[2] / r.heads, half = (r.rot ? r.rot : head) / 2;
  Tensor x = random_tensor(r.x, seed, -2.0f, 2.0f);
  std::vector<int64_t> cache_dims = r.positions ? std::vector<int64_t>{r.cache_rows, half} : std::vector<int64_t>{b, seq, half};
  Tensor cos = random_tensor(cache_dims, seed + 1), sin = random_tensor(cache_dims, seed + 2);
  std::vector<Tensor> ins{x, cos, sin};
  Tensor pos;
  if (r.positions) {
    std::vector<int64_t> ids(static_cast<size_t>(b * seq));
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>((i * 7 + 3) % static_cast<size_t>(r.cache_rows));
    pos = Tensor::from_vector<int64_t>({b, seq}, ids);
    ins.push_back(pos);
  }
  AttributeMap a = attrs({{"interleaved", Attribute(int64_t{r.interleaved})}});
  if (r.heads) a.set("num_heads", r.heads);
  if (r.rot) a.set("rotary_embedding_dim", r.rot);
  Tensor y = run_op1({"RotaryEmbedding", domain, 23, 1, a}, ins);
  ASSERT_EQ(y.dims(), r.x);
  EXPECT_LE(max_error(y, reference(r, x, cos, sin, r.positions ? &pos : nullptr)), 1e-6);
}

TEST(RotaryEmbedding, Interleaved3DLikeWan) { check({{1, 48, 64}, 4, true}); }
TEST(RotaryEmbedding, Interleaved4D) { check({{2, 3, 5, 16}, 0, true}); }
TEST(RotaryEmbedding, RotateHalf4D) { check({{2, 3, 5, 16}, 0, false}); }
TEST(RotaryEmbedding, RotateHalf3DBatches) { check({{3, 7, 2 * 24}, 2, false}); }
TEST(RotaryEmbedding, PartialRotation) {
  check({{2, 2, 4, 20}, 0, true, 8});
  check({{2, 4, 3 * 10}, 3, false, 6});
}
TEST(RotaryEmbedding, PositionIds) {
  check({{2, 3, 5, 16}, 0, true, 0, true, 11});
  check({{2, 6, 4 * 8}, 4, false, 0, true, 9});
}
TEST(RotaryEmbedding, VdrtTwinIsTheSameOp) { check({{1, 12, 2 * 16}, 2, true}, "vdrt"); }

TEST(RotaryEmbedding, Errors) {
  Tensor x = random_tensor({1, 4, 16}, 1);
  Tensor c = random_tensor({1, 4, 8}, 2);
  auto with = [](AttributeMap a) { return OpCall{"RotaryEmbedding", "", 23, 1, std::move(a)}; };
  expect_error([&] { run_op1(with({}), {x, c, c}); }, {"num_heads"});
  expect_error([&] { run_op1(with(attrs({{"num_heads", Attribute(int64_t{3})}})), {x, c, c}); }, {"does not divide"});
  expect_error([&] { run_op1(with(attrs({{"num_heads", Attribute(int64_t{2})}})), {x, c, c}); }, {"R/2"});
  Tensor x4 = random_tensor({1, 2, 4, 16}, 3);
  Tensor cache = random_tensor({5, 8}, 4);
  Tensor far = Tensor::from_vector<int64_t>({1, 4}, {0, 1, 2, 5});
  expect_error([&] { run_op1(with({}), {x4, cache, cache, far}); }, {"position id 5"});
  expect_error([&] { run_op1(with(attrs({{"rotary_embedding_dim", Attribute(int64_t{7})}})), {x4, c, c}); }, {"even"});
}

}  // namespace
}  // namespace vdrt::test
