#include "runtime/session.h"

#include <chrono>
#include <cstring>
#include <set>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "backends/cpu/cpu_backend.h"
#include "backends/registry.h"
#include "graph/op_registry.h"
#include "graph/shape_inference.h"
#include "importer/onnx_import.h"
#include "runtime/host_eval.h"
#include "runtime/memory_plan.h"
#include "passes/pass_registry.h"
#include "runtime/pass_pipeline.h"

namespace vdrt {

// One run's inputs, each a host tensor or a device array, by graph input
// index. It points into the caller's tensors: making it allocates nothing.
struct InputRef {
  DType dtype = DType::Undefined;
  const std::vector<int64_t>* dims = nullptr;  // nullptr: not bound
  const Tensor* host = nullptr;
  const DeviceArray* device = nullptr;
  bool bound() const { return dims != nullptr; }
  int64_t numel() const { return vdrt::numel(*dims); }
};
struct Feed {
  std::vector<InputRef> inputs;          // per Graph::inputs() index
  const std::string* unknown = nullptr;  // a name the model has no input for
};

struct ValueState {
  DType dtype = DType::Undefined;
  std::vector<int64_t> dims;
  std::optional<Tensor> host;  // contents held on the host (bound inputs, constants, host results)
  bool known = false;          // host contents may drive shape inference and host evaluation
};

namespace {

// Integer graph inputs up to this size are known on the host while shapes
// are inferred (frame offsets, shape arguments); float inputs only when a node
// reads them as a shape argument, so activations always run on the device.
constexpr int64_t kHostInputLimit = 4096;
// Nodes whose inputs are all known on the host and whose outputs stay this
// small are computed on the host once per run (shape arithmetic, RoPE tables).
constexpr int64_t kHostEvalLimit = 1 << 16;



using SlotKey = std::pair<const Value*, int>;  // value, backend index

struct SlotKeyHash {
  size_t operator()(const SlotKey& k) const { return std::hash<const void*>()(k.first) * 31 + k.second; }
};

struct Slot {
  BufferRequest request;
  size_t offset = 0;
  int home_backend = -1;  // where the value is computed; -1: uploaded from the host
  bool filled = false;
  bool alias = false;     // shares the bytes of a view node's input (offset copied from it)
};

// How a node's input or output is found on each run, resolved once per plan.
struct TensorRef {
  const Value* value = nullptr;  // nullptr: absent optional input
  const ValueState* state = nullptr;
  Slot* slot = nullptr;          // nullptr for constants
  int input_index = -1;          // index among the graph inputs, or -1
  Buffer* fixed = nullptr;       // a constant's or a host value's buffer, once made
};

// Ops whose output is their input's bytes under another shape.
bool is_view_op(const Node& n) {
  if (!n.domain().empty()) return false;
  const std::string& t = n.op_type();
  return t == "Reshape" || t == "Squeeze" || t == "Unsqueeze" || t == "Flatten" || t == "Identity";
}

// 64-bit FNV-1a, for plan keys.
struct Hasher {
  uint64_t h = 1469598103934665603ull;
  void bytes(const void* p, size_t n) {
    const auto* c = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ c[i]) * 1099511628211ull;
  }
  template <typename T>
  void add(const T& x) { bytes(&x, sizeof x); }
};

}  // namespace

namespace {
std::set<const Value*> shape_argument_inputs(const Graph& g);
}  // namespace

struct Session::Impl {
  std::vector<Backend*> backends;           // [0] primary, [1] CPU fallback if distinct
  std::unique_ptr<Backend> cpu_fallback;
  std::vector<int> node_backend;            // per node index
  std::map<SlotKey, std::unique_ptr<Buffer>> constants;
  std::unordered_map<std::string, std::unique_ptr<CompiledOp>> compiled;
  std::vector<std::unique_ptr<Buffer>> arenas;
  size_t constant_bytes = 0;
  std::set<const Value*> shape_args;  // graph inputs read as shape arguments
  std::vector<std::shared_ptr<OpState>> node_state;  // per node index; see bind_state
  std::unordered_map<std::string, size_t> input_index;  // graph input name -> index
  bool alias_views = true;
  bool cpu_fallback_allowed = true;
  int threads = 0;
  bool profiling = false;
  NodeProfile profile;
  // Reused by every run (runs are not concurrent): the feed, and each node's
  // tensors, whose dims keep their capacity from run to run and plan to plan.
  Feed feed;
  std::vector<std::vector<DeviceTensor>> ins, outs;  // per node

  // The index of the CPU backend: the primary, or the fallback, made the
  // first time a node of a GPU session needs it (at construction, or when a
  // bound state moves a node).
  int cpu_backend() {
    if (backends[0]->info().backend == "cpu") return 0;
    if (!cpu_fallback) {
      cpu_fallback = make_cpu_backend(threads);
      backends.push_back(cpu_fallback.get());
    }
    return 1;
  }

  Buffer* constant_buffer(const Value* v, int b) {
    auto& buf = constants[{v, b}];
    const Tensor& t = v->constant();
    if (!buf) {
      buf = backends[b]->allocate(std::max<size_t>(t.nbytes(), 1));
      backends[b]->upload(*buf, 0, t.raw(), t.nbytes());
      constant_bytes += t.nbytes();
    }
    return buf.get();
  }
};

