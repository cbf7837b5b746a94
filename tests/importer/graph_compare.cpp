#include "graph_compare.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>

namespace vdrt::test {

bool same_tensor(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.dims() != b.dims()) return false;
  return a.nbytes() == 0 || std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

namespace {

// Bitwise for floats, so that NaN payloads and -0 count as lossless too.
bool same_attribute(const Attribute& a, const Attribute& b) {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b);
        if constexpr (std::is_same_v<T, Tensor>) {
          return same_tensor(x, y);
        } else if constexpr (std::is_same_v<T, float>) {
          return std::memcmp(&x, &y, sizeof(float)) == 0;
        } else if constexpr (std::is_same_v<T, std::vector<float>>) {
          return x.size() == y.size() && (x.empty() || std::memcmp(x.data(), y.data(), x.size() * 4) == 0);
        } else {
          return x == y;
        }
      },
      a);
}

std::string name_of(const Value* v) { return v ? v->name() : "<absent>"; }

void expect_same_value(const Value& a, const Value& b) {
  SCOPED_TRACE("value '" + a.name() + "'");
  EXPECT_EQ(a.dtype(), b.dtype());
  EXPECT_EQ(a.shape().str(), b.shape().str());
  EXPECT_TRUE(a.shape() == b.shape());
  ASSERT_EQ(a.is_constant(), b.is_constant());
  if (a.is_constant()) {
    EXPECT_TRUE(same_tensor(a.constant(), b.constant()));
  }
}

std::vector<std::string> names(const std::vector<Value*>& vs) {
  std::vector<std::string> out;
  for (const Value* v : vs) out.push_back(name_of(v));
  return out;
}

}  // namespace

void expect_same_graph(const Graph& a, const Graph& b, const CompareOptions& options) {
  if (options.ir_version) {
    EXPECT_EQ(a.ir_version, b.ir_version);
  }
  if (options.graph_name) {
    EXPECT_EQ(a.name, b.name);
  }
  EXPECT_EQ(a.producer_name, b.producer_name);
  EXPECT_EQ(a.producer_version, b.producer_version);
  EXPECT_EQ(a.metadata, b.metadata);
  std::set<std::pair<std::string, int64_t>> oa, ob;
  for (const auto& o : a.opsets) oa.insert({o.domain, o.version});
  for (const auto& o : b.opsets) ob.insert({o.domain, o.version});
  EXPECT_EQ(oa, ob);

  EXPECT_EQ(names(a.inputs()), names(b.inputs()));
  EXPECT_EQ(names(a.outputs()), names(b.outputs()));
  for (const Value* v : a.inputs())
    if (const Value* w = b.find_value(v->name())) expect_same_value(*v, *w);
  for (const Value* v : a.outputs())
    if (const Value* w = b.find_value(v->name())) expect_same_value(*v, *w);

  ASSERT_EQ(a.nodes().size(), b.nodes().size());
  for (size_t i = 0; i < a.nodes().size(); ++i) {
    const Node& x = *a.nodes()[i];
    const Node& y = *b.nodes()[i];
    SCOPED_TRACE("node " + std::to_string(i) + " '" + x.name() + "'");
    EXPECT_EQ(x.name(), y.name());
    EXPECT_EQ(x.op_type(), y.op_type());
    EXPECT_EQ(x.domain(), y.domain());
    EXPECT_EQ(names(x.inputs()), names(y.inputs()));
    EXPECT_EQ(names(x.outputs()), names(y.outputs()));
    for (const Value* v : x.inputs())
      if (v) expect_same_value(*v, *b.find_value(v->name()));
    for (const Value* v : x.outputs())
      if (v) expect_same_value(*v, *b.find_value(v->name()));
    ASSERT_EQ(x.attrs().all().size(), y.attrs().all().size());
    for (const auto& [k, v] : x.attrs().all()) {
      ASSERT_TRUE(y.attrs().has(k)) << k;
      EXPECT_TRUE(same_attribute(v, y.attrs().all().at(k))) << "attribute " << k;
    }
  }
}

}  // namespace vdrt::test
