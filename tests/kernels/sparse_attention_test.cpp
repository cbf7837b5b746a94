// vdrt.PBSAttention and vdrt.HSAttention CPU kernels against a naive
// float64 dense attention: with every block selected they must equal it;
// selection must honour its budgets; compressed blocks, masses and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <map>
#include <set>
#include <random>

#include "kernels/cpu/block_select.h"
#include "kernels/sparse_kv_state.h"
#include "sparse_attention_util.h"

namespace vdrt::test {
namespace {

struct Case {
  int64_t B, Hq, Hk, D, Dv, grid_h, grid_w, tile_h, tile_w, chunk_frames, past_frames;
};

// Odd grids and tiles that do not divide them, GQA, D != Dv, no past.
const Case kCases[] = {
    {1, 2, 2, 16, 16, 4, 4, 2, 2, 3, 6},   // the tiny model's layout
    {1, 3, 1, 8, 12, 5, 7, 2, 3, 2, 5},    // 35 tokens per frame, tiles of 6 with ragged edges, GQA 3:1
    {2, 4, 2, 16, 8, 3, 5, 4, 4, 1, 4},    // tile larger than the grid in both directions
    {1, 2, 1, 32, 32, 1, 13, 1, 4, 3, 3},  // raster runs of 4 over 13 tokens
    {1, 1, 1, 8, 8, 3, 3, 2, 2, 2, 0},     // no cache yet
};

TEST(SparseAttention, EveryBlockSelectedEqualsDenseAttention) {
  std::mt19937 rng(11);
  for (const Case& c : kCases)
    for (SparseMethod method : {SparseMethod::Pbsa, SparseMethod::Hsa}) {
      const int64_t P = c.grid_h * c.grid_w, S = c.chunk_frames * P, T = c.past_frames * P;
      Tensor q = random_tensor({c.B, S, c.Hq, c.D}, rng), k = random_tensor({c.B, S, c.Hk, c.D}, rng);
      Tensor v = random_tensor({c.B, S, c.Hk, c.Dv}, rng);
      Tensor pk = random_tensor({c.B, T, c.Hk, c.D}, rng), pv = random_tensor({c.B, T, c.Hk, c.Dv}, rng);
      const float scale = 1.0f / std::sqrt(static_cast<float>(c.D));
      SparseAttentionParams p = sparse_params(method, c.grid_h, c.grid_w, c.tile_h, c.tile_w, scale);
      Tensor y = run_sparse_op(method, p, q, k, v, pk, pv);
      std::vector<double> ref = dense_attention_f64(q, k, v, pk, pv, scale);
      EXPECT_LT(max_abs_error(y, ref), 1e-5) << sparse_method_op(method) << " grid " << c.grid_h << "x" << c.grid_w
                                             << " tile " << c.tile_h << "x" << c.tile_w << " past " << c.past_frames;
    }
}

TEST(SparseAttention, LargeScoresStayExact) {
  // Logits up to about 60 (std 16): the online softmax must rescale, not overflow.
  std::mt19937 rng(12);
  const int64_t P = 16;
  Tensor q = random_tensor({1, 2 * P, 2, 16}, rng, 2.0f), k = random_tensor({1, 2 * P, 2, 16}, rng, 2.0f);
  Tensor v = random_tensor({1, 2 * P, 2, 16}, rng), pk = random_tensor({1, 4 * P, 2, 16}, rng, 2.0f);
  Tensor pv = random_tensor({1, 4 * P, 2, 16}, rng);
  for (SparseMethod method : {SparseMethod::Pbsa, SparseMethod::Hsa}) {
    SparseAttentionParams p = sparse_params(method, 4, 4, 2, 2, 1.0f);
    EXPECT_LT(max_abs_error(run_sparse_op(method, p, q, k, v, pk, pv), dense_attention_f64(q, k, v, pk, pv, 1.0)),
              1e-5);
  }
}

// A hand-built cache state: lanes from past tensors, the first
// `persistent_frames` frames marked persistent (optionally one block
// compressed), recording what the kernel reports.
class HandState : public SparseKvState, public AttentionRecorder {
 public:
  HandState(const Tensor& pk, const Tensor& pv, const BlockLayout& layout, int64_t persistent_frames)
      : B_(pk.dims()[0]), H_(pk.dims()[2]), D_(pk.dims()[3]), Dv_(pv.dims()[3]) {
    const int64_t T = pk.dims()[1], P = layout.tokens_per_frame();
    const auto order = layout.tile_order();
    lanes_.resize(static_cast<size_t>(B_ * H_));
    store_.resize(lanes_.size());
    mass_.resize(lanes_.size());
    for (int64_t b = 0; b < B_; ++b)
      for (int64_t h = 0; h < H_; ++h) {
        auto& st = store_[b * H_ + h];
        for (int64_t f = 0; f < T / P; ++f)
          for (int64_t t = 0; t < layout.tiles(); ++t) {
            st.emplace_back();
            auto& data = st.back();
            const int32_t r0 = order.offset[t], rows = order.offset[t + 1] - r0;
            data.assign(static_cast<size_t>(rows * (D_ + Dv_) + D_), 0.0f);
            for (int32_t r = 0; r < rows; ++r) {
              const int64_t tok = f * P + order.token[r0 + r];
              for (int64_t d = 0; d < D_; ++d) {
                data[r * D_ + d] = pk.data<float>()[((b * T + tok) * H_ + h) * D_ + d];
                data[rows * (D_ + Dv_) + d] += data[r * D_ + d] / rows;
              }
              for (int64_t d = 0; d < Dv_; ++d)
                data[rows * D_ + r * Dv_ + d] = pv.data<float>()[((b * T + tok) * H_ + h) * Dv_ + d];
            }
            KvBlock blk;
            blk.rows = blk.tokens = rows;
            blk.frame = f;
            blk.tile = static_cast<int32_t>(t);
            blk.persistent = f < persistent_frames;
            lanes_[b * H_ + h].blocks.push_back(blk);
          }
        // Persistent blocks go last, as the runtime orders them.
        auto& blocks = lanes_[b * H_ + h].blocks;
        std::vector<std::pair<KvBlock, size_t>> tagged;
        for (size_t i = 0; i < blocks.size(); ++i) tagged.emplace_back(blocks[i], i);
        std::stable_partition(tagged.begin(), tagged.end(), [](const auto& x) { return !x.first.persistent; });
        blocks.clear();
        for (auto& [blk, i] : tagged) {
          KvBlock bb = blk;
          auto& data = st[i];
          bb.key = data.data();
          bb.value = data.data() + bb.rows * D_;
          bb.pooled_key = data.data() + bb.rows * (D_ + Dv_);
          blocks.push_back(bb);
        }
        mass_[b * H_ + h].assign(blocks.size(), 0.0f);
        lanes_[b * H_ + h].mass = mass_[b * H_ + h].data();
      }
  }
  int64_t batch() const override { return B_; }
  int64_t kv_heads() const override { return H_; }
  int64_t key_dim() const override { return D_; }
  int64_t value_dim() const override { return Dv_; }
  const KvLane& lane(int64_t b, int64_t h) const override { return lanes_[b * H_ + h]; }
  int64_t chunk_index() const override { return chunk; }
  bool accumulate_mass() const override { return accumulate; }
  AttentionRecorder* recorder() const override { return record_ ? const_cast<HandState*>(this) : nullptr; }
  void record(int64_t, std::vector<QueryBlockRecord> r) override { records = std::move(r); }