namespace {

// SessionOptions::kv_cache_inputs / _outputs on a backend that keeps KV
// caches in f16: the graph takes and gives them as float16 (store-f16).
void keep_kv_cache_in_f16(Graph& graph, const SessionOptions& options) {
  std::unique_ptr<Pass> pass = PassRegistry::instance().create("store-f16");
  PassOptions po;
  po.set("inputs", StringList(options.kv_cache_inputs));
  po.set("outputs", StringList(options.kv_cache_outputs));
  pass->configure(po);
  PassContext ctx;
  pass->run(graph, ctx);
  const auto& c = ctx.counters();
  spdlog::debug("{}: KV cache kept in f16 ({} inputs, {} outputs)", graph.source_path,
                c.count("inputs") ? c.at("inputs") : 0, c.count("outputs") ? c.at("outputs") : 0);
}

}  // namespace

Session::Session(std::unique_ptr<Graph> graph, const SessionOptions& options)
    : graph_(std::move(graph)), impl_(std::make_unique<Impl>()) {
  // The device first: the pipeline optimises for it (passes that write ops
  // only some devices run ask whether this one does).
  backend_ = BackendRegistry::instance().create(options.device, BackendOptions{options.threads, options.precision});
  const DeviceRuns device_runs = [this](const Node& n) { return backend_->supports(n); };
  if (!options.pass_pipeline.empty()) run_pass_pipeline_file(*graph_, options.pass_pipeline, device_runs);
  else if (!options.pass_pipeline_text.empty())
    run_pass_pipeline_text(*graph_, options.pass_pipeline_text, options.pass_pipeline_label, device_runs);
  if (options.half_kv_cache && backend_->half_kv_pools() &&
      (!options.kv_cache_inputs.empty() || !options.kv_cache_outputs.empty()))
    keep_kv_cache_in_f16(*graph_, options);
  infer_shapes(*graph_);
  impl_->node_state.resize(graph_->nodes().size());
  for (const auto& node : graph_->nodes()) {
    impl_->ins.emplace_back(node->inputs().size());
    impl_->outs.emplace_back(node->outputs().size());
  }
  impl_->backends.push_back(backend_.get());
  impl_->threads = options.threads;
  const bool primary_is_cpu = backend_->info().backend == "cpu";
  for (const auto& node : graph_->nodes()) {
    ErrorSite site{graph_->source_path, node->name(), node->qualified_op()};
    if (backend_->supports(*node)) {
      impl_->node_backend.push_back(0);
      continue;
    }
    VDRT_CHECK(options.cpu_fallback || primary_is_cpu,
               "backend " + backend_->info().backend + " cannot run this node and CPU fallback is off", site);
    const int cpu_index = impl_->cpu_backend();
    VDRT_CHECK(impl_->backends[cpu_index]->supports(*node),
               "unsupported op: no backend can run " + node->qualified_op() + " with these attributes and types",
               site);
    impl_->node_backend.push_back(cpu_index);
  }
  impl_->shape_args = shape_argument_inputs(*graph_);
  for (size_t k = 0; k < graph_->inputs().size(); ++k) impl_->input_index[graph_->inputs()[k]->name()] = k;
  impl_->alias_views = options.alias_views;
  impl_->cpu_fallback_allowed = options.cpu_fallback;
  spdlog::debug("session: {} nodes on {}", graph_->nodes().size(), backend_->info().name);
}

Session::~Session() {
  // Plans and the impl hold device buffers (host values, constants, arenas):
  // they go before the backend that owns their memory.
  plans_.clear();
  impl_.reset();
}

std::unique_ptr<Session> Session::load(const std::string& model_path, const SessionOptions& options) {
  return std::make_unique<Session>(load_onnx(model_path), options);
}

std::vector<const Node*> Session::state_slots() const {
  std::vector<const Node*> out;
  for (const auto& n : graph_->nodes()) {
    const OpSchema* schema = OpRegistry::instance().find(n->domain(), n->op_type());
    if (schema && schema->runtime_state) out.push_back(n.get());
  }
  return out;
}

void Session::bind_state(const Node& node, std::shared_ptr<OpState> state) {
  const auto& nodes = graph_->nodes();
  for (size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i].get() == &node) {
      const OpSchema* schema = OpRegistry::instance().find(node.domain(), node.op_type());
      VDRT_CHECK(schema && schema->runtime_state, "this op reads no runtime state",
                 {graph_->source_path, node.name(), node.qualified_op()});
      impl_->node_state[i] = std::move(state);
      place_stateful(i);
      return;
    }
  throw Error("bind_state: the node is not in this session's graph", {graph_->source_path, node.name()});
}

