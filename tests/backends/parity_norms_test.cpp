// Normalisations, softmax and reductions on every GPU backend against the
// CPU: odd row lengths (so both the vec4 and the scalar paths, the
// subgroup-per-row and work-group-per-row layouts run), many rows, middle
// axes, large-magnitude softmax inputs.
#include "backends/parity.h"

namespace vdrt::test {
namespace {

AttributeMap axis_eps(int64_t axis, float eps) {
  return attrs({{"axis", Attribute(axis)}, {"epsilon", Attribute(eps)}});
}

ParityCase layer_norm(const std::string& name, std::vector<Dim> x, std::vector<Dim> p, int64_t axis, bool bias,
                      float eps = 1e-5f, const std::string& domain = "") {
  return {name, [=](GraphBuilder& b) {
            std::vector<Value*> ins{b.input("x", x), b.input("scale", p)};
            if (bias) ins.push_back(b.input("bias", p));
            b.output(b.op("LayerNormalization", ins, axis_eps(axis, eps), domain));
          }};
}

ParityCase rms_norm(const std::string& name, std::vector<Dim> x, std::vector<Dim> p, int64_t axis,
                    const std::string& domain, int64_t opset) {
  return {name, [=](GraphBuilder& b) {
            b.output(b.op("RMSNormalization", {b.input("x", x), b.input("scale", p)}, axis_eps(axis, 1e-6f), domain));
          }, 1e-5, opset};
}

// Softmax-family over x * 30 (max subtraction matters).
ParityCase softmax(const std::string& name, const std::string& op, std::vector<Dim> x, int64_t axis,
                   int64_t opset = 18) {
  return {name, [=](GraphBuilder& b) {
            Value* s = b.op("Mul", {b.input("x", x), b.scalar(30.0f)});
            b.output(b.op(op, {s}, attrs({{"axis", Attribute(axis)}})));
          }, 1e-5, opset};
}

// Reduce with axes as an attribute (opset 13) or as an input (opset 18).
ParityCase reduce(const std::string& name, const std::string& op, std::vector<Dim> x, std::vector<int64_t> axes,
                  int64_t keepdims, bool axes_input, int64_t noop = 0) {
  const int64_t opset = axes_input ? 18 : 13;
  return {name, [=](GraphBuilder& b) {
            AttributeMap a = attrs({{"keepdims", Attribute(keepdims)}});
            if (noop) a.set("noop_with_empty_axes", Attribute(noop));
            std::vector<Value*> ins{b.input("x", x)};
            if (axes_input && !axes.empty()) ins.push_back(b.ints(axes));
            if (!axes_input && !axes.empty()) a.set("axes", Attribute(axes));
            b.output(b.op(op, ins, a));
          }, 1e-5, opset};
}

ParityCase group_norm(const std::string& name, std::vector<Dim> x, int64_t groups, int64_t params, int64_t opset,
                      const std::string& domain = "") {
  return {name, [=](GraphBuilder& b) {
            b.output(b.op("GroupNormalization", {b.input("x", x), b.input("scale", {params}), b.input("bias", {params})},
                          attrs({{"num_groups", Attribute(groups)}, {"epsilon", Attribute(1e-4f)}}), domain));
          }, 1e-5, opset};
}

ParityCase instance_norm(const std::string& name, std::vector<Dim> x) {
  const Dim c = x[1];
  return {name, [=](GraphBuilder& b) {
            b.output(b.op("InstanceNormalization", {b.input("x", x), b.input("scale", {c}), b.input("bias", {c})}));
          }};
}

const std::vector<ParityCase>& cases() {
  static const std::vector<ParityCase> c = [] {
    std::vector<ParityCase> v;
    // LayerNorm: row lengths 1, 7, 129, 1537, 5000 and the hot 1536 with many rows.
    v.push_back(layer_norm("LayerNormRow1", {5, 1}, {1}, -1, true));
    v.push_back(layer_norm("LayerNormRow7", {9, 7}, {7}, -1, true));
    v.push_back(layer_norm("LayerNormRow129", {33, 129}, {129}, -1, false, 1e-3f));
    v.push_back(layer_norm("LayerNormRow1537", {2, 5, 1537}, {1537}, -1, true));
    v.push_back(layer_norm("LayerNormRow5000", {6, 5000}, {5000}, -1, true));
    v.push_back(layer_norm("LayerNormRow1536ManyRows", {1, 1200, 1536}, {1536}, -1, false, 1e-6f));
    v.push_back(layer_norm("LayerNormRow1536Bias", {700, 1536}, {1536}, -1, true, 1e-6f));
    v.push_back(layer_norm("LayerNormRow5120", {3, 40, 5120}, {5120}, -1, true));
    v.push_back(layer_norm("LayerNormRow20000", {3, 20000}, {20000}, -1, true));  // longer than the cached units
    v.push_back(layer_norm("LayerNormAxis1", {2, 5, 7, 12}, {5, 7, 12}, 1, true));
    v.push_back(layer_norm("LayerNormAxis1ScaleLastDim", {2, 5, 7, 12}, {12}, 1, true));
    v.push_back(layer_norm("LayerNormAxis1ScaleOddLast", {3, 4, 9}, {9}, 1, true));
    v.push_back(layer_norm("LayerNormScalarScale", {4, 64}, {1}, -1, true));
    v.push_back(layer_norm("vdrtLayerNorm", {17, 1536}, {1536}, -1, true, 1e-6f, "vdrt"));
    // RMSNorm: per-head q/k norm over 128 and the model dim.
    v.push_back(rms_norm("RMSNormHead128", {2, 300, 12, 128}, {128}, -1, "", 23));
    v.push_back(rms_norm("RMSNorm1536", {500, 1536}, {1536}, -1, "", 23));
    v.push_back(rms_norm("RMSNormOdd", {13, 129}, {129}, -1, "", 23));
    v.push_back(rms_norm("RMSNormAxis1", {3, 4, 10}, {4, 10}, 1, "", 23));
    v.push_back(rms_norm("vdrtRMSNorm", {37, 128}, {128}, -1, "vdrt", 18));
    // Softmax and LogSoftmax.
    v.push_back(softmax("SoftmaxLast1", "Softmax", {4, 1}, -1));
    v.push_back(softmax("SoftmaxLast7", "Softmax", {6, 7}, -1));
    v.push_back(softmax("SoftmaxLast129", "Softmax", {3, 4, 129}, -1));
    v.push_back(softmax("SoftmaxLast1537", "Softmax", {5, 1537}, -1));
    v.push_back(softmax("SoftmaxLast5000", "Softmax", {3, 5000}, -1));
    v.push_back(softmax("SoftmaxManyRows", "Softmax", {2, 12, 64, 256}, 3));
    v.push_back(softmax("SoftmaxMiddle", "Softmax", {3, 17, 9}, 1));
    v.push_back(softmax("SoftmaxFirst", "Softmax", {5, 4, 6}, 0));
    v.push_back(softmax("SoftmaxLegacyFlatten", "Softmax", {2, 3, 5}, 1, 11));
    v.push_back(softmax("SoftmaxLegacyDefaultAxis", "Softmax", {4, 3, 5}, 1, 12));
    v.push_back(softmax("LogSoftmaxLast", "LogSoftmax", {7, 1537}, -1));
    v.push_back(softmax("LogSoftmaxMiddle", "LogSoftmax", {3, 17, 9}, 1));
    // Reductions.
    v.push_back(reduce("ReduceMeanLastKeep", "ReduceMean", {4, 7, 129}, {-1}, 1, false));
    v.push_back(reduce("ReduceMeanLastDrop", "ReduceMean", {4, 7, 1537}, {2}, 0, true));
    v.push_back(reduce("ReduceMeanTwoTrailing", "ReduceMean", {3, 5, 6, 8}, {2, 3}, 1, true));
    v.push_back(reduce("ReduceMeanMiddleDrop", "ReduceMean", {3, 17, 9}, {1}, 0, true));
    v.push_back(reduce("ReduceSumAll", "ReduceSum", {6, 333}, {}, 0, true));
    v.push_back(reduce("ReduceSumAxesInput", "ReduceSum", {5, 8, 3}, {0, 1}, 1, true));
    v.push_back(reduce("ReduceSumNoop", "ReduceSum", {5, 8}, {}, 1, true, 1));
    v.push_back(reduce("ReduceSumOverSize1", "ReduceSum", {5, 1, 8}, {1}, 0, true));
    v.push_back(reduce("ReduceSumSkipsSize1", "ReduceSum", {4, 6, 1, 5, 3}, {1, 3}, 1, true));
    v.push_back(reduce("ReduceMaxLast", "ReduceMax", {9, 5000}, {-1}, 1, true));
    v.push_back(reduce("ReduceMaxMiddle", "ReduceMax", {4, 11, 13}, {1}, 0, true));
    v.push_back(reduce("ReduceMinLast", "ReduceMin", {33, 7}, {1}, 0, true));
    v.push_back(reduce("ReduceMinFirst", "ReduceMin", {10, 21}, {0}, 1, true));
    // Group and instance norms.
    v.push_back(group_norm("GroupNormG1PerGroup", {2, 6, 5, 7}, 1, 1, 18));
    v.push_back(group_norm("GroupNormG4PerGroup", {2, 8, 3, 5}, 4, 4, 18));
    v.push_back(group_norm("GroupNormG4PerChannel", {2, 8, 4, 6}, 4, 8, 21));
    v.push_back(group_norm("GroupNormG1PerChannel", {3, 4, 9}, 1, 4, 21));
    v.push_back(group_norm("GroupNormLargeBlock", {1, 64, 16, 24}, 32, 64, 21));
    // fuse-group-norm's twin in opset 17/18 models: per-channel scale and bias.
    v.push_back(group_norm("VdrtGroupNorm5d", {1, 16, 2, 4, 4}, 4, 16, 17, "vdrt"));
    v.push_back(instance_norm("InstanceNorm5D", {2, 6, 3, 5, 7}));
    v.push_back(instance_norm("InstanceNorm4D", {2, 4, 8, 12}));
    v.push_back(instance_norm("InstanceNormBigSpatial", {1, 3, 4, 64, 96}));
    return v;
  }();
  return c;
}

VDRT_PARITY_SUITE(NormsParity, cases);

}  // namespace
}  // namespace vdrt::test
