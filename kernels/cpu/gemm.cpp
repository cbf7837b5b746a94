// Blocked, packed f32 GEMM in the style of Goto/BLIS: for each KC x NC block
// of B (packed once into NR-wide column panels) the rows of A are cut into
// MC x KC blocks (packed into MR-tall row panels) and a register-blocked
// micro-kernel (gemm_microkernel.cpp) sweeps the MR x NR tiles. Packing
// makes every operand layout (row-major, transposed, strided) look the same
// to the micro-kernel and keeps its loads sequential. Threads split the
// C block into (row block x column chunk) tasks; matrix-vector products skip
// packing altogether. A fused MatMul's epilogue (bias, GELU, residual, and
// outputs cut by columns) runs on each tile right after its last K block is
// stored, while the tile is in L1.
#include "kernels/cpu/gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "graph/error.h"
#include "kernels/cpu/aligned_scratch.h"
#include "kernels/cpu/gemm_microkernel.h"
#include "kernels/cpu/multiversion.h"
#include "kernels/cpu/vector_math.h"

namespace vdrt::cpu {
namespace {

// Block sizes, measured on Zen 4 (AVX-512 and AVX2 kernels within 5% of
// each other, ~100 GFLOP/s per core from 64^3 upwards): a deep KC amortises
// loading and storing each C tile; MC x KC of A (~340 KB) stays in L2 while
// the B panels stream; a KC x NC block of B (6 MB) is shared through L3.
constexpr int64_t kKC = 512;
constexpr int64_t kMC = 168;
constexpr int64_t kNC = 3072;
// Below this many multiply-adds threading costs more than it gains.
constexpr int64_t kParallelMinFlops = int64_t(1) << 18;

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// Packing buffers, one per thread (the parallel region is isolated, see
// gemm_blocked).
thread_local AlignedScratch t_apack{"GEMM packing buffer"}, t_bpack{"GEMM packing buffer"};

// rows x width floats from src (row stride src_stride) to dst (row stride
// dst_stride). Panel widths are compile-time constants in the common cases so
// each row becomes a few vector moves instead of a memcpy call (the calls
// dominated packing for small convolutions).
template <int W>
void copy_rows_fixed(float* dst, int64_t dst_stride, const float* src, int64_t src_stride, int64_t rows) {
  for (int64_t r = 0; r < rows; ++r) std::memcpy(dst + r * dst_stride, src + r * src_stride, sizeof(float) * W);
}

void copy_rows(float* dst, int64_t dst_stride, const float* src, int64_t src_stride, int64_t rows, int width) {
  switch (width) {
    case 6: return copy_rows_fixed<6>(dst, dst_stride, src, src_stride, rows);
    case 8: return copy_rows_fixed<8>(dst, dst_stride, src, src_stride, rows);
    case 14: return copy_rows_fixed<14>(dst, dst_stride, src, src_stride, rows);
    case 16: return copy_rows_fixed<16>(dst, dst_stride, src, src_stride, rows);
    case 32: return copy_rows_fixed<32>(dst, dst_stride, src, src_stride, rows);
    default:
      for (int64_t r = 0; r < rows; ++r) std::memcpy(dst + r * dst_stride, src + r * src_stride, sizeof(float) * width);
  }
}

// A block (mc x kc) -> panels of MR rows, k-major inside a panel; rows past
// mc are zero so the micro-kernel always runs full tiles.
void pack_a(const float* a, int64_t rs, int64_t cs, int64_t mc, int64_t kc, int mr, float* out) {
  for (int64_t i0 = 0; i0 < mc; i0 += mr) {
    const int m = static_cast<int>(std::min<int64_t>(mr, mc - i0));
    float* dst = out + i0 * kc;
    if (rs == 1 && m == mr) {  // A stored transposed: MR consecutive floats per k
      copy_rows(dst, mr, a + i0, cs, kc, mr);
      continue;
    }
    for (int i = 0; i < m; ++i) {
      const float* src = a + (i0 + i) * rs;
      for (int64_t k = 0; k < kc; ++k) dst[k * mr + i] = src[k * cs];
    }
    for (int i = m; i < mr; ++i)
      for (int64_t k = 0; k < kc; ++k) dst[k * mr + i] = 0.0f;
  }
}

// Columns [j_begin, j_end) of a B block (kc x nc) -> panels of NR columns,
// k-major inside a panel; columns past nc are zero.
void pack_b(const float* b, int64_t rs, int64_t cs, int64_t kc, int64_t nc, int nr, int64_t j_begin, int64_t j_end,
            float* out) {
  for (int64_t j0 = j_begin; j0 < j_end; j0 += nr) {
    const int n = static_cast<int>(std::min<int64_t>(nr, nc - j0));
    float* dst = out + j0 * kc;
    if (cs == 1 && n == nr) {  // row-major B: a panel row is a contiguous copy
      copy_rows(dst, nr, b + j0, rs, kc, nr);
      continue;
    }
    for (int j = 0; j < n; ++j) {
      const float* src = b + (j0 + j) * cs;
      for (int64_t k = 0; k < kc; ++k) dst[k * nr + j] = src[k * rs];
    }
    for (int j = n; j < nr; ++j)
      for (int64_t k = 0; k < kc; ++k) dst[k * nr + j] = 0.0f;
  }
}

void macro_kernel(const GemmMicroKernel& mk, const float* apack, const float* bpack, int64_t mc, int64_t nc,
                  int64_t kc, float* c, int64_t ldc, float alpha, float beta) {
  for (int64_t j0 = 0; j0 < nc; j0 += mk.nr) {
    const int n = static_cast<int>(std::min<int64_t>(mk.nr, nc - j0));
    for (int64_t i0 = 0; i0 < mc; i0 += mk.mr) {
      const int m = static_cast<int>(std::min<int64_t>(mk.mr, mc - i0));
      mk.tile(kc, apack + i0 * kc, bpack + j0 * kc, c + i0 * ldc + j0, ldc, alpha, beta, m, n);
    }
  }
}

// y[i] = alpha * sum_k x[i*xr + k*xk] * v[k*vs] + beta * y[i*ys], i in [i0, i1).
VDRT_MULTIVERSION void gemv_rows(int64_t i0, int64_t i1, int64_t K, float alpha, const float* x, int64_t xr,
                                 int64_t xk, const float* v, int64_t vs, float beta, float* y, int64_t ys) {
  constexpr int kLanes = 16;
  if (xk == 1 && vs == 1) {
    // Contiguous dot products; 16 partial sums let the compiler vectorise
    // without reassociating a single float accumulator.
    for (int64_t i = i0; i < i1; ++i) {
      const float* row = x + i * xr;
      float part[kLanes] = {};
      int64_t k = 0;
      for (; k + kLanes <= K; k += kLanes)
        for (int l = 0; l < kLanes; ++l) part[l] += row[k + l] * v[k + l];
      float s = 0;
      for (int l = 0; l < kLanes; ++l) s += part[l];
      for (; k < K; ++k) s += row[k] * v[k];
      float& dst = y[i * ys];
      dst = beta == 0.0f ? alpha * s : alpha * s + beta * dst;
    }
    return;
  }
  if (xr == 1 && ys == 1) {
    // Columns are contiguous in i: accumulate axpy-style over k.
    float* out = y + i0;
    const int64_t n = i1 - i0;
    if (beta == 0.0f) std::fill(out, out + n, 0.0f);
    else if (beta != 1.0f) for (int64_t i = 0; i < n; ++i) out[i] *= beta;
    for (int64_t k = 0; k < K; ++k) {
      const float s = alpha * v[k * vs];
      const float* col = x + k * xk + i0;
      for (int64_t i = 0; i < n; ++i) out[i] += s * col[i];
    }
    return;
  }
  for (int64_t i = i0; i < i1; ++i) {
    float s = 0;
    for (int64_t k = 0; k < K; ++k) s += x[i * xr + k * xk] * v[k * vs];
    float& dst = y[i * ys];
    dst = beta == 0.0f ? alpha * s : alpha * s + beta * dst;
  }
}

void gemv(int64_t n, int64_t K, float alpha, const float* x, int64_t xr, int64_t xk, const float* v, int64_t vs,
          float beta, float* y, int64_t ys, bool parallel) {
  const int64_t grain = std::max<int64_t>(16, (int64_t(1) << 16) / std::max<int64_t>(K, 1));
  if (!parallel || n * K < kParallelMinFlops) {
    gemv_rows(0, n, K, alpha, x, xr, xk, v, vs, beta, y, ys);
    return;
  }
  tbb::this_task_arena::isolate([&] {
    tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, grain), [&](const tbb::blocked_range<int64_t>& r) {
      gemv_rows(r.begin(), r.end(), K, alpha, x, xr, xk, v, vs, beta, y, ys);
    });
  });
}