// A node whose bound state the primary backend cannot read (a KV cache held
// on the host, bound to a node of a GPU session) runs on the CPU; it goes
// back to the primary when the state is one the primary reads, or none.
void Session::place_stateful(size_t i) {
  const Node& node = *graph_->nodes()[i];
  const OpState* st = impl_->node_state[i].get();
  const bool primary = backend_->supports(node) && (!st || backend_->accepts_state(node, *st));
  if (primary && impl_->node_backend[i] == 0) return;
  if (!primary && impl_->backends[impl_->node_backend[i]]->info().backend == "cpu") return;
  VDRT_CHECK(primary || impl_->cpu_fallback_allowed,
             "backend " + backend_->info().backend + " cannot read the state bound to this node and CPU fallback is off",
             {graph_->source_path, node.name(), node.qualified_op()});
  impl_->node_backend[i] = primary ? 0 : impl_->cpu_backend();
  plans_.clear();  // plans place values by backend
}

void Session::set_profiling(bool on) {
  impl_->profiling = on;
  if (on) {
    impl_->profile = NodeProfile{};
    impl_->profile.seconds.assign(graph_->nodes().size(), 0.0);
    impl_->profile.calls.assign(graph_->nodes().size(), 0);
  }
}

const NodeProfile& Session::profile() const { return impl_->profile; }

std::vector<std::string> Session::placement() const {
  std::vector<std::string> out;
  for (int b : impl_->node_backend) out.push_back(impl_->backends[b]->info().backend);
  return out;
}

namespace {

// Graph inputs some node reads as a shape argument (Reshape's shape, Resize's
// scales, Range's bounds...): their contents must be known on the host.
std::set<const Value*> shape_argument_inputs(const Graph& g) {
  std::set<const Value*> out;
  for (const auto& node : g.nodes()) {
    const OpSchema* schema = OpRegistry::instance().find(node->domain(), node->op_type());
    if (!schema) continue;
    for (int i : schema->value_inputs)
      if (Value* v = node->input(i); v && g.is_graph_input(v)) out.insert(v);
  }
  return out;
}

void bind_inputs(const Graph& g, const Feed& feed, const std::set<const Value*>& shape_args,
                 std::unordered_map<const Value*, ValueState>& state) {
  std::map<std::string, int64_t> symbols;
  for (size_t index = 0; index < g.inputs().size(); ++index) {
    const Value* v = g.inputs()[index];
    const InputRef& t = feed.inputs[index];
    VDRT_CHECK(t.bound(), "input '" + v->name() + "' is not bound", {g.source_path});
    VDRT_CHECK(v->dtype() == DType::Undefined || t.dtype == v->dtype(),
               "input '" + v->name() + "' must be " + dtype_name(v->dtype()) + ", got " + dtype_name(t.dtype),
               {g.source_path});
    const Shape& s = v->shape();
    const std::vector<int64_t>& dims = *t.dims;
    if (s.rank_known()) {
      VDRT_CHECK(s.rank() == dims.size(), "input '" + v->name() + "' must have shape " + s.str() + ", got " +
                                                  dims_str(dims), {g.source_path});
      for (size_t i = 0; i < s.rank(); ++i) {
        const Dim& d = s[i];
        bool ok = true;
        if (d.known()) ok = d.value() == dims[i];
        else if (d.is_symbol()) ok = symbols.emplace(d.name(), dims[i]).first->second == dims[i];
        VDRT_CHECK(ok, "input '" + v->name() + "' has shape " + dims_str(dims) + " which does not fit " +
                           s.str() + (d.is_symbol() ? " (dimension '" + d.name() + "' is bound differently by another input)" : ""),
                   {g.source_path});
      }
    }
    bool known = t.numel() <= kHostInputLimit && (!is_float(t.dtype) || shape_args.count(v));
    if (t.device) {
      VDRT_CHECK(!shape_args.count(v), "input '" + v->name() + "' is read as a shape argument: bind it as a host tensor",
                 {g.source_path});
      // Small integer inputs drive shapes on the host: they cannot stay on the device.
      VDRT_CHECK(!known, "input '" + v->name() + "' is a small integer tensor the host needs (frame offsets, shapes): bind it as a host tensor",
                 {g.source_path});
      state[v] = ValueState{t.dtype, dims, std::nullopt, false};
    } else {
      state[v] = ValueState{t.dtype, dims, *t.host, known};
    }
  }
  VDRT_CHECK(!feed.unknown, "the model has no input named '" + (feed.unknown ? *feed.unknown : "") + "'",
             {g.source_path});
}

std::string compile_key_part(const TensorDesc& d, const Tensor* known) {
  std::string key = "|";
  key += dtype_name(d.dtype);
  for (int64_t x : d.dims) key += "," + std::to_string(x);
  if (known && !is_float(known->dtype()))
    for (int64_t x : known->as_int64()) key += ":" + std::to_string(x);
  else if (known)
    for (double x : known->as_double()) key += ":" + std::to_string(x);
  return key;
}

}  // namespace

