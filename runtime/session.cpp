#include "runtime/session.h"

#include <chrono>
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
#include "runtime/pass_pipeline.h"

namespace vdrt {

// One run's inputs, each a host tensor or a device array.
struct InputRef {
  DType dtype = DType::Undefined;
  std::vector<int64_t> dims;
  const Tensor* host = nullptr;
  const DeviceArray* device = nullptr;
  int64_t numel() const { return vdrt::numel(dims); }
};
struct Feed {
  std::map<std::string, InputRef> inputs;
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

  DeviceTensor constant_tensor(const Value* v, int b) {
    auto& buf = constants[{v, b}];
    const Tensor& t = v->constant();
    if (!buf) {
      buf = backends[b]->allocate(std::max<size_t>(t.nbytes(), 1));
      backends[b]->upload(*buf, 0, t.raw(), t.nbytes());
      constant_bytes += t.nbytes();
    }
    return DeviceTensor{buf.get(), 0, TensorDesc{t.dtype(), t.dims()}};
  }
};

Session::Session(std::unique_ptr<Graph> graph, const SessionOptions& options)
    : graph_(std::move(graph)), impl_(std::make_unique<Impl>()) {
  if (!options.pass_pipeline.empty()) run_pass_pipeline_file(*graph_, options.pass_pipeline);
  else if (!options.pass_pipeline_text.empty())
    run_pass_pipeline_text(*graph_, options.pass_pipeline_text, options.pass_pipeline_label);
  infer_shapes(*graph_);
  impl_->node_state.resize(graph_->nodes().size());
  backend_ = BackendRegistry::instance().create(options.device, BackendOptions{options.threads, options.precision});
  impl_->backends.push_back(backend_.get());
  int cpu_index = backend_->info().backend == "cpu" ? 0 : -1;
  for (const auto& node : graph_->nodes()) {
    ErrorSite site{graph_->source_path, node->name(), node->qualified_op()};
    if (backend_->supports(*node)) {
      impl_->node_backend.push_back(0);
      continue;
    }
    VDRT_CHECK(options.cpu_fallback || cpu_index == 0,
               "backend " + backend_->info().backend + " cannot run this node and CPU fallback is off", site);
    if (cpu_index < 0) {
      impl_->cpu_fallback = make_cpu_backend(options.threads);
      impl_->backends.push_back(impl_->cpu_fallback.get());
      cpu_index = 1;
    }
    VDRT_CHECK(impl_->backends[cpu_index]->supports(*node),
               "unsupported op: no backend can run " + node->qualified_op() + " with these attributes and types",
               site);
    impl_->node_backend.push_back(cpu_index);
  }
  impl_->shape_args = shape_argument_inputs(*graph_);
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
      return;
    }
  throw Error("bind_state: the node is not in this session's graph", {graph_->source_path, node.name()});
}

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
  const auto& inputs = feed.inputs;
  std::set<std::string> declared;
  std::map<std::string, int64_t> symbols;
  for (const Value* v : g.inputs()) {
    declared.insert(v->name());
    auto it = inputs.find(v->name());
    VDRT_CHECK(it != inputs.end(), "input '" + v->name() + "' is not bound", {g.source_path});
    const InputRef& t = it->second;
    VDRT_CHECK(v->dtype() == DType::Undefined || t.dtype == v->dtype(),
               "input '" + v->name() + "' must be " + dtype_name(v->dtype()) + ", got " + dtype_name(t.dtype),
               {g.source_path});
    const Shape& s = v->shape();
    if (s.rank_known()) {
      VDRT_CHECK(s.rank() == t.dims.size(), "input '" + v->name() + "' must have shape " + s.str() + ", got " +
                                                  dims_str(t.dims), {g.source_path});
      for (size_t i = 0; i < s.rank(); ++i) {
        const Dim& d = s[i];
        bool ok = true;
        if (d.known()) ok = d.value() == t.dims[i];
        else if (d.is_symbol()) ok = symbols.emplace(d.name(), t.dims[i]).first->second == t.dims[i];
        VDRT_CHECK(ok, "input '" + v->name() + "' has shape " + dims_str(t.dims) + " which does not fit " +
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
      state[v] = ValueState{t.dtype, t.dims, std::nullopt, false};
    } else {
      state[v] = ValueState{t.dtype, t.dims, *t.host, known};
    }
  }
  for (const auto& [name, _] : inputs)
    VDRT_CHECK(declared.count(name), "the model has no input named '" + name + "'", {g.source_path});
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

namespace {

// Identifies the plan for a set of inputs: every input's dtype and dims, and
// the contents of those known on the host (they can change shapes).
std::string plan_key(const Graph& g, const Feed& feed, const std::set<const Value*>& shape_args) {
  const auto& inputs = feed.inputs;
  std::string key;
  for (const Value* v : g.inputs()) {
    auto it = inputs.find(v->name());
    if (it == inputs.end()) return {};  // bind_inputs reports it
    const InputRef& r = it->second;
    key += dtype_name(r.dtype);
    for (int64_t d : r.dims) key += "," + std::to_string(d);
    if (r.device) key += "@device";
    if (r.host && r.numel() <= kHostInputLimit && (!is_float(r.dtype) || shape_args.count(v))) {
      const Tensor& t = *r.host;
      key += "=";
      if (is_float(t.dtype()))
        for (double x : t.as_double()) key += std::to_string(x) + ";";
      else
        for (int64_t x : t.as_int64()) key += std::to_string(x) + ";";
    }
    key += "|";
  }
  return inputs.size() == g.inputs().size() ? key : std::string();
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
  RunStats stats;

  int home_of(const Value* v, int n_backends) const {
    for (int k = 0; k < n_backends; ++k)
      if (auto it = slots.find({v, k}); it != slots.end() && it->second.home_backend == k) return k;
    return -1;
  }
};

std::vector<std::string> Session::last_placement() const {
  std::vector<std::string> out = placement();
  if (plans_.empty()) return out;
  const Plan& plan = *plans_.front().second;
  for (size_t i = 0; i < out.size(); ++i)
    if (plan.on_host[i]) out[i] = "host";
  return out;
}

Session::Plan& Session::plan_for(const Feed& feed) {
  const std::string key = plan_key(*graph_, feed, impl_->shape_args);
  if (!key.empty()) {
    for (auto it = plans_.begin(); it != plans_.end(); ++it)
      if (it->first == key) {
        plans_.splice(plans_.begin(), plans_, it);  // most recently used first
        return *plans_.front().second;
      }
  }
  auto plan = build_plan(feed);
  if (key.empty()) {  // not cacheable; keep it only for this run
    plans_.emplace_front(std::string(), std::move(plan));
  } else {
    plans_.emplace_front(key, std::move(plan));
  }
  constexpr size_t kMaxPlans = 8;
  while (plans_.size() > kMaxPlans) plans_.pop_back();
  return *plans_.front().second;
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

  std::vector<std::vector<SlotKey>> keys(n_backends);
  for (auto& [k, s] : slots) keys[k.second].push_back(k);
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
  plan->compiled.assign(nodes.size(), nullptr);
  return plan;
}

namespace {
void add_host(Feed& f, const TensorMap& m) {
  for (const auto& [name, t] : m) f.inputs[name] = InputRef{t.dtype(), t.dims(), &t, nullptr};
}
}  // namespace

TensorMap Session::run(const TensorMap& inputs) {
  Feed feed;
  add_host(feed, inputs);
  return run_feed(feed, {}).host_outputs;
}

IoResult Session::run(const IoBinding& binding) {
  Feed feed;
  add_host(feed, binding.host_inputs);
  for (const auto& [name, a] : binding.device_inputs) {
    VDRT_CHECK(a.defined(), "device input '" + name + "' holds no buffer", {graph_->source_path});
    VDRT_CHECK(&a.buffer->backend() == backend_.get(),
               "device input '" + name + "' lives on another backend than this session's", {graph_->source_path});
    VDRT_CHECK(!feed.inputs.count(name), "input '" + name + "' is bound twice", {graph_->source_path});
    feed.inputs[name] = InputRef{a.desc.dtype, a.desc.dims, nullptr, &a};
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

  auto device_tensor = [&](const Value* v, int b) -> DeviceTensor {
    if (v->is_constant()) return impl_->constant_tensor(v, b);
    Slot& s = slots.at({v, b});
    const ValueState& st = state.at(v);
    DeviceTensor t{impl_->arenas[b].get(), s.offset, TensorDesc{st.dtype, st.dims}};
    if (g.is_graph_input(v)) {
      const InputRef& r = feed.inputs.at(v->name());
      // A device input on this backend is read in place.
      if (r.device && &r.device->buffer->backend() == impl_->backends[b])
        return DeviceTensor{r.device->buffer.get(), 0, TensorDesc{st.dtype, st.dims}};
    }
    if (!g.is_graph_input(v) && st.host && s.home_backend != b) {
      auto& buf = plan.host_values[{v, b}];
      if (!buf) {
        buf = impl_->backends[b]->allocate(std::max<size_t>(st.host->nbytes(), 1));
        impl_->backends[b]->upload(*buf, 0, st.host->raw(), st.host->nbytes());
        ++host_uploads;
      }
      return DeviceTensor{buf.get(), 0, TensorDesc{st.dtype, st.dims}};
    }
    if (s.home_backend != b && !s.filled) {
      Backend& dst = *impl_->backends[b];
      const InputRef* in_ref = g.is_graph_input(v) ? &feed.inputs.at(v->name()) : nullptr;
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
    return t;
  };

  std::vector<DeviceTensor> ins, outs;
  for (int64_t i = 0; i < n_nodes; ++i) {
    if (plan.on_host[i]) continue;
    const Node& node = *nodes[i];
    int b = impl_->node_backend[i];
    ins.clear();
    outs.clear();
    for (Value* v : node.inputs()) ins.push_back(v ? device_tensor(v, b) : DeviceTensor{});
    for (Value* v : node.outputs()) outs.push_back(v ? device_tensor(v, b) : DeviceTensor{});
    if (b != 0) ++on_fallback;
    CompiledOp*& op = plan.compiled[i];
    if (!op) op = compile(i, ins, outs, state);
    try {
      if (OpState* st = impl_->node_state[i].get()) impl_->backends[b]->enqueue(*op, ins, outs, st);
      else impl_->backends[b]->enqueue(*op, ins, outs);
    } catch (const Error& e) {
      throw e.with_site({g.source_path, node.name(), node.qualified_op()});
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
    if (g.is_graph_input(v) && feed.inputs.at(name).device) {
      backend_->copy(*feed.inputs.at(name).device->buffer, 0, *a.buffer, 0, bytes);
    } else if (hb == 0) {
      backend_->copy(*impl_->arenas[0], slots.at({v, 0}).offset, *a.buffer, 0, bytes);
    } else {  // computed on the host or by the CPU fallback
      Tensor host(st.dtype, st.dims);
      if (st.known) host = *st.host;
      else if (g.is_graph_input(v)) host = *feed.inputs.at(name).host;
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
      const InputRef& r = feed.inputs.at(v->name());
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
  stats_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

CompiledOp* Session::compile(int64_t i, const std::vector<DeviceTensor>& ins, const std::vector<DeviceTensor>& outs,
                             const std::unordered_map<const Value*, ValueState>& state) {
  const Node& node = *graph_->nodes()[i];
  const OpSchema* schema = OpRegistry::instance().find(node.domain(), node.op_type());
  std::vector<TensorDesc> in_descs, out_descs;
  std::vector<const Tensor*> known;
  std::string key = std::to_string(i);
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
