#include "importer/attribute_proto.h"

#include <type_traits>

namespace vdrt::onnx_io {

namespace {
using AP = onnx::AttributeProto;

// IR version 1 files may leave `type` unset; the filled field then says it.
AP::AttributeType deduce_type(const AP& a) {
  if (a.type() != AP::UNDEFINED) return a.type();
  if (a.has_f()) return AP::FLOAT;
  if (a.has_i()) return AP::INT;
  if (a.has_s()) return AP::STRING;
  if (a.has_t()) return AP::TENSOR;
  if (a.has_g()) return AP::GRAPH;
  if (a.has_sparse_tensor()) return AP::SPARSE_TENSOR;
  if (a.has_tp()) return AP::TYPE_PROTO;
  if (a.floats_size()) return AP::FLOATS;
  if (a.ints_size()) return AP::INTS;
  if (a.strings_size()) return AP::STRINGS;
  if (a.tensors_size()) return AP::TENSORS;
  if (a.graphs_size()) return AP::GRAPHS;
  if (a.sparse_tensors_size()) return AP::SPARSE_TENSORS;
  if (a.type_protos_size()) return AP::TYPE_PROTOS;
  return AP::UNDEFINED;
}

const char* kind_name(AP::AttributeType t) {
  switch (t) {
    case AP::GRAPH: return "GRAPH";
    case AP::GRAPHS: return "GRAPHS";
    case AP::SPARSE_TENSOR: return "SPARSE_TENSOR";
    case AP::SPARSE_TENSORS: return "SPARSE_TENSORS";
    case AP::TYPE_PROTO: return "TYPE_PROTO";
    case AP::TYPE_PROTOS: return "TYPE_PROTOS";
    case AP::TENSORS: return "TENSORS";
    default: return "UNDEFINED";
  }
}
}  // namespace

Attribute attribute_from_proto(const AP& a, const TensorReadContext& ctx) {
  const std::string what = "attribute '" + a.name() + "'";
  VDRT_CHECK(!a.has_ref_attr_name(), what + " refers to a function attribute, which only functions may do");
  const AP::AttributeType kind = deduce_type(a);
  switch (kind) {
    case AP::FLOAT: return a.f();
    case AP::INT: return static_cast<int64_t>(a.i());
    case AP::STRING: return a.s();
    case AP::TENSOR: return tensor_from_proto(a.t(), what, ctx);
    case AP::FLOATS: return std::vector<float>(a.floats().begin(), a.floats().end());
    case AP::INTS: return std::vector<int64_t>(a.ints().begin(), a.ints().end());
    case AP::STRINGS: return std::vector<std::string>(a.strings().begin(), a.strings().end());
    case AP::UNDEFINED: throw Error(what + " has no type and no value");
    default: break;
  }
  std::string hint =
      (kind == AP::GRAPH || kind == AP::GRAPHS) ? " (subgraphs such as If/Loop/Scan bodies are not supported)" : "";
  throw Error("unsupported attribute kind " + std::string(kind_name(kind)) + " of " + what + hint);
}

void attribute_to_proto(const std::string& name, const Attribute& value, AP* proto) {
  proto->set_name(name);
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, int64_t>) {
          proto->set_type(AP::INT);
          proto->set_i(v);
        } else if constexpr (std::is_same_v<T, float>) {
          proto->set_type(AP::FLOAT);
          proto->set_f(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          proto->set_type(AP::STRING);
          proto->set_s(v);
        } else if constexpr (std::is_same_v<T, Tensor>) {
          proto->set_type(AP::TENSOR);
          tensor_to_proto(v, "", proto->mutable_t());
        } else if constexpr (std::is_same_v<T, std::vector<int64_t>>) {
          proto->set_type(AP::INTS);
          for (int64_t x : v) proto->add_ints(x);
        } else if constexpr (std::is_same_v<T, std::vector<float>>) {
          proto->set_type(AP::FLOATS);
          for (float x : v) proto->add_floats(x);
        } else {
          static_assert(std::is_same_v<T, std::vector<std::string>>);
          proto->set_type(AP::STRINGS);
          for (const auto& x : v) proto->add_strings(x);
        }
      },
      value);
}

}  // namespace vdrt::onnx_io