// Everything about a run that depends only on input shapes (and the values of
// small shape-driving inputs): concrete shapes, host-computed values, which
// nodes run on the host, and where every value lives in the arenas.
struct Session::Plan {
  std::unordered_map<const Value*, ValueState> state;
  std::vector<bool> on_host;
  std::unordered_map<SlotKey, Slot, SlotKeyHash> slots;
  std::vector<size_t> arena_bytes;  // per backend
  std::vector<CompiledOp*> compiled;  // per node, filled on first execution
  // Values computed on the host (RoPE tables, masks...) depend only on the
  // plan: uploaded once per backend on the plan's first run, then reused.
  std::map<SlotKey, std::unique_ptr<Buffer>> host_values;
  // Node i's inputs then outputs are refs[ref_begin[i]...]: one array, so
  // that a plan made per chunk (frame offsets change) is few allocations.
  std::vector<TensorRef> refs;
  std::vector<size_t> ref_begin;  // per node
  std::vector<bool> is_view;  // per node: runs as its input's bytes, nothing to execute
  RunStats stats;

  // The inputs this plan was made for (see Session::plan_for): dtype, dims,
  // whether on the device, and the contents of those that drive shapes.
  bool cacheable = false;
  uint64_t key = 0;
  struct InputKey {
    DType dtype;
    std::vector<int64_t> dims;
    bool device;
    std::optional<Tensor> contents;
  };
  std::vector<InputKey> inputs;

  int home_of(const Value* v, int n_backends) const {
    for (int k = 0; k < n_backends; ++k)
      if (auto it = slots.find({v, k}); it != slots.end() && it->second.home_backend == k) return k;
    return -1;
  }
};

std::vector<std::string> Session::last_placement() const {
  std::vector<std::string> out = placement();
  if (plans_.empty()) return out;
  const Plan& plan = *plans_.front();
  for (size_t i = 0; i < out.size(); ++i)
    if (plan.on_host[i]) out[i] = "host";
  return out;
}

namespace {

// Whether input `index`'s contents shape the plan: small host tensors that
// are integers or read as shape arguments (bind_inputs makes them known).
bool contents_in_key(const InputRef& r, bool shape_arg) {
  return r.host && r.numel() <= kHostInputLimit && (!is_float(r.dtype) || shape_arg);
}

}  // namespace

// A plan is found by a hash of every input's dtype, dims, place and (for
// those that drive shapes) contents, then checked against the inputs it was
// made for, so that a collision cannot pick a wrong plan. Neither allocates.
Session::Plan& Session::plan_for(const Feed& feed) {
  const Graph& g = *graph_;
  bool cacheable = !feed.unknown;
  Hasher h;
  for (size_t k = 0; k < feed.inputs.size() && cacheable; ++k) {
    const InputRef& r = feed.inputs[k];
    if (!r.bound()) { cacheable = false; break; }  // bind_inputs reports it
    h.add(r.dtype);
    h.add(r.dims->size());
    h.bytes(r.dims->data(), r.dims->size() * sizeof(int64_t));
    h.add(r.device != nullptr);
    if (contents_in_key(r, impl_->shape_args.count(g.inputs()[k]) > 0)) h.bytes(r.host->raw(), r.host->nbytes());
  }
  auto matches = [&](const Plan& p) {
    if (!p.cacheable || p.key != h.h) return false;
    for (size_t k = 0; k < feed.inputs.size(); ++k) {
      const InputRef& r = feed.inputs[k];
      const Plan::InputKey& want = p.inputs[k];
      if (r.dtype != want.dtype || *r.dims != want.dims || (r.device != nullptr) != want.device) return false;
      if (want.contents && (!r.host || std::memcmp(r.host->raw(), want.contents->raw(), want.contents->nbytes()) != 0))
        return false;
    }
    return true;
  };
  if (cacheable)
    for (auto it = plans_.begin(); it != plans_.end(); ++it)
      if (matches(**it)) {
        plans_.splice(plans_.begin(), plans_, it);  // most recently used first
        return *plans_.front();
      }
  auto plan = build_plan(feed);
  plan->cacheable = cacheable;  // if not, it is kept only for this run
  plan->key = h.h;
  for (size_t k = 0; k < feed.inputs.size() && cacheable; ++k) {
    const InputRef& r = feed.inputs[k];
    Plan::InputKey key{r.dtype, *r.dims, r.device != nullptr, std::nullopt};
    if (contents_in_key(r, impl_->shape_args.count(g.inputs()[k]) > 0)) key.contents = r.host->clone();
    plan->inputs.push_back(std::move(key));
  }
  plans_.push_front(std::move(plan));
  constexpr size_t kMaxPlans = 8;
  while (plans_.size() > kMaxPlans) plans_.pop_back();
  return *plans_.front();
}

