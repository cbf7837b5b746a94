#include "runtime/gemm_chain.h"

#include <cmath>
#include <map>
#include <mutex>
#include <random>
#include <string>

#include "graph/shape_inference.h"

namespace vdrt {
namespace {

const Tensor& weight(int64_t k, int64_t n) {
  static std::mutex mu;
  static std::map<std::pair<int64_t, int64_t>, Tensor> made;
  std::lock_guard<std::mutex> lock(mu);
  auto it = made.find({k, n});
  if (it == made.end())
    it = made.emplace(std::make_pair(k, n),
                      random_normal_tensor({k, n}, 100 + uint32_t(k % 97), 1.0f / std::sqrt(float(k)))).first;
  return it->second;
}

}  // namespace

Tensor random_normal_tensor(const std::vector<int64_t>& dims, uint32_t seed, float scale) {
  Tensor t(DType::F32, dims);
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = nd(rng);
  return t;
}

std::unique_ptr<Graph> gemm_chain_graph(int64_t m, int64_t k, int64_t n, int count) {
  auto g = std::make_unique<Graph>();
  g->name = "gemm";
  g->opsets.push_back({"", 17});
  Value* x = g->value("x");
  x->set_dtype(DType::F32);
  x->set_shape(Shape(std::vector<Dim>{m, k}));
  g->inputs().push_back(x);
  Value* cur = x;
  for (int i = 0; i < count; ++i) {
    Value* w = g->add_constant("w" + std::to_string(i), i % 2 ? weight(n, k) : weight(k, n));
    Value* y = g->value("y" + std::to_string(i));
    g->add_node("MatMul", {cur, w}, {y}, "matmul" + std::to_string(i));
    cur = y;
  }
  g->outputs().push_back(cur);
  infer_shapes(*g);
  return g;
}

}  // namespace vdrt
