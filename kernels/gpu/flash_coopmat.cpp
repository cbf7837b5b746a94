// Flash-attention planning on cooperative matrices, shared by dense and
// block-sparse attention: see flash_coopmat.h.
#include "kernels/gpu/flash_coopmat.h"

#include <cstdio>
#include <cstdlib>

namespace vdrt::gpu {

bool flash_coopmat_applies(const DeviceCaps& caps, int64_t d, int64_t dv) {
  return caps.coopmat_f16_16x16x16 && caps.precision == "fp16" && caps.subgroup_size == 32 && d == dv &&
         (d == 64 || d == 128) && caps.max_workgroup_invocations >= 128;
}

size_t FlashCoopmatConfig::shared_bytes(uint32_t d) const {
  const size_t nsg = nt / 32;
  const size_t rows = size_t(bk) * (2 - (global_kv & 1) - ((global_kv >> 1) & 1));
  const size_t kv = 16 * (rows * (d / 8 + 1) + 1);
  return kv + 4 * nsg * 16 * (bk + 4) + 2 * nsg * 16 * (bk + 8);
}

const FlashCoopmatConfig* pick_dense_flash_coopmat(uint32_t d, const DeviceCaps& caps) {
  // Wan hot case on the H200 (48 KiB shared): 128,32,0,1 6.9 ms; 256,32,0,1 7.4; 128,32,0,0 7.9-8.3;
  // 128,32,1|2,1 8.9; 128,64,2,1 10.1; 128,64,1,1 10.4; 256,32,2,1 11.1; 128,32,3,0 11.5.
  // 2026-12-01, independent score accumulators in the tile loop: 128,32,0,1 4.17 ms (4.55 with one
  // chain over the head dim, the same run); 256,32,0,1 4.49. 128,64,0,1 needs 60 KiB.
  static const FlashCoopmatConfig configs[] = {{128, 32, 0, 1}, {256, 32, 0, 1}, {128, 32, 3, 0}};
  static thread_local FlashCoopmatConfig forced;
  if (const char* v = std::getenv("VDRT_VK_ATTN_VARIANT")) {
    unsigned nt = 0, bk = 0, g = 0, pf = 1;
    if (std::sscanf(v, "%u,%u,%u,%u", &nt, &bk, &g, &pf) >= 3) {
      forced = {nt, bk, g, pf};
      if ((nt == 128 || nt == 256) && (bk == 32 || bk == 64) && g < 4 && nt <= caps.max_workgroup_invocations &&
          forced.shared_bytes(d) <= caps.max_shared_bytes)
        return &forced;
    }
  }
  for (const FlashCoopmatConfig& c : configs)
    if (c.nt <= caps.max_workgroup_invocations && c.shared_bytes(d) <= caps.max_shared_bytes) return &c;
  return nullptr;
}

Dispatch f16_rows(Arg a, const RowStrides& va, Arg b, const RowStrides& vb, int64_t batch, int64_t heads,
                  int64_t rows_pad, int64_t t, int64_t s, uint32_t d, uint32_t dst, const DeviceCaps& caps) {
  auto u32 = [](int64_t x) { return static_cast<uint32_t>(x); };
  Dispatch c;
  c.shader = "flash_attention_f16_rows";
  c.args = {a, b, scratch(dst)};
  const uint64_t total = uint64_t(batch) * heads * rows_pad * (d / 4);
  VDRT_CHECK(total < (uint64_t(1) << 32), "GPU attention: tensor too large");
  c.u32(u32(total)).u32(d / 4).u32(u32(heads)).u32(u32(rows_pad)).u32(u32(t)).u32(u32(s));
  c.u32(u32(va.batch)).u32(u32(va.head)).u32(u32(va.row)).u32(u32(vb.batch)).u32(u32(vb.head)).u32(u32(vb.row));
  set_groups_1d(c, total, 256, caps);
  return c;
}

}  // namespace vdrt::gpu
