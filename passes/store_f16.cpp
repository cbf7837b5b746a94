// store-f16: keeps chosen float32 graph inputs and outputs in float16 at the
// graph's interface, the computation inside staying float32:
//
//   input  x (f32)            ->  x (f16) -> Cast(to f32) -> what read x
//   output y (f32) from node P ->  P -> y/f32 -> Cast(to f16) -> y (f16)
//
// The names stay; only their types change. The rollout applies it to the
// KV cache's past_key.N / past_value.N inputs and present_* outputs where the
// device keeps KV caches in f16 (Backend::half_kv_pools), so the cache it
// carries from call to call takes half the bytes: the values are those the
// f16 attention kernels round them to anyway. Inputs and outputs are picked
// by name patterns (name_glob.h); a float32 name matching none is left alone,
// and so is a matched name of another type (reported through explain).
#include "graph/shape_inference.h"
#include "passes/name_glob.h"
#include "passes/pass_registry.h"
#include "passes/rewrite.h"

namespace vdrt {
namespace {

Node* add_cast(Graph& graph, Value* in, Value* out, DType to, const std::string& base) {
  Node* cast = graph.add_node("Cast", {in}, {out}, graph.unique_name(base + "/store_f16_cast"));
  cast->attrs().set("to", int64_t{to == DType::F16 ? 10 : 1});  // ONNX TensorProto FLOAT16 / FLOAT
  return cast;
}

// A new float32 value shaped like `v` that every node reading `v` reads instead.
Value* f32_twin_for_readers(Graph& graph, Value* v) {
  Value* wide = graph.value(graph.unique_name(v->name() + "/f32"));
  wide->set_dtype(DType::F32);
  wide->set_shape(v->shape());
  for (Node* user : std::vector<Node*>(v->consumers()))
    for (size_t i = 0; i < user->inputs().size(); ++i)
      if (user->input(i) == v) user->set_input(i, wide);
  return wide;
}

class StoreF16 final : public Pass {
 public:
  std::string name() const override { return "store-f16"; }
  std::string description() const override {
    return "Keeps the float32 graph inputs and outputs named by `inputs` / `outputs` (name patterns) in float16 at "
           "the interface, with a Cast after each input and before each output (e.g. a KV cache held in f16).";
  }
  std::vector<OptionSpec> option_specs() const override {
    return {{"inputs", StringList{}, "graph inputs to take as float16 (name patterns, e.g. \"past_key.*\")"},
            {"outputs", StringList{}, "graph outputs to give as float16 (name patterns)"}};
  }

  bool run(Graph& graph, PassContext& ctx) override {
    const StringList& inputs = options().get_strings("inputs");
    const StringList& outputs = options().get_strings("outputs");
    infer_shapes(graph);  // the types this pass reads and writes
    bool changed = false;
    for (Value* x : std::vector<Value*>(graph.inputs())) {
      if (!first_match(inputs, {x->name()})) continue;
      if (x->dtype() != DType::F32) {
        ctx.explain("input '" + x->name() + "' is " + dtype_name(x->dtype()) + ", not float32; left as it is");
        continue;
      }
      const Node* first_user = first_consumer(graph, x);
      Value* wide = f32_twin_for_readers(graph, x);
      // Converted where first read, not at the start: a model's 30 layers of
      // cache would otherwise all be held in f32 at once.
      graph.place_before(add_cast(graph, x, wide, DType::F32, x->name()), first_user);
      x->set_dtype(DType::F16);
      ctx.count("inputs");
      changed = true;
    }
    for (Value* y : std::vector<Value*>(graph.outputs())) {
      if (!first_match(outputs, {y->name()})) continue;
      Node* producer = y->producer();
      if (y->dtype() != DType::F32 || !producer) {
        ctx.explain("output '" + y->name() + "' is " + dtype_name(y->dtype()) +
                    (producer ? "" : " with no producing node") + "; left as it is");
        continue;
      }
      Value* wide = f32_twin_for_readers(graph, y);
      for (size_t i = 0; i < producer->outputs().size(); ++i)
        if (producer->output(i) == y) graph.replace_output(producer, i, wide);
      graph.place_before(add_cast(graph, wide, y, DType::F16, y->name()), node_after(graph, producer));
      y->set_dtype(DType::F16);
      ctx.count("outputs");
      changed = true;
    }
    return changed;
  }

 private:
  // The first node in the current order reading `v` (nullptr: none).
  static const Node* first_consumer(const Graph& graph, const Value* v) {
    for (const auto& n : graph.nodes())
      for (const Value* in : n->inputs())
        if (in == v) return n.get();
    return nullptr;
  }
  static const Node* node_after(const Graph& graph, const Node* n) {
    const auto& nodes = graph.nodes();
    for (size_t i = 0; i + 1 < nodes.size(); ++i)
      if (nodes[i].get() == n) return nodes[i + 1].get();
    return nullptr;
  }
};

VDRT_REGISTER_PASS(StoreF16);

}  // namespace
}  // namespace vdrt