void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
}

// The epilogue on an m x n tile of finished products at (row, col) of the
// product, stored at c (row stride ldc). One loop per stage: each is a plain
// loop the compiler vectorises, and the tile is in L1 for all of them.
VDRT_MULTIVERSION void epilogue_tile(const GemmEpilogue& e, int64_t row, int64_t col, int m, int n, float* c,
                                     int64_t ldc) {
  for (int i = 0; i < m; ++i) {
    float* y = c + i * ldc;
    if (e.bias) {
      const float* b = e.bias + col;
      for (int j = 0; j < n; ++j) y[j] += b[j];
    }
    if (e.activation == GemmActivation::GeluTanh)
      for (int j = 0; j < n; ++j) y[j] = vmath::gelu_tanh(y[j]);
    else if (e.activation == GemmActivation::Gelu)
      for (int j = 0; j < n; ++j) y[j] = vmath::gelu(y[j]);
    if (e.residual) {
      const float* r = e.residual + (row + i) * e.residual_ld + col;
      for (int j = 0; j < n; ++j) y[j] += r[j];
    }
  }
}

// The epilogue over all M rows of one output (the vector-product paths).
void epilogue_tile_rows(const GemmEpilogue& e, int64_t M, const GemmColumns& o, int64_t col) {
  constexpr int64_t kRows = 64;
  for (int64_t r = 0; r < M; r += kRows)
    for (int64_t j = 0; j < o.width; j += kRows)
      epilogue_tile(e, r, col + j, static_cast<int>(std::min(kRows, M - r)),
                    static_cast<int>(std::min(kRows, o.width - j)), o.c + r * o.ldc + j, o.ldc);
}