std::unique_ptr<Session::Plan> Session::build_plan(const Feed& feed) {
  const Graph& g = *graph_;
  const auto& nodes = g.nodes();
  const int64_t n_nodes = static_cast<int64_t>(nodes.size());
  auto plan = std::make_unique<Plan>();
  auto& state = plan->state;
  bind_inputs(g, feed, impl_->shape_args, state);
  for (const Value* v : g.values())
    if (v->is_constant()) state[v] = ValueState{v->dtype(), v->constant().dims(), v->constant(), true};

  // 1. Concrete shapes, and host values of small derived tensors.
  auto& on_host = plan->on_host;
  on_host.assign(nodes.size(), false);
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& node = *nodes[i];
    int64_t opset = g.opset(node.domain());
    std::vector<ValueInfo> infos;
    bool all_known = true;
    std::vector<const Tensor*> host_inputs;
    for (Value* v : node.inputs()) {
      if (!v) { infos.emplace_back(); host_inputs.push_back(nullptr); continue; }
      auto it = state.find(v);
      VDRT_CHECK(it != state.end(), "input '" + v->name() + "' has no value", {g.source_path, node.name(), node.qualified_op()});
      const ValueState& s = it->second;
      const Tensor* known = s.known ? &*s.host : nullptr;
      infos.push_back(ValueInfo{s.dtype, Shape::from(s.dims), known, true});
      host_inputs.push_back(known);
      all_known = all_known && known;
    }
    std::vector<ValueInfo> outs = infer_node(node, infos, opset, g.source_path);
    int64_t out_elems = 0;
    for (size_t k = 0; k < outs.size(); ++k) {
      if (!node.output(k) || !outs[k].present) continue;
      VDRT_CHECK(outs[k].shape.fully_known(), "could not infer a concrete output shape",
                 {g.source_path, node.name(), node.qualified_op()});
      state[node.output(k)] = ValueState{outs[k].dtype, outs[k].shape.concrete(), std::nullopt};
      out_elems += numel(outs[k].shape.concrete());
    }
    bool shape_only = node.domain().empty() && (node.op_type() == "Shape" || node.op_type() == "Size");
    bool stateful = impl_->node_state[i] != nullptr;
    if (!stateful && (all_known || shape_only) && out_elems <= kHostEvalLimit && host_can_evaluate(node)) {
      std::vector<Tensor> computed;
      if (shape_only && !all_known) {
        // Shape and Size read only the input's shape, which is known here.
        const std::vector<int64_t>& d = state[node.input(0)].dims;
        int64_t start = node.attrs().get_int("start", 0), end = node.attrs().get_int("end", static_cast<int64_t>(d.size()));
        if (node.op_type() == "Size") {
          computed.push_back(Tensor::scalar<int64_t>(numel(d)));
        } else {
          int64_t r = static_cast<int64_t>(d.size());
          start = std::clamp<int64_t>(start < 0 ? start + r : start, 0, r);
          end = std::clamp<int64_t>(end < 0 ? end + r : end, 0, r);
          std::vector<int64_t> part(d.begin() + start, d.begin() + std::max(start, end));
          computed.push_back(Tensor::from_vector<int64_t>({static_cast<int64_t>(part.size())}, part));
        }
      } else {
        computed = evaluate_on_host(node, opset, host_inputs);
      }
      for (size_t k = 0; k < computed.size(); ++k)
        if (node.output(k) && computed[k].defined()) {
          state[node.output(k)].host = std::move(computed[k]);
          state[node.output(k)].known = true;
        }
      on_host[i] = true;
    }
  }
  // Inputs that change from run to run are read from each run's feed.
  for (const Value* v : g.inputs())
    if (!state[v].known) state[v].host.reset();

  // 2. Liveness of every device-resident value, per backend.
  const int n_backends = static_cast<int>(impl_->backends.size());
  auto& slots = plan->slots;
  auto touch = [&](const Value* v, int b, int64_t step) {
    auto [it, fresh] = slots.try_emplace({v, b});
    Slot& s = it->second;
    if (fresh) {
      const ValueState& st = state[v];
      s.request = BufferRequest{static_cast<size_t>(numel(st.dims)) * dtype_size(st.dtype), step, step};
    }
    s.request.first = std::min(s.request.first, step);
    s.request.last = std::max(s.request.last, step);
    return &s;
  };
  for (int64_t i = 0; i < n_nodes; ++i) {
    if (on_host[i]) continue;
    int b = impl_->node_backend[i];
    for (Value* v : nodes[i]->outputs())
      if (v) touch(v, b, i)->home_backend = b;
  }
  for (int64_t i = 0; i < n_nodes; ++i) {
    if (on_host[i]) continue;
    int b = impl_->node_backend[i];
    for (Value* v : nodes[i]->inputs()) {
      if (!v || v->is_constant()) continue;
      touch(v, b, i);
      // A copy from another backend reads the home slot, which must live until then.
      for (int hb = 0; hb < n_backends; ++hb)
        if (hb != b)
          if (auto it = slots.find({v, hb}); it != slots.end() && it->second.home_backend == hb) touch(v, hb, i);
    }
  }
  for (const Value* v : g.outputs())
    for (int b = 0; b < n_backends; ++b)
      if (auto it = slots.find({v, b}); it != slots.end() && it->second.home_backend == b) it->second.request.last = n_nodes;

  // 3. Views: a Reshape (Squeeze, Unsqueeze, Flatten, Identity) whose input
  // was computed in the same arena (on any backend) leaves its output in the
  // input's bytes. Every value is written once, by its producer, and no
  // kernel writes its inputs, so the two share one buffer that lives from the
  // input's producer to the last reader of either; the node runs nothing.
  // Graph inputs (read from the caller or uploaded), constants and values
  // computed on the host or on another backend keep their own buffers.
  plan->is_view.assign(nodes.size(), false);
  std::unordered_map<Slot*, Slot*> root;  // aliased slot -> the slot that owns the bytes
  for (int64_t i = 0; i < n_nodes && impl_->alias_views; ++i) {
    const Node& node = *nodes[i];
    int b = impl_->node_backend[i];
    if (on_host[i] || !is_view_op(node)) continue;
    const Value* x = node.input(0);
    const Value* y = node.outputs().size() == 1 ? node.output(0) : nullptr;
    if (!x || !y || x->is_constant() || g.is_graph_input(x)) continue;
    auto xs = slots.find({x, b}), ys = slots.find({y, b});
    if (xs == slots.end() || ys == slots.end() || xs->second.home_backend != b ||
        xs->second.request.bytes != ys->second.request.bytes)
      continue;
    Slot* owner = &xs->second;
    if (auto r = root.find(owner); r != root.end()) owner = r->second;
    owner->request.first = std::min(owner->request.first, ys->second.request.first);
    owner->request.last = std::max(owner->request.last, ys->second.request.last);
    ys->second.alias = true;
    root[&ys->second] = owner;
    plan->is_view[i] = true;
  }

  std::vector<std::vector<SlotKey>> keys(n_backends);
  for (auto& [k, s] : slots)
    if (!s.alias) keys[k.second].push_back(k);
  plan->arena_bytes.assign(n_backends, 0);
  for (int b = 0; b < n_backends; ++b) {
    std::sort(keys[b].begin(), keys[b].end(), [&](const SlotKey& x, const SlotKey& y) { return x.first->name() < y.first->name(); });
    std::vector<BufferRequest> reqs;
    for (const SlotKey& k : keys[b]) reqs.push_back(slots[k].request);
    MemoryPlan mp = plan_memory(reqs);
    for (size_t j = 0; j < keys[b].size(); ++j) slots[keys[b][j]].offset = mp.offsets[j];
    plan->arena_bytes[b] = mp.arena_bytes;
    plan->stats.arena_bytes += mp.arena_bytes;
    plan->stats.naive_bytes += mp.naive_bytes;
  }
  for (auto& [aliased, owner] : root) aliased->offset = owner->offset;

  // 4. Where each node finds its tensors on every run.
  plan->compiled.assign(nodes.size(), nullptr);
  plan->ref_begin.assign(nodes.size(), 0);
  auto ref = [&](const Value* v, int b) {
    TensorRef& r = plan->refs.emplace_back();
    if (!v) return;
    r.value = v;
    r.state = &state.at(v);
    if (v->is_constant()) return;
    r.slot = &slots.at({v, b});
    if (auto it = impl_->input_index.find(v->name()); it != impl_->input_index.end() && g.is_graph_input(v))
      r.input_index = static_cast<int>(it->second);
  };
  for (int64_t i = 0; i < n_nodes; ++i) {
    plan->ref_begin[i] = plan->refs.size();
    if (on_host[i] || plan->is_view[i]) continue;
    int b = impl_->node_backend[i];
    for (const Value* v : nodes[i]->inputs()) ref(v, b);
    for (const Value* v : nodes[i]->outputs()) ref(v, b);
  }
  return plan;
}

