// RotaryEmbedding (ONNX opset 23), f32, one work item per output element: the
// OpenCL twin of rotary_embedding.comp (same parameters, same bindings). Rows
// of H channels are (b, n, s) for 4-D X and (b, s, n) for 3-D X; pair i is
// (2i, 2i+1) when interleaved, else (i, i + R/2); channels >= R are copied.
// The cache row is b*S + s, or position_ids[b, s] (int64, low word, clamped).
struct rotary_embedding_params {
  uint n;
  uint head;
  uint half_rot;
  uint heads;
  uint seq;
  uint four;
  uint interleaved;
  uint has_pos;
  uint cache_rows;
};

kernel __attribute__((reqd_work_group_size(256, 1, 1)))
void rotary_embedding(BUF(float, x), BUF(float, cs), BUF(float, sn), BUF(int, pos), BUF(float, y),
                      constant const struct rotary_embedding_params* p) {
  AT(float, x);
  AT(float, cs);
  AT(float, sn);
  AT(int, pos);
  AT(float, y);
  uint e = flat_group() * 256u + (uint)get_local_id(0);
  if (e >= p->n) return;
  uint row = e / p->head;
  uint j = e - row * p->head;
  if (j >= 2u * p->half_rot) {
    y[e] = x[e];
    return;
  }
  uint bs = p->four == 1u ? (row / (p->heads * p->seq)) * p->seq + row % p->seq : row / p->heads;
  uint c_row = bs;
  if (p->has_pos == 1u) c_row = (uint)clamp(pos[2u * bs], 0, (int)p->cache_rows - 1);
  uint i, first, second;
  bool is_first;
  if (p->interleaved == 1u) {
    i = j >> 1;
    first = 2u * i;
    second = first + 1u;
    is_first = (j & 1u) == 0u;
  } else {
    is_first = j < p->half_rot;
    i = is_first ? j : j - p->half_rot;
    first = i;
    second = i + p->half_rot;
  }
  uint base = row * p->head;
  float x1 = x[base + first], x2 = x[base + second];
  float c = cs[c_row * p->half_rot + i], s = sn[c_row * p->half_rot + i];
  y[e] = is_first ? c * x1 - s * x2 : s * x1 + c * x2;
}
