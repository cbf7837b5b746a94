// RotaryEmbedding (ONNX opset 23) and vdrt.RotaryEmbedding on every GPU
// backend against the CPU: Wan's interleaved pairs on 3-D [B, S, N*D] (the
// tiny model's and Wan-1.3B's head layout), rotate-half on 4-D [B, N, S, D],
// caches indexed by position_ids, and partial rotation.
#include "backends/parity.h"

namespace vdrt::test {
namespace {

ParityCase rope(const std::string& name, std::vector<Dim> x, int64_t heads, bool interleaved, int64_t rot = 0,
                int64_t cache_rows = 0, const std::string& domain = "") {
  return {name,
          [=](GraphBuilder& b) {
            const bool four = x.size() == 4;
            if (!domain.empty()) b.graph().opsets.push_back({domain, 1});
            const int64_t batch = x[0].value(), seq = four ? x[2].value() : x[1].value();
            const int64_t head = four ? x[3].value() : x[2].value() / heads;
            const int64_t half = (rot ? rot : head) / 2;
            std::vector<Value*> ins{b.input("x", x)};
            if (cache_rows) {
              ins.push_back(b.random({cache_rows, half}, 2));
              ins.push_back(b.random({cache_rows, half}, 3));
              std::vector<int64_t> ids;
              for (int64_t i = 0; i < batch * seq; ++i) ids.push_back((i * 5 + 2) % cache_rows);
              ins.push_back(b.constant("position_ids", Tensor::from_vector<int64_t>({batch, seq}, ids)));
            } else {
              ins.push_back(b.input("cos", {batch, seq, half}));
              ins.push_back(b.input("sin", {batch, seq, half}));
            }
            AttributeMap a = attrs({{"interleaved", Attribute(int64_t{interleaved})}});
            if (!four) a.set("num_heads", heads);
            if (rot) a.set("rotary_embedding_dim", rot);
            b.output(b.op("RotaryEmbedding", ins, a, domain));
          },
          1e-5, 23};
}

const std::vector<ParityCase>& cases() {
  static const std::vector<ParityCase> c = [] {
    std::vector<ParityCase> v;
    v.push_back(rope("InterleavedTinyWan", {1, 48, 64}, 4, true));
    v.push_back(rope("InterleavedWan13B", {1, 1560, 12 * 128}, 12, true));
    v.push_back(rope("RotateHalf4D", {2, 3, 17, 32}, 0, false));
    v.push_back(rope("InterleavedPositions4D", {2, 4, 9, 16}, 0, true, 0, 13));
    v.push_back(rope("RotateHalfPositions3D", {1, 10, 3 * 24}, 3, false, 0, 40));
    v.push_back(rope("PartialInterleaved", {1, 2, 7, 20}, 0, true, 12));
    v.push_back(rope("PartialRotateHalf", {2, 5, 2 * 10}, 2, false, 6));
    v.push_back(rope("vdrtTwin", {1, 16, 2 * 16}, 2, true, 0, 0, "vdrt"));
    return v;
  }();
  return c;
}

VDRT_PARITY_SUITE(RotaryParity, cases);

}  // namespace
}  // namespace vdrt::test