namespace {

// Points `feed` at the caller's tensors; its vector keeps its capacity from
// run to run.
void start_feed(Feed& feed, size_t n_inputs) {
  feed.inputs.assign(n_inputs, InputRef{});
  feed.unknown = nullptr;
}

}  // namespace

TensorMap Session::run(const TensorMap& inputs) {
  Feed& feed = impl_->feed;
  start_feed(feed, graph_->inputs().size());
  for (const auto& [name, t] : inputs) {
    auto it = impl_->input_index.find(name);
    if (it == impl_->input_index.end()) { feed.unknown = &name; continue; }
    feed.inputs[it->second] = InputRef{t.dtype(), &t.dims(), &t, nullptr};
  }
  return run_feed(feed, {}).host_outputs;
}

IoResult Session::run(const IoBinding& binding) {
  Feed& feed = impl_->feed;
  start_feed(feed, graph_->inputs().size());
  for (const auto& [name, t] : binding.host_inputs) {
    auto it = impl_->input_index.find(name);
    if (it == impl_->input_index.end()) { feed.unknown = &name; continue; }
    feed.inputs[it->second] = InputRef{t.dtype(), &t.dims(), &t, nullptr};
  }
  for (const auto& [name, a] : binding.device_inputs) {
    VDRT_CHECK(a.defined(), "device input '" + name + "' holds no buffer", {graph_->source_path});
    VDRT_CHECK(&a.buffer->backend() == backend_.get(),
               "device input '" + name + "' lives on another backend than this session's", {graph_->source_path});
    auto it = impl_->input_index.find(name);
    if (it == impl_->input_index.end()) { feed.unknown = &name; continue; }
    VDRT_CHECK(!feed.inputs[it->second].bound(), "input '" + name + "' is bound twice", {graph_->source_path});
    feed.inputs[it->second] = InputRef{a.desc.dtype, &a.desc.dims, nullptr, &a};
  }
  return run_feed(feed, binding.device_outputs);
}