bool epilogue_is_empty(const GemmEpilogue& e) {
  return !e.bias && !e.residual && e.activation == GemmActivation::None;
}

// Where the fused GEMM's columns go, and what happens to finished tiles.
struct EpilogueTarget {
  const std::vector<GemmColumns>* outputs;
  const GemmEpilogue* epilogue;

  // The output holding column `col` (outputs are in order and cover [0, N)).
  size_t output_of(int64_t col, size_t hint) const {
    const auto& o = *outputs;
    size_t s = hint < o.size() ? hint : 0;
    if (col < o[s].begin) s = 0;
    while (s + 1 < o.size() && col >= o[s].begin + o[s].width) ++s;
    return s;
  }
};

// macro_kernel for an epilogue target: tile (i0, j0) of the block whose
// top-left is (row0, col0) of the product. `last_k`: this K block finishes
// the sums, so the epilogue runs.
void macro_kernel_epilogue(const GemmMicroKernel& mk, const float* apack, const float* bpack, int64_t mc, int64_t nc,
                           int64_t kc, int64_t row0, int64_t col0, const EpilogueTarget& t, float beta, bool last_k) {
  constexpr int kMaxTile = 16 * 64;  // mr * nr of every micro-kernel fits
  VDRT_CHECK(mk.mr * mk.nr <= kMaxTile, "GEMM micro-kernel tile too large for the epilogue buffer");
  const bool run_epilogue = last_k && !epilogue_is_empty(*t.epilogue);
  size_t hint = 0;
  for (int64_t j0 = 0; j0 < nc; j0 += mk.nr) {
    const int n = static_cast<int>(std::min<int64_t>(mk.nr, nc - j0));
    const int64_t col = col0 + j0;
    hint = t.output_of(col, hint);
    const GemmColumns& out = (*t.outputs)[hint];
    const bool inside = col + n <= out.begin + out.width;
    for (int64_t i0 = 0; i0 < mc; i0 += mk.mr) {
      const int m = static_cast<int>(std::min<int64_t>(mk.mr, mc - i0));
      const int64_t row = row0 + i0;
      const float* a = apack + i0 * kc;
      const float* b = bpack + j0 * kc;
      if (inside) {
        float* c = out.c + row * out.ldc + (col - out.begin);
        mk.tile(kc, a, b, c, out.ldc, 1.0f, beta, m, n);
        if (run_epilogue) epilogue_tile(*t.epilogue, row, col, m, n, c, out.ldc);
        continue;
      }
      // The tile straddles outputs: through a buffer, column by column.
      float tmp[kMaxTile];
      auto for_each_column = [&](auto&& f) {
        size_t s = hint;
        for (int j = 0; j < n; ++j) {
          while (col + j >= (*t.outputs)[s].begin + (*t.outputs)[s].width) ++s;
          const GemmColumns& o = (*t.outputs)[s];
          for (int i = 0; i < m; ++i) f(tmp[i * mk.nr + j], o.c[(row + i) * o.ldc + (col + j - o.begin)]);
        }
      };
      if (beta != 0.0f) for_each_column([](float& buf, float& dst) { buf = dst; });
      mk.tile(kc, a, b, tmp, mk.nr, 1.0f, beta, m, n);
      if (run_epilogue) epilogue_tile(*t.epilogue, row, col, m, n, tmp, mk.nr);
      for_each_column([](float& buf, float& dst) { dst = buf; });
    }
  }
}

}  // namespace