  KvLane& mutable_lane(int64_t b, int64_t h) { return lanes_[b * H_ + h]; }
  std::vector<float>& mass(int64_t b, int64_t h) { return mass_[b * H_ + h]; }
  void set_record(bool on) { record_ = on; }

  int64_t chunk = 0;
  bool accumulate = false;
  std::vector<QueryBlockRecord> records;

 private:
  int64_t B_, H_, D_, Dv_;
  bool record_ = false;
  std::vector<KvLane> lanes_;
  std::vector<std::vector<std::vector<float>>> store_;
  std::vector<std::vector<float>> mass_;
};

TEST(SparseAttention, BoundStateWithPersistentBlocksEqualsDense) {
  std::mt19937 rng(13);
  const BlockLayout layout{5, 7, 2, 3};
  const int64_t P = layout.tokens_per_frame();
  Tensor q = random_tensor({1, 2 * P, 4, 8}, rng), k = random_tensor({1, 2 * P, 2, 8}, rng);
  Tensor v = random_tensor({1, 2 * P, 2, 8}, rng), pk = random_tensor({1, 5 * P, 2, 8}, rng);
  Tensor pv = random_tensor({1, 5 * P, 2, 8}, rng);
  HandState state(pk, pv, layout, 2);
  const float scale = 0.35f;
  std::vector<double> ref = dense_attention_f64(q, k, v, pk, pv, scale);
  for (SparseMethod method : {SparseMethod::Pbsa, SparseMethod::Hsa}) {
    SparseAttentionParams p = sparse_params(method, 5, 7, 2, 3, scale);
    Tensor empty_k(DType::F32, {1, 0, 2, 8}), empty_v(DType::F32, {1, 0, 2, 8});
    EXPECT_LT(max_abs_error(run_sparse_op(method, p, q, k, v, empty_k, empty_v, &state), ref), 1e-5);
    EXPECT_LT(max_abs_error(run_sparse_op(method, p, q, k, v, {}, {}, &state), ref), 1e-5);
  }
}

TEST(SparseAttention, CompressedBlockOfEqualKeysIsExact) {
  // A block whose keys are all equal attends like its mean value weighted
  // by its token count: the compressed form is then exact.
  std::mt19937 rng(14);
  const BlockLayout layout{2, 2, 2, 2};  // one block of 4 tokens per frame
  const int64_t D = 8;
  Tensor q = random_tensor({1, 4, 1, D}, rng), k = random_tensor({1, 4, 1, D}, rng), v = random_tensor({1, 4, 1, D}, rng);
  Tensor pk = random_tensor({1, 8, 1, D}, rng), pv = random_tensor({1, 8, 1, D}, rng);
  for (int64_t t = 1; t < 4; ++t)  // frame 0: four equal keys
    std::copy_n(pk.data<float>(), D, pk.data<float>() + t * D);
  HandState state(pk, pv, layout, 1);
  std::vector<double> ref = dense_attention_f64(q, k, v, pk, pv, 0.5);

  // Compress frame 0's block by hand: one row, mean value, log(4) weight.
  KvLane& lane = state.mutable_lane(0, 0);
  KvBlock& blk = lane.blocks.back();
  ASSERT_TRUE(blk.persistent);
  std::vector<float> mean_v(D, 0.0f);
  for (int64_t r = 0; r < 4; ++r)
    for (int64_t d = 0; d < D; ++d) mean_v[d] += pv.data<float>()[r * D + d] / 4;
  blk.value = mean_v.data();
  blk.rows = 1;
  blk.log_weight = std::log(4.0f);
  SparseAttentionParams p = sparse_params(SparseMethod::Pbsa, 2, 2, 2, 2, 0.5f);
  EXPECT_LT(max_abs_error(run_sparse_op(SparseMethod::Pbsa, p, q, k, v, {}, {}, &state), ref), 1e-5);
}

TEST(SparseAttention, AccumulatedMassMatchesTheDenseProbabilities) {
  std::mt19937 rng(15);
  const BlockLayout layout{4, 4, 2, 2};
  const int64_t P = 16, D = 8;
  Tensor q = random_tensor({1, P, 2, D}, rng), k = random_tensor({1, P, 1, D}, rng), v = random_tensor({1, P, 1, D}, rng);
  Tensor pk = random_tensor({1, 3 * P, 1, D}, rng), pv = random_tensor({1, 3 * P, 1, D}, rng);
  HandState state(pk, pv, layout, 1);
  state.accumulate = true;
  const double scale = 0.4;
  run_sparse_op(SparseMethod::Pbsa, sparse_params(SparseMethod::Pbsa, 4, 4, 2, 2, 0.4f), q, k, v, {}, {}, &state);

  // Reference: the softmax mass of each cached block, summed over the query
  // rows of both query heads (they share the KV head).
  const auto order = layout.tile_order();
  std::map<std::pair<int64_t, int64_t>, double> want;  // (frame, tile) -> mass
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t i = 0; i < P; ++i) {
      std::vector<double> s(4 * P);
      double m = -INFINITY;
      for (int64_t j = 0; j < 4 * P; ++j) {
        const float* kr = j < 3 * P ? pk.data<float>() + j * D : k.data<float>() + (j - 3 * P) * D;
        double acc = 0;
        for (int64_t d = 0; d < D; ++d) acc += static_cast<double>(q.data<float>()[(i * 2 + h) * D + d]) * kr[d];
        s[j] = acc * scale;
        m = std::max(m, s[j]);
      }
      double sum = 0;
      for (double& x : s) sum += x = std::exp(x - m);
      for (int64_t f = 0; f < 3; ++f)
        for (int64_t t = 0; t < 4; ++t)
          for (int32_t r = order.offset[t]; r < order.offset[t + 1]; ++r) want[{f, t}] += s[f * P + order.token[r]] / sum;
    }
  const KvLane& lane = state.lane(0, 0);
  for (size_t i = 0; i < lane.blocks.size(); ++i)
    EXPECT_NEAR(lane.mass[i], (want[{lane.blocks[i].frame, lane.blocks[i].tile}]), 1e-5) << "block " << i;
}

TEST(SparseAttention, SelectionHonoursItsBudgets) {
  std::mt19937 rng(16);
  const BlockLayout layout{4, 4, 2, 2};
  const int64_t P = 16, D = 8, frames = 8;
  Tensor q = random_tensor({1, 3 * P, 2, D}, rng), k = random_tensor({1, 3 * P, 2, D}, rng);
  Tensor v = random_tensor({1, 3 * P, 2, D}, rng), pk = random_tensor({1, frames * P, 2, D}, rng);
  Tensor pv = random_tensor({1, frames * P, 2, D}, rng);
  HandState state(pk, pv, layout, 2);  // 8 persistent blocks, 24 window blocks per lane
  state.set_record(true);

  SparseAttentionParams pb = sparse_params(SparseMethod::Pbsa, 4, 4, 2, 2, 0.3f);
  pb.top_k = 5;
  run_sparse_op(SparseMethod::Pbsa, pb, q, k, v, {}, {}, &state);
  ASSERT_EQ(state.records.size(), size_t{2 * 3 * 4});
  for (const QueryBlockRecord& r : state.records) {
    const KvLane& lane = state.lane(0, r.head);
    int window = 0, persistent = 0;
    for (size_t i = 0; i < r.selected.size(); ++i)
      if (r.selected[i]) ++(lane.blocks[i].persistent ? persistent : window);
    EXPECT_EQ(window, 5);
    EXPECT_EQ(persistent, 8);
    // The chosen window blocks are the best-scored ones.
    float worst_chosen = INFINITY, best_left = -INFINITY;
    for (size_t i = 0; i < r.selected.size(); ++i) {
      if (lane.blocks[i].persistent) continue;
      if (r.selected[i]) worst_chosen = std::min(worst_chosen, r.block_score[i]);
      else best_left = std::max(best_left, r.block_score[i]);
    }
    EXPECT_GE(worst_chosen, best_left);
    double total = r.local_mass;
    for (float m : r.block_mass) total += m;
    EXPECT_NEAR(total, static_cast<double>(r.rows), 1e-4);  // each row's masses sum to 1
  }

  // CAG: at chunk 0 sparsity 0.5 of 24 window blocks -> 12 kept (top_k off).
  pb.top_k = 0;
  pb.cag = CagSchedule{0.5, 0.9, 4, CagSchedule::Curve::Linear};
  state.chunk = 0;
  run_sparse_op(SparseMethod::Pbsa, pb, q, k, v, {}, {}, &state);
  for (const QueryBlockRecord& r : state.records) {
    int window = 0;
    for (size_t i = 0; i < r.selected.size(); ++i) window += r.selected[i] && !state.lane(0, r.head).blocks[i].persistent;
    EXPECT_EQ(window, 12);
  }
  state.chunk = 10;  // past the ramp: ceil(0.1 * 24) = 3
  run_sparse_op(SparseMethod::Pbsa, pb, q, k, v, {}, {}, &state);
  for (const QueryBlockRecord& r : state.records) {
    int window = 0;
    for (size_t i = 0; i < r.selected.size(); ++i) window += r.selected[i] && !state.lane(0, r.head).blocks[i].persistent;
    EXPECT_EQ(window, 3);
  }

  // HSA: top 2 frames besides the sink frame 0, then 5 blocks among them.
  SparseAttentionParams ph = sparse_params(SparseMethod::Hsa, 4, 4, 2, 2, 0.3f);
  ph.top_frames = 2;
  ph.top_blocks = 5;
  run_sparse_op(SparseMethod::Hsa, ph, q, k, v, {}, {}, &state);
  for (const QueryBlockRecord& r : state.records) {
    const KvLane& lane = state.lane(0, r.head);
    std::set<int64_t> frames_seen;
    int chosen = 0;
    for (size_t i = 0; i < r.selected.size(); ++i)
      if (r.selected[i]) {
        ++chosen;
        frames_seen.insert(lane.blocks[i].frame);
      }
    EXPECT_EQ(chosen, 5);
    frames_seen.erase(0);
    EXPECT_LE(frames_seen.size(), size_t{2});
  }
}

TEST(SparseAttention, CagScheduleCurves) {
  CagSchedule lin{0.2, 0.8, 4, CagSchedule::Curve::Linear};
  EXPECT_DOUBLE_EQ(lin.sparsity(0), 0.2);
  EXPECT_DOUBLE_EQ(lin.sparsity(2), 0.5);
  EXPECT_DOUBLE_EQ(lin.sparsity(4), 0.8);
  EXPECT_DOUBLE_EQ(lin.sparsity(100), 0.8);
  CagSchedule cosine{0.2, 0.8, 4, CagSchedule::Curve::Cosine};
  EXPECT_DOUBLE_EQ(cosine.sparsity(0), 0.2);
  EXPECT_NEAR(cosine.sparsity(2), 0.5, 1e-12);
  EXPECT_LT(cosine.sparsity(1), lin.sparsity(1));  // slow start
  EXPECT_EQ(lin.keep(0, 10), 8);
  EXPECT_EQ(lin.keep(9, 10), 2);
  EXPECT_EQ(lin.keep(9, 1), 1);  // never below one block
  EXPECT_EQ(lin.keep(9, 0), 0);
  EXPECT_FALSE(CagSchedule{}.enabled());
  CagSchedule step{0.0, 0.6, 0, CagSchedule::Curve::Linear};
  EXPECT_DOUBLE_EQ(step.sparsity(0), 0.6);
}

TEST(SparseAttention, TileOrderCoversTheFrameOnce) {
  BlockLayout l{5, 7, 2, 3};
  auto o = l.tile_order();
  ASSERT_EQ(l.tiles(), 9);
  ASSERT_EQ(o.offset.size(), size_t{10});
  EXPECT_EQ(o.offset.back(), 35);
  std::vector<int> seen(35, 0);
  for (int32_t t : o.token) ++seen[t];
  for (int s : seen) EXPECT_EQ(s, 1);
  // Tile 0 is rows 0-1, columns 0-2; the last tile is row 4, column 6.
  EXPECT_EQ(std::vector<int32_t>(o.token.begin(), o.token.begin() + 6), (std::vector<int32_t>{0, 1, 2, 7, 8, 9}));
  EXPECT_EQ(o.offset[9] - o.offset[8], 1);
  EXPECT_EQ(o.token.back(), 34);
}

TEST(SparseAttention, BadAttributesAndInputsAreErrors) {
  std::mt19937 rng(17);
  Tensor q = random_tensor({1, 16, 2, 8}, rng), k = random_tensor({1, 16, 2, 8}, rng), v = random_tensor({1, 16, 2, 8}, rng);
  SparseAttentionParams p = sparse_params(SparseMethod::Pbsa, 4, 4, 2, 2, 0.3f);
  // 16 tokens are not whole frames of 5x5.
  SparseAttentionParams bad_grid = p;
  bad_grid.layout = BlockLayout{5, 5, 2, 2};
  EXPECT_THROW(run_sparse_op(SparseMethod::Pbsa, bad_grid, q, k, v), Error);
  // Attributes: missing frame_grid, window 0, sinks beyond the memory budget.
  AttributeMap a;
  p.to_attributes(a);
  a.erase("frame_grid");
  EXPECT_THROW(SparseAttentionParams::from_attributes(SparseMethod::Pbsa, a), Error);
  p.to_attributes(a);
  a.set("window_frames", int64_t{0});
  EXPECT_THROW(SparseAttentionParams::from_attributes(SparseMethod::Pbsa, a), Error);
  p.to_attributes(a);
  a.set("sink_frames", int64_t{1});
  a.set("memory_blocks", int64_t{2});
  EXPECT_THROW(SparseAttentionParams::from_attributes(SparseMethod::Pbsa, a), Error);
  p.to_attributes(a);
  a.set("cag_sparsity", std::vector<float>{0.5f, 0.2f});
  EXPECT_THROW(SparseAttentionParams::from_attributes(SparseMethod::Pbsa, a), Error);
  a.set("cag_sparsity", std::vector<float>{0.1f, 0.2f});
  a.set("cag_curve", std::string("cubic"));
  EXPECT_THROW(SparseAttentionParams::from_attributes(SparseMethod::Pbsa, a), Error);
  // A bound cache and non-empty past inputs at once.
  Tensor pk = random_tensor({1, 16, 2, 8}, rng), pv = random_tensor({1, 16, 2, 8}, rng);
  HandState state(pk, pv, p.layout, 0);
  EXPECT_THROW(run_sparse_op(SparseMethod::Pbsa, p, q, k, v, pk, pv, &state), Error);
  // A cache whose heads do not fit.
  Tensor k1 = random_tensor({1, 16, 1, 8}, rng), v1 = random_tensor({1, 16, 1, 8}, rng);
  EXPECT_THROW(run_sparse_op(SparseMethod::Pbsa, p, q, k1, v1, {}, {}, &state), Error);
}

TEST(BlockSelect, TopIndicesBreaksTiesByIndex) {
  std::vector<float> s = {0.5f, 2.0f, 2.0f, -1.0f, 3.0f};
  EXPECT_EQ(cpu::top_indices(s.data(), {0, 1, 2, 3, 4}, 2), (std::vector<int32_t>{1, 4}));
  EXPECT_EQ(cpu::top_indices(s.data(), {0, 2, 3}, 2), (std::vector<int32_t>{0, 2}));
  EXPECT_EQ(cpu::top_indices(s.data(), {3, 0}, 5), (std::vector<int32_t>{0, 3}));
  EXPECT_TRUE(cpu::top_indices(s.data(), {0, 1}, 0).empty());
}

}  // namespace
}  // namespace vdrt::test