DeviceArray Session::to_device(const Tensor& t) {
  DeviceArray a{std::shared_ptr<Buffer>(backend_->allocate(std::max<size_t>(t.nbytes(), 1))), TensorDesc{t.dtype(), t.dims()}};
  backend_->upload(*a.buffer, 0, t.raw(), t.nbytes());
  return a;
}

Tensor Session::to_host(const DeviceArray& a) {
  Tensor t(a.desc.dtype, a.desc.dims);
  backend_->download(*a.buffer, 0, t.raw(), t.nbytes());
  return t;
}

IoResult Session::run_feed(const Feed& feed, const std::set<std::string>& device_outputs) {
  auto t0 = std::chrono::steady_clock::now();
  const Graph& g = *graph_;
  const auto& nodes = g.nodes();
  const int64_t n_nodes = static_cast<int64_t>(nodes.size());
  const int n_backends = static_cast<int>(impl_->backends.size());
  Plan& plan = plan_for(feed);
  for (const std::string& name : device_outputs) {
    const Value* v = g.find_value(name);
    VDRT_CHECK(v && g.is_graph_output(v), "'" + name + "' is not an output of the model", {g.source_path});
  }
  auto& state = plan.state;
  auto& slots = plan.slots;
  for (auto& [_, s] : slots) s.filled = false;
  size_t host_uploads = 0, cross_copies = 0, on_fallback = 0;
  for (int b = 0; b < n_backends; ++b) {
    if (impl_->arenas.size() <= static_cast<size_t>(b)) impl_->arenas.resize(b + 1);
    auto& arena = impl_->arenas[b];
    size_t need = std::max<size_t>(plan.arena_bytes[b], 64);
    if (!arena || arena->size() < need) {
      arena.reset();
      arena = impl_->backends[b]->allocate(need);
    }
  }

  // Places tensor `t` (whose shape the plan set) for a node on backend b,
  // uploading or copying its contents there first when they live elsewhere.
  auto place = [&](TensorRef& r, int b, DeviceTensor& t) {
    const Value* v = r.value;
    if (!v) return;
    t.desc.dtype = r.state->dtype;
    t.desc.dims = r.state->dims;  // within the capacity of earlier runs: no allocation
    if (r.fixed) { t.buffer = r.fixed; t.offset = 0; return; }
    if (v->is_constant()) { t.buffer = r.fixed = impl_->constant_buffer(v, b); t.offset = 0; return; }
    Slot& s = *r.slot;
    const ValueState& st = *r.state;
    t.buffer = impl_->arenas[b].get();
    t.offset = s.offset;
    const InputRef* in_ref = r.input_index >= 0 ? &feed.inputs[r.input_index] : nullptr;
    // A device input on this backend is read in place.
    if (in_ref && in_ref->device && &in_ref->device->buffer->backend() == impl_->backends[b]) {
      t.buffer = in_ref->device->buffer.get();
      t.offset = 0;
      return;
    }
    if (!in_ref && st.host && s.home_backend != b) {
      auto& buf = plan.host_values[{v, b}];
      if (!buf) {
        buf = impl_->backends[b]->allocate(std::max<size_t>(st.host->nbytes(), 1));
        impl_->backends[b]->upload(*buf, 0, st.host->raw(), st.host->nbytes());
        ++host_uploads;
      }
      t.buffer = r.fixed = buf.get();
      t.offset = 0;
      return;
    }
    if (s.home_backend != b && !s.filled) {
      Backend& dst = *impl_->backends[b];
      const Tensor* host = in_ref ? in_ref->host : st.host ? &*st.host : nullptr;
      if (in_ref && in_ref->device) {  // a device input read by the CPU fallback
        Tensor staging(st.dtype, st.dims);
        in_ref->device->buffer->backend().download(*in_ref->device->buffer, 0, staging.raw(), staging.nbytes());
        dst.upload(*t.buffer, t.offset, staging.raw(), staging.nbytes());
        ++cross_copies;
      } else if (host) {
        dst.upload(*t.buffer, t.offset, host->raw(), host->nbytes());
        ++host_uploads;
      } else {
        ++cross_copies;
        int hb = plan.home_of(v, n_backends);
        VDRT_CHECK(hb >= 0, "value '" + v->name() + "' is read before it is computed", {g.source_path});
        Tensor staging(st.dtype, st.dims);
        impl_->backends[hb]->download(*impl_->arenas[hb], slots.at({v, hb}).offset, staging.raw(), staging.nbytes());
        dst.upload(*t.buffer, t.offset, staging.raw(), staging.nbytes());
      }
      s.filled = true;
    }
  };

  const bool profiling = impl_->profiling;
  size_t views = 0;
  for (int64_t i = 0; i < n_nodes; ++i) {
    if (plan.on_host[i]) continue;
    if (plan.is_view[i]) { ++views; continue; }
    int b = impl_->node_backend[i];
    std::vector<DeviceTensor>& ins = impl_->ins[i];
    std::vector<DeviceTensor>& outs = impl_->outs[i];
    TensorRef* refs = plan.refs.data() + plan.ref_begin[i];
    for (size_t k = 0; k < ins.size(); ++k) place(refs[k], b, ins[k]);
    for (size_t k = 0; k < outs.size(); ++k) place(refs[ins.size() + k], b, outs[k]);
    if (b != 0) ++on_fallback;
    CompiledOp*& op = plan.compiled[i];
    if (!op) op = compile(i, ins, outs, state);
    std::chrono::steady_clock::time_point start;
    if (profiling) start = std::chrono::steady_clock::now();
    try {
      if (OpState* st = impl_->node_state[i].get()) impl_->backends[b]->enqueue(*op, ins, outs, st);
      else impl_->backends[b]->enqueue(*op, ins, outs);
    } catch (const Error& e) {
      throw e.with_site({g.source_path, nodes[i]->name(), nodes[i]->qualified_op()});
    }
    if (profiling) {
      impl_->profile.seconds[i] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      ++impl_->profile.calls[i];
    }
  }
  IoResult result;
  // Outputs kept on the device are copied out of the arena (which the next
  // run reuses) in stream order, before the host waits.
  for (const std::string& name : device_outputs) {
    const Value* v = g.find_value(name);
    const ValueState& st = state.at(v);
    DeviceArray a{std::shared_ptr<Buffer>(backend_->allocate(std::max<size_t>(numel(st.dims) * dtype_size(st.dtype), 1))),
                  TensorDesc{st.dtype, st.dims}};
    size_t bytes = a.desc.nbytes();
    int hb = plan.home_of(v, n_backends);
    const InputRef* in_ref = g.is_graph_input(v) ? &feed.inputs[impl_->input_index.at(name)] : nullptr;
    if (in_ref && in_ref->device) {
      backend_->copy(*in_ref->device->buffer, 0, *a.buffer, 0, bytes);
    } else if (hb == 0) {
      backend_->copy(*impl_->arenas[0], slots.at({v, 0}).offset, *a.buffer, 0, bytes);
    } else {  // computed on the host or by the CPU fallback
      Tensor host(st.dtype, st.dims);
      if (st.known) host = *st.host;
      else if (in_ref) host = *in_ref->host;
      else impl_->backends[hb]->download(*impl_->arenas[hb], slots.at({v, hb}).offset, host.raw(), bytes);
      backend_->upload(*a.buffer, 0, host.raw(), bytes);
    }
    result.device_outputs[name] = std::move(a);
  }
  for (Backend* b : impl_->backends) b->synchronize();

  for (const Value* v : g.outputs()) {
    if (device_outputs.count(v->name())) continue;
    const ValueState& st = state.at(v);
    auto& host_out = result.host_outputs;
    if (g.is_graph_input(v)) {
      const InputRef& r = feed.inputs[impl_->input_index.at(v->name())];
      host_out[v->name()] = r.host ? r.host->clone() : to_host(*r.device);
      continue;
    }
    if (st.known) { host_out[v->name()] = st.host->clone(); continue; }
    int hb = plan.home_of(v, n_backends);
    VDRT_CHECK(hb >= 0, "graph output '" + v->name() + "' was not computed", {g.source_path});
    Tensor out(st.dtype, st.dims);
    impl_->backends[hb]->download(*impl_->arenas[hb], slots.at({v, hb}).offset, out.raw(), out.nbytes());
    host_out[v->name()] = std::move(out);
  }
  stats_ = plan.stats;
  stats_.constant_bytes = impl_->constant_bytes;
  stats_.host_uploads = host_uploads;
  stats_.cross_copies = cross_copies;
  stats_.nodes_on_fallback = on_fallback;
  stats_.aliased_views = views;
  stats_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (profiling) {
    impl_->profile.run_seconds += stats_.seconds;
    ++impl_->profile.runs;
  }
  return result;
}