namespace {

// How many micro-panel columns each task of a block takes. Few row blocks
// get their columns split too, so that every thread has work (at least two
// tasks each), and the split is chosen so that the tasks share out evenly:
// 7 row blocks on 2 threads would leave one thread idle for the last eighth
// of every block; cut in 2 column chunks they are 14 tasks, 7 each.
int64_t panels_per_chunk(int64_t m_tiles, int64_t n_panels, int threads) {
  if (threads <= 1) return n_panels;
  int64_t best = n_panels;
  double best_share = 0;
  for (int64_t want = 1; want <= n_panels; ++want) {
    const int64_t per = (n_panels + want - 1) / want;
    const int64_t tasks = m_tiles * ((n_panels + per - 1) / per);
    if (tasks < 2 * threads && per > 1) continue;
    // Busy fraction of the threads over the rounds of tasks.
    const double share = double(tasks) / double((tasks + threads - 1) / threads * threads);
    if (share > best_share + 1e-9) best = per, best_share = share;
    if (share >= 0.95) break;
  }
  return best;
}

// The blocked driver. With `packed` the A blocks come from it instead of
// being packed per task.
void gemm_blocked(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t a_rs, int64_t a_cs,
                  const PackedA* packed, const float* B, int64_t b_rs, int64_t b_cs, float beta, float* C, int64_t ldc,
                  int threads, const GemmMicroKernel& mk, const EpilogueTarget* target = nullptr) {
  const int64_t mc_max = round_up(std::min(kMC, M), mk.mr);
  const int64_t nc_max = round_up(std::min(kNC, N), mk.nr);

  for (int64_t jc = 0; jc < N; jc += nc_max) {
    const int64_t nc = std::min(nc_max, N - jc);
    for (int64_t pc = 0; pc < K; pc += kKC) {
      const int64_t kc = std::min(kKC, K - pc);
      const float beta_block = pc == 0 ? beta : 1.0f;
      float* bpack = t_bpack.get<float>(kc * round_up(nc, mk.nr));
      const float* bblock = B + pc * b_rs + jc * b_cs;
      float* cblock = C ? C + jc : nullptr;  // unused with an epilogue target

      const int64_t m_tiles = (M + mc_max - 1) / mc_max;
      const int64_t n_panels = (nc + mk.nr - 1) / mk.nr;
      const int64_t chunk = panels_per_chunk(m_tiles, n_panels, threads) * mk.nr;
      const int64_t chunks = (nc + chunk - 1) / chunk;
      const int64_t tasks = m_tiles * chunks;

      auto pack_b_range = [&](int64_t p0, int64_t p1) {
        pack_b(bblock, b_rs, b_cs, kc, nc, mk.nr, p0 * mk.nr, std::min(nc, p1 * mk.nr), bpack);
      };
      auto run_task = [&](int64_t t) {
        const int64_t i0 = (t / chunks) * mc_max, j0 = (t % chunks) * chunk;
        const int64_t mc = std::min(mc_max, M - i0), w = std::min(chunk, nc - j0);
        const float* apack;
        if (packed) {
          // Packed A holds one block of `rows` x kc per K block, panel by panel.
          apack = packed->data.data() + pc * packed->rows + i0 * kc;
        } else {
          float* buf = t_apack.get<float>(round_up(mc, mk.mr) * kc);
          pack_a(A + pc * a_cs + i0 * a_rs, a_rs, a_cs, mc, kc, mk.mr, buf);
          apack = buf;
        }
        if (target)
          macro_kernel_epilogue(mk, apack, bpack + j0 * kc, mc, w, kc, i0, jc + j0, *target, beta_block, pc + kc >= K);
        else
          macro_kernel(mk, apack, bpack + j0 * kc, mc, w, kc, cblock + i0 * ldc + j0, ldc, alpha, beta_block);
      };
      if (threads == 1 || tasks == 1) {
        pack_b_range(0, n_panels);
        for (int64_t t = 0; t < tasks; ++t) run_task(t);
        continue;
      }
      // Isolation keeps this thread from picking up unrelated outer tasks
      // (which might run another GEMM over its packing buffers) while it waits.
      tbb::this_task_arena::isolate([&] {
        tbb::parallel_for(tbb::blocked_range<int64_t>(0, n_panels, std::max<int64_t>(1, n_panels / (4 * threads))),
                          [&](const tbb::blocked_range<int64_t>& r) { pack_b_range(r.begin(), r.end()); });
        tbb::parallel_for(tbb::blocked_range<int64_t>(0, tasks, 1), [&](const tbb::blocked_range<int64_t>& r) {
          for (int64_t t = r.begin(); t < r.end(); ++t) run_task(t);
        });
      });
    }
  }
}

int gemm_threads(const GemmOptions& options, int64_t flops) {
  if (!options.parallel || flops < kParallelMinFlops) return 1;
  return tbb::this_task_arena::max_concurrency();
}

}  // namespace

