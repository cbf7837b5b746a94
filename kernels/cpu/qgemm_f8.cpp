// The blocking of the float8-weight GEMM follows the f32 one (gemm.cpp):
// for each KC x NC block of W, the weight bytes are packed into NR-wide
// panels (k-major, a plain byte copy: no decoding here), then tasks over
// (row block x column chunk) pack MC x KC blocks of A into MR-tall panels
// and sweep the micro-kernel over them. With a single row tile the micro-
// kernel reads W in place, since a packed panel would be used only once.
#include "kernels/cpu/qgemm_f8.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include "graph/error.h"
#include "kernels/cpu/aligned_scratch.h"
#include "kernels/cpu/fp8_activation_quant.h"
#include "kernels/cpu/qgemm_f8_microkernel.h"

namespace vdrt::cpu {
namespace {

// Deep blocks: each K block ends with a read-modify-write of C, and the weight
// panels are bytes, so a whole Wan layer's K (1536) fits one block: an
// MR x KC panel of A (28 x 1536 floats, 168 KB) streams from L2 next to a
// KC x NR weight panel (24 KB) in L1. Measured on Zen 4: KC 256 -> 1536 took
// the AVX-512 kernel from 82 to 105 GFLOPS per core (bench/RESULTS.md).
constexpr int64_t kKC = 1536;
constexpr int64_t kMC = 84;    // rows per A block (~500 KB at KC = 1536, in L2)
constexpr int64_t kNC = 2048;  // columns per weight block (3 MB of bytes at KC = 1536, shared in L3)
constexpr int64_t kParallelMinFlops = int64_t(1) << 18;

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// Per-thread packing buffers (see gemm.cpp).
thread_local AlignedScratch t_apack{"quantised GEMM buffer"}, t_wpack{"quantised GEMM buffer"},
    t_edge{"quantised GEMM buffer"};

// Rows [0, mc) x depth [0, kc) of row-major A -> MR-tall panels, k-major;
// rows past mc are zero.
void pack_a(const float* a, int64_t lda, int64_t mc, int64_t kc, int mr, float* out) {
  for (int64_t i0 = 0; i0 < mc; i0 += mr) {
    const int m = static_cast<int>(std::min<int64_t>(mr, mc - i0));
    float* dst = out + i0 * kc;
    for (int i = 0; i < m; ++i) {
      const float* src = a + (i0 + i) * lda;
      for (int64_t k = 0; k < kc; ++k) dst[k * mr + i] = src[k];
    }
    for (int i = m; i < mr; ++i)
      for (int64_t k = 0; k < kc; ++k) dst[k * mr + i] = 0.0f;
  }
}

// Weight columns [j_begin, j_end) of a kc x nc block -> NR-wide byte panels;
// columns past nc are zero codes.
void pack_w(const uint8_t* w, int64_t ldw, int64_t kc, int64_t nc, int nr, int64_t j_begin, int64_t j_end,
            uint8_t* out) {
  for (int64_t j0 = j_begin; j0 < j_end; j0 += nr) {
    const int n = static_cast<int>(std::min<int64_t>(nr, nc - j0));
    uint8_t* dst = out + j0 * kc;
    for (int64_t k = 0; k < kc; ++k) {
      std::memcpy(dst + k * nr, w + k * ldw + j0, n);
      if (n < nr) std::memset(dst + k * nr + n, 0, nr - n);
    }
  }
}

}  // namespace

void qgemm_f8e4m3(const QGemmF8Problem& p, const QGemmOptions& options) {
  if (p.M <= 0 || p.N <= 0) return;
  const QGemmMicroKernel& mk = options.kernel ? *options.kernel : best_qgemm_microkernel();
  // Column scales with the kernel's decode factor folded in.
  std::vector<float> col_scale(static_cast<size_t>(p.N));
  for (int64_t j = 0; j < p.N; ++j) col_scale[j] = p.col_scale[j] * mk.decode_factor;
  if (p.K <= 0) {
    for (int64_t i = 0; i < p.M; ++i)
      for (int64_t j = 0; j < p.N; ++j) p.C[i * p.ldc + j] = p.bias ? p.bias[j] : 0.0f;
    return;
  }
  int threads = options.parallel ? tbb::this_task_arena::max_concurrency() : 1;
  if (p.M * p.N * p.K < kParallelMinFlops) threads = 1;
  const int64_t mc_max = round_up(std::min(kMC, p.M), mk.mr);
  const int64_t nc_max = round_up(std::min(kNC, p.N), mk.nr);
  const bool in_place = p.M <= mk.mr;  // one row tile: each weight panel is used once

  for (int64_t jc = 0; jc < p.N; jc += nc_max) {
    const int64_t nc = std::min(nc_max, p.N - jc);
    const int64_t n_panels = (nc + mk.nr - 1) / mk.nr;
    for (int64_t pc = 0; pc < p.K; pc += kKC) {
      const int64_t kc = std::min(kKC, p.K - pc);
      const uint8_t* wblock = p.W + pc * p.ldw + jc;
      uint8_t* wpack = in_place ? nullptr : t_wpack.get<uint8_t>(kc * n_panels * mk.nr);

      const int64_t m_tiles = (p.M + mc_max - 1) / mc_max;
      const int64_t n_chunks =
          threads > 1 ? std::clamp<int64_t>((2 * threads + m_tiles - 1) / m_tiles, 1, n_panels) : 1;
      const int64_t chunk = ((n_panels + n_chunks - 1) / n_chunks) * mk.nr;
      const int64_t chunks = (nc + chunk - 1) / chunk;
      const int64_t tasks = m_tiles * chunks;

      auto run_task = [&](int64_t t) {
        const int64_t i0 = (t / chunks) * mc_max, j0 = (t % chunks) * chunk;
        const int64_t mc = std::min(mc_max, p.M - i0), w = std::min(chunk, nc - j0);
        float* apack = t_apack.get<float>(round_up(mc, mk.mr) * kc);
        pack_a(p.A + i0 * p.lda + pc, p.lda, mc, kc, mk.mr, apack);
        for (int64_t jp = 0; jp < w; jp += mk.nr) {
          const int n = static_cast<int>(std::min<int64_t>(mk.nr, w - jp));
          const int64_t col = jc + j0 + jp;
          const uint8_t* panel;
          int64_t ldb = mk.nr;
          if (!in_place) {
            panel = wpack + (j0 + jp) * kc;
          } else if (n == mk.nr) {
            panel = wblock + j0 + jp;
            ldb = p.ldw;
          } else {  // the last, narrower panel, padded with zero codes
            uint8_t* edge = t_edge.get<uint8_t>(kc * mk.nr);
            pack_w(wblock + j0 + jp, p.ldw, kc, n, mk.nr, 0, n, edge);
            panel = edge;
          }
          QGemmEpilogue ep;
          ep.col_scale = col_scale.data() + col;
          ep.bias = p.bias ? p.bias + col : nullptr;
          ep.accumulate = pc > 0;
          for (int64_t ir = 0; ir < mc; ir += mk.mr) {
            const int m = static_cast<int>(std::min<int64_t>(mk.mr, mc - ir));
            ep.row_scale = p.row_scale ? p.row_scale + i0 + ir : nullptr;
            mk.tile(kc, apack + ir * kc, panel, ldb, p.C + (i0 + ir) * p.ldc + col, p.ldc, ep, m, n);
          }
        }
      };
      auto pack_range = [&](int64_t q0, int64_t q1) {
        pack_w(wblock, p.ldw, kc, nc, mk.nr, q0 * mk.nr, std::min(nc, q1 * mk.nr), wpack);
      };
      if (threads == 1 || tasks == 1) {
        if (!in_place) pack_range(0, n_panels);
        for (int64_t t = 0; t < tasks; ++t) run_task(t);
        continue;
      }
      tbb::this_task_arena::isolate([&] {
        if (!in_place)
          tbb::parallel_for(tbb::blocked_range<int64_t>(0, n_panels, std::max<int64_t>(1, n_panels / (4 * threads))),
                            [&](const tbb::blocked_range<int64_t>& r) { pack_range(r.begin(), r.end()); });
        tbb::parallel_for(tbb::blocked_range<int64_t>(0, tasks, 1), [&](const tbb::blocked_range<int64_t>& r) {
          for (int64_t t = r.begin(); t < r.end(); ++t) run_task(t);
        });
      });
    }
  }
}

void qmatmul_f8e4m3(int64_t M, int64_t N, int64_t K, const float* A, const uint8_t* W, const float* scale,
                    const float* bias, bool per_token_act_quant, float* C, const QGemmOptions& options) {
  QGemmF8Problem p;
  p.M = M;
  p.N = N;
  p.K = K;
  p.A = A;
  p.lda = K;
  p.W = W;
  p.ldw = N;
  p.col_scale = scale;
  p.bias = bias;
  p.C = C;
  p.ldc = N;
  std::unique_ptr<float[]> q, row_scale;
  if (per_token_act_quant && M > 0 && K > 0) {
    q = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(M * K));
    row_scale = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(M));
    quantize_rows_e4m3(A, M, K, K, q.get(), row_scale.get(), options.parallel);
    p.A = q.get();
    p.row_scale = row_scale.get();
  }
  qgemm_f8e4m3(p, options);
}

}  // namespace vdrt::cpu
