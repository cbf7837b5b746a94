#include "kernels/gpu/matmul_tile.h"

#include <cstdio>

namespace vdrt::gpu {

uint32_t matmul_tile_threads(const MatmulTile& t) { return t.tm && t.tn ? (t.bm / t.tm) * (t.bn / t.tn) : 0; }

bool matmul_tile_fits(const MatmulTile& t, const DeviceCaps& caps) {
  if (!t.bm || !t.bn || !t.bk || !t.tm || !t.tn || t.bm % t.tm || t.bn % t.tn || t.tm * t.tn > 64) return false;
  // Both shaders keep BM, BN and BK small enough for 32-bit index math and
  // register arrays; 256 bounds every dimension well inside that.
  if (t.bm > 256 || t.bn > 256 || t.bk > 256) return false;
  const uint32_t nt = matmul_tile_threads(t);
  // Shared memory: As[BK][BM + 4] and Bs[BK][BN + 4] floats.
  const size_t shared = size_t(t.bk) * (t.bm + 4 + t.bn + 4) * 4;
  return nt <= caps.max_workgroup_invocations && (t.bm * t.bk) % nt == 0 && (t.bn * t.bk) % nt == 0 &&
         shared <= caps.max_shared_bytes;
}

MatmulTile default_matmul_tile(int64_t M, int64_t N, const DeviceCaps& caps) {
  // Large products: 128 x 128 tiles with 8 x 8 outputs per invocation, K
  // slices of 32 where shared memory allows (34 KiB), else 16 (17 KiB).
  // Smaller ones: 64 x 64 tiles, 4 x 4 per invocation, 8.5 KiB.
  if (M >= 256 && N >= 256) {
    MatmulTile big{128, 128, 32, 8, 8};
    if (matmul_tile_fits(big, caps)) return big;
    big.bk = 16;
    if (matmul_tile_fits(big, caps)) return big;
  }
  return MatmulTile{64, 64, 16, 4, 4};
}

const std::vector<MatmulTile>& matmul_tile_candidates() {
  // Around the defaults: the big and small tiles, their K-slice variants,
  // and the rectangular ones between them (for N or M not a multiple of 128).
  static const std::vector<MatmulTile> c = {
      {128, 128, 32, 8, 8}, {128, 128, 16, 8, 8}, {128, 64, 32, 8, 4}, {64, 128, 32, 4, 8},
      {128, 64, 16, 8, 4},  {64, 128, 16, 4, 8},  {64, 64, 32, 4, 4},  {64, 64, 16, 4, 4},
      {32, 64, 16, 4, 4},   {64, 32, 16, 4, 4},   {32, 32, 16, 4, 4},
  };
  return c;
}

std::string to_string(const MatmulTile& t) {
  char b[80];
  std::snprintf(b, sizeof b, "%ux%ux%u/%ux%u", t.bm, t.bn, t.bk, t.tm, t.tn);
  return b;
}

std::string to_csv(const MatmulTile& t) {
  char b[80];
  std::snprintf(b, sizeof b, "%u,%u,%u,%u,%u", t.bm, t.bn, t.bk, t.tm, t.tn);
  return b;
}

std::optional<MatmulTile> parse_matmul_tile(const std::string& text) {
  MatmulTile t;
  int used = 0;
  if (text.empty() || text[0] == '-' ||
      std::sscanf(text.c_str(), "%u,%u,%u,%u,%u%n", &t.bm, &t.bn, &t.bk, &t.tm, &t.tn, &used) != 5 ||
      used != static_cast<int>(text.size()))
    return std::nullopt;
  return t;
}

}  // namespace vdrt::gpu