void gemm_f32(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t a_rs, int64_t a_cs,
              const float* B, int64_t b_rs, int64_t b_cs, float beta, float* C, int64_t ldc,
              const GemmOptions& options) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  const int threads = gemm_threads(options, M * N * K);
  if (M == 1) {  // row vector times matrix: C row j = dot(A row, B column j)
    gemv(N, K, alpha, B, b_cs, b_rs, A, a_cs, beta, C, 1, threads > 1);
    return;
  }
  if (N == 1) {
    gemv(M, K, alpha, A, a_rs, a_cs, B, b_rs, beta, C, ldc, threads > 1);
    return;
  }
  gemm_blocked(M, N, K, alpha, A, a_rs, a_cs, nullptr, B, b_rs, b_cs, beta, C, ldc, threads,
               options.kernel ? *options.kernel : best_gemm_microkernel());
}

void gemm_f32_epilogue(int64_t M, int64_t N, int64_t K, const float* A, int64_t a_rs, int64_t a_cs, const float* B,
                       int64_t b_rs, int64_t b_cs, const std::vector<GemmColumns>& outputs,
                       const GemmEpilogue& epilogue, const GemmOptions& options) {
  if (M <= 0 || N <= 0) return;
  int64_t covered = 0;
  for (const GemmColumns& o : outputs) {
    VDRT_CHECK(o.begin == covered && o.width > 0, "GEMM epilogue outputs must cover the columns in order");
    covered += o.width;
  }
  VDRT_CHECK(covered == N, "GEMM epilogue outputs cover " + std::to_string(covered) + " of " + std::to_string(N) +
                               " columns");
  const int threads = gemm_threads(options, M * N * K);
  if (M == 1 || N == 1 || K <= 0) {
    // Vector products (and empty sums) take the plain paths per output,
    // then one epilogue pass: there are no tiles to keep in cache.
    for (const GemmColumns& o : outputs) {
      GemmOptions per = options;
      per.parallel = threads > 1;
      gemm_f32(M, o.width, K, 1.0f, A, a_rs, a_cs, B + o.begin * b_cs, b_rs, b_cs, 0.0f, o.c, o.ldc, per);
      if (!epilogue_is_empty(epilogue)) epilogue_tile_rows(epilogue, M, o, o.begin);
    }
    return;
  }
  const EpilogueTarget target{&outputs, &epilogue};
  gemm_blocked(M, N, K, 1.0f, A, a_rs, a_cs, nullptr, B, b_rs, b_cs, 0.0f, nullptr, 0, threads,
               options.kernel ? *options.kernel : best_gemm_microkernel(), &target);
}

