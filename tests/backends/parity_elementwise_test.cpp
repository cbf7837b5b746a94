// Elementwise and data-movement ops on every GPU backend against the CPU,
// on shapes that are not multiples of any work-group size.
#include "backends/parity.h"

namespace vdrt::test {
namespace {

ParityCase unary(const std::string& op, AttributeMap a = {}, double tol = 1e-5) {
  return {op, [op, a](GraphBuilder& b) {
            Value* x = b.input("x", {3, 7, 129});
            b.output(b.op(op, {x}, a));
          }, tol};
}

ParityCase binary(const std::string& name, const std::string& op, std::vector<Dim> da, std::vector<Dim> db) {
  return {name, [op, da, db](GraphBuilder& b) {
            Value* x = b.input("a", da);
            Value* y = b.input("b", db);
            b.output(b.op(op, {x, y}));
          }};
}

const std::vector<ParityCase>& cases() {
  static const std::vector<ParityCase> c = [] {
    std::vector<ParityCase> v;
    for (const char* op : {"Relu", "Sigmoid", "Tanh", "Exp", "Neg", "Abs", "Sin", "Cos", "Erf", "Floor", "Ceil",
                           "Sign", "Softplus"})
      v.push_back(unary(op));
    v.push_back(unary("LeakyRelu", attrs({{"alpha", Attribute(0.1f)}})));
    v.push_back(unary("Elu", attrs({{"alpha", Attribute(0.7f)}})));
    v.push_back({"Gelu", [](GraphBuilder& b) { b.output(b.op("Gelu", {b.input("x", {5, 333})})); }, 1e-5, 20});
    v.push_back({"GeluTanh", [](GraphBuilder& b) {
                   b.output(b.op("Gelu", {b.input("x", {5, 333})}, attrs({{"approximate", Attribute(std::string("tanh"))}})));
                 }, 1e-5, 20});
    v.push_back({"vdrtGelu", [](GraphBuilder& b) { b.output(b.op("Gelu", {b.input("x", {5, 333})}, {}, "vdrt")); }});
    v.push_back({"SqrtOfAbs", [](GraphBuilder& b) { b.output(b.op("Sqrt", {b.op("Abs", {b.input("x", {1000})})})); }});
    v.push_back({"ReciprocalShifted", [](GraphBuilder& b) {
                   Value* x = b.op("Add", {b.op("Abs", {b.input("x", {999})}), b.scalar(0.5f)});
                   b.output(b.op("Reciprocal", {x}));
                 }});
    v.push_back(binary("AddSame", "Add", {4, 77}, {4, 77}));
    v.push_back(binary("AddRow", "Add", {3, 5, 1537}, {1537}));
    v.push_back(binary("MulColumn", "Mul", {2, 9, 33}, {2, 9, 1}));
    v.push_back(binary("SubBothBroadcast", "Sub", {5, 1, 7}, {1, 6, 7}));
    v.push_back(binary("DivScalar", "Div", {3, 100}, {1}));
    v.push_back(binary("MaxRank4", "Max", {2, 3, 4, 5}, {3, 1, 5}));
    v.push_back({"PowSquare", [](GraphBuilder& b) { b.output(b.op("Pow", {b.input("x", {3, 65}), b.scalar(2.0f)})); }});
    v.push_back({"Transpose0213", [](GraphBuilder& b) {
                   b.output(b.op("Transpose", {b.input("x", {2, 5, 3, 17})}, attrs({{"perm", Attribute(std::vector<int64_t>{0, 2, 1, 3})}})));
                 }});
    v.push_back({"TransposeDefault", [](GraphBuilder& b) { b.output(b.op("Transpose", {b.input("x", {4, 6, 9})})); }});
    v.push_back({"Reshape", [](GraphBuilder& b) { b.output(b.op("Reshape", {b.input("x", {6, 35}), b.ints({5, 42})})); }});
    v.push_back({"SliceSteps", [](GraphBuilder& b) {
                   b.output(b.op("Slice", {b.input("x", {7, 20}), b.ints({1, -3}), b.ints({6, 2}), b.ints({0, 1}), b.ints({2, -4})}));
                 }});
    v.push_back({"Expand", [](GraphBuilder& b) { b.output(b.op("Expand", {b.input("x", {3, 1, 5}), b.ints({2, 3, 4, 5})})); }});
    v.push_back({"Concat", [](GraphBuilder& b) {
                   b.output(b.op("Concat", {b.input("x", {2, 3, 5}), b.input("y", {2, 4, 5}), b.input("z", {2, 1, 5})},
                                 attrs({{"axis", Attribute(int64_t(1))}})));
                 }});
    v.push_back({"SplitThree", [](GraphBuilder& b) {
                   Value* x = b.input("x", {4, 11});
                   Graph& g = b.graph();
                   Value* o1 = g.value("s1");
                   Value* o2 = g.value("s2");
                   Value* o3 = g.value("s3");
                   Node* n = g.add_node("Split", {x, b.ints({3, 5, 3})}, {o1, o2, o3}, "split");
                   n->attrs().set("axis", Attribute(int64_t(1)));
                   b.output(o1);
                   b.output(o2);
                   b.output(o3);
                 }});
    v.push_back({"GatherAxis1", [](GraphBuilder& b) {
                   Value* idx = b.constant("idx", Tensor::from_vector<int64_t>({2, 2}, {3, -1, 0, 2}));
                   b.output(b.op("Gather", {b.input("x", {3, 5, 7}), idx}, attrs({{"axis", Attribute(int64_t(1))}})));
                 }});
    v.push_back({"CastToInt64AndBack", [](GraphBuilder& b) {
                   Value* x = b.op("Mul", {b.input("x", {50}), b.scalar(10.0f)});
                   Value* i = b.op("Cast", {x}, attrs({{"to", Attribute(int64_t(7))}}));
                   b.output(b.op("Cast", {i}, attrs({{"to", Attribute(int64_t(1))}})));
                 }});
    // f32 -> f16 -> f32 (a KV cache kept in f16): an odd count, so the last
    // pair of halves holds one; round to nearest even as the CPU's F16C does,
    // so equal within f32 rounding, where one f16 step is 2^-6 of these values.
    v.push_back({"CastToFloat16AndBack", [](GraphBuilder& b) {
                   Value* x = b.op("Mul", {b.input("x", {3, 67}), b.scalar(37.0f)});
                   Value* h = b.op("Cast", {x}, attrs({{"to", Attribute(int64_t(10))}}));
                   b.output(b.op("Cast", {h}, attrs({{"to", Attribute(int64_t(1))}})));
                 }, 1e-7});
    return v;
  }();
  return c;
}

VDRT_PARITY_SUITE(ElementwiseParity, cases);

}  // namespace
}  // namespace vdrt::test