CompiledOp* Session::compile(int64_t i, const std::vector<DeviceTensor>& ins, const std::vector<DeviceTensor>& outs,
                             const std::unordered_map<const Value*, ValueState>& state) {
  const Node& node = *graph_->nodes()[i];
  const OpSchema* schema = OpRegistry::instance().find(node.domain(), node.op_type());
  std::vector<TensorDesc> in_descs, out_descs;
  std::vector<const Tensor*> known;
  std::string key = std::to_string(i) + "@" + std::to_string(impl_->node_backend[i]);
  for (size_t k = 0; k < node.inputs().size(); ++k) {
    in_descs.push_back(ins[k].desc);
    Value* v = node.input(k);
    // Only the inputs that shape the op are offered for baking into the
    // compiled op; they are part of the cache key.
    bool shapes_op = v && std::find(schema->value_inputs.begin(), schema->value_inputs.end(), static_cast<int>(k)) !=
                              schema->value_inputs.end();
    const ValueState* st = v ? &state.at(v) : nullptr;
    known.push_back(shapes_op && st->known ? &*st->host : nullptr);
    key += compile_key_part(in_descs.back(), known.back());
  }
  for (const DeviceTensor& t : outs) out_descs.push_back(t.desc);
  auto& op = impl_->compiled[key];
  if (!op) op = impl_->backends[impl_->node_backend[i]]->compile(node, graph_->opset(node.domain()), in_descs, out_descs, known);
  return op.get();
}

}  // namespace vdrt