GemmActivation gemm_activation(const std::string& name, const char* op) {
  if (name == "none") return GemmActivation::None;
  if (name == "gelu") return GemmActivation::Gelu;
  if (name == "gelu_tanh") return GemmActivation::GeluTanh;
  throw Error(std::string(op) + ": activation must be none, gelu or gelu_tanh, got '" + name + "'");
}

void apply_gemm_epilogue(int64_t M, int64_t N, float* C, int64_t ldc, const GemmEpilogue& epilogue) {
  if (M <= 0 || N <= 0 || epilogue_is_empty(epilogue)) return;
  VDRT_CHECK(N <= int64_t(1) << 30, "GEMM epilogue: rows of " + std::to_string(N) + " columns");
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, M, 16), [&](const tbb::blocked_range<int64_t>& r) {
    epilogue_tile(epilogue, r.begin(), 0, static_cast<int>(r.size()), static_cast<int>(N), C + r.begin() * ldc, ldc);
  });
}

void pack_a_f32(PackedA& p, int64_t M, int64_t K, const float* A, int64_t a_rs, int64_t a_cs,
                const GemmOptions& options) {
  p.mk = options.kernel ? options.kernel : &best_gemm_microkernel();
  p.M = std::max<int64_t>(M, 0), p.K = std::max<int64_t>(K, 0), p.rows = round_up(p.M, p.mk->mr);
  p.data.resize(static_cast<size_t>(p.rows * p.K));
  for (int64_t pc = 0; pc < p.K; pc += kKC) {
    const int64_t kc = std::min(kKC, p.K - pc);
    pack_a(A + pc * a_cs, a_rs, a_cs, p.M, kc, p.mk->mr, p.data.data() + pc * p.rows);
  }
}

PackedA pack_a_f32(int64_t M, int64_t K, const float* A, int64_t a_rs, int64_t a_cs, const GemmOptions& options) {
  PackedA p;
  pack_a_f32(p, M, K, A, a_rs, a_cs, options);
  return p;
}

void gemm_f32_packed(const PackedA& A, int64_t N, float alpha, const float* B, int64_t b_rs, int64_t b_cs, float beta,
                     float* C, int64_t ldc, const GemmOptions& options) {
  if (A.M <= 0 || N <= 0) return;
  if (A.K <= 0) {
    scale_c(A.M, N, beta, C, ldc);
    return;
  }
  gemm_blocked(A.M, N, A.K, alpha, nullptr, 0, 0, &A, B, b_rs, b_cs, beta, C, ldc, gemm_threads(options, A.M * N * A.K),
               *A.mk);
}

}  // namespace vdrt::cpu
