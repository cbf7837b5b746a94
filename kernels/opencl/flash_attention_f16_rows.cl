// Attention's f16 row copies (OpenCL twin of flash_attention_coopmat.comp
// built with KV_CONVERT): rows of a strided f32 [B, H, S, D] view -- two
// consecutive key ranges, past then new -- into a packed f16 scratch
// [B, H, rows_pad, D] (zero rows past the end), 4 halves a work item,
// rounded to nearest even (PTX's cvt.rn.f16x2: only tensor-core sessions
// plan it), for flash_attention_coopmat.
#include "tensor_core_ptx.cl"
struct flash_attention_f16_rows_params {
  uint total, d4, nh, rows_pad, T, S;
  uint ab, ah, as_, bb, bh, bs;
};

kernel __attribute__((reqd_work_group_size(256, 1, 1)))
void flash_attention_f16_rows(BUF(float, x), BUF(float, z), BUF(uint2, o),
                              constant const struct flash_attention_f16_rows_params* p) {
  AT(float, x);
  AT(float, z);
  AT(uint2, o);
  const uint idx = flat_group() * 256u + (uint)get_local_id(0);
  if (idx >= p->total) return;
  const uint c = idx % p->d4, r = idx / p->d4;
  const uint row = r % p->rows_pad, bhi = r / p->rows_pad;
  const uint hh = bhi % p->nh, b = bhi / p->nh;
  float4 v = (float4)(0.0f);
  if (row < p->T)
    v = vload4(0, x + b * p->ab + hh * p->ah + row * p->as_ + 4 * c);
  else if (row - p->T < p->S)
    v = vload4(0, z + b * p->bb + hh * p->bh + (row - p->T) * p->bs + 4 * c);
  o[idx] = (uint2)(pack_f16x2(v.x, v.y), pack_f16x2(v.z, v.w));
}
