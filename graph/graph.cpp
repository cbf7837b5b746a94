#include "graph/graph.h"

#include <algorithm>
#include <set>

#include "graph/error.h"

namespace vdrt {

void Value::set_constant(Tensor t) {
  dtype_ = t.dtype();
  shape_ = Shape::from(t.dims());
  constant_ = std::move(t);
}

std::string Node::qualified_op() const {
  return domain_.empty() || domain_ == "ai.onnx" ? op_type_ : domain_ + "." + op_type_;
}

static void erase_one(std::vector<Node*>& v, Node* n) {
  auto it = std::find(v.begin(), v.end(), n);
  if (it != v.end()) v.erase(it);
}

void Node::set_input(size_t i, Value* v) {
  if (i >= inputs_.size()) inputs_.resize(i + 1, nullptr);
  if (inputs_[i]) erase_one(inputs_[i]->consumers_, this);
  inputs_[i] = v;
  if (v) v->consumers_.push_back(this);
}

void Node::add_input(Value* v) { set_input(inputs_.size(), v); }

Value* Graph::value(const std::string& name) {
  auto it = values_.find(name);
  if (it != values_.end()) return it->second.get();
  auto v = std::make_unique<Value>();
  v->name_ = name;
  Value* raw = v.get();
  values_.emplace(name, std::move(v));
  return raw;
}

Value* Graph::find_value(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? nullptr : it->second.get();
}

Value* Graph::add_constant(const std::string& name, Tensor t) {
  Value* v = value(name);
  v->set_constant(std::move(t));
  return v;
}

std::string Graph::unique_name(const std::string& base) {
  std::string n = base;
  while (values_.count(n)) n = base + "_" + std::to_string(++name_counter_);
  return n;
}

Node* Graph::add_node(const std::string& op_type, const std::vector<Value*>& inputs,
                      const std::vector<Value*>& outputs, const std::string& name,
                      const std::string& domain) {
  auto n = std::make_unique<Node>();
  n->op_type_ = op_type;
  n->domain_ = domain == "ai.onnx" ? "" : domain;
  n->name_ = name;
  for (Value* v : inputs) n->add_input(v);
  for (Value* v : outputs) {
    if (v) {
      VDRT_CHECK(v->producer_ == nullptr,
                 "value '" + v->name() + "' is produced by more than one node", {source_path, name, op_type});
      v->producer_ = n.get();
    }
    n->outputs_.push_back(v);
  }
  nodes_.push_back(std::move(n));
  return nodes_.back().get();
}

void Graph::remove_node(Node* n) {
  for (size_t i = 0; i < n->inputs_.size(); ++i) n->set_input(i, nullptr);
  for (Value* v : n->outputs_)
    if (v && v->producer_ == n) v->producer_ = nullptr;
  nodes_.erase(std::remove_if(nodes_.begin(), nodes_.end(), [n](const auto& p) { return p.get() == n; }),
               nodes_.end());
}

void Graph::replace_output(Node* n, size_t index, Value* v) {
  VDRT_CHECK(index < n->outputs_.size(), "node '" + n->name_ + "' has no output " + std::to_string(index),
             {source_path, n->name_, n->op_type_});
  VDRT_CHECK(v && v->producer_ == nullptr, "value '" + (v ? v->name() : std::string()) + "' already has a producer",
             {source_path, n->name_, n->op_type_});
  if (Value* old = n->outputs_[index]; old && old->producer_ == n) old->producer_ = nullptr;
  n->outputs_[index] = v;
  v->producer_ = n;
}

void Graph::place_before(Node* n, const Node* anchor) {
  auto from = std::find_if(nodes_.begin(), nodes_.end(), [n](const auto& p) { return p.get() == n; });
  VDRT_CHECK(from != nodes_.end(), "node '" + n->name_ + "' is not in the graph", {source_path, n->name_, n->op_type_});
  std::unique_ptr<Node> moved = std::move(*from);
  nodes_.erase(from);
  auto to = std::find_if(nodes_.begin(), nodes_.end(), [anchor](const auto& p) { return p.get() == anchor; });
  nodes_.insert(to, std::move(moved));
}

void Graph::replace_all_uses(Value* from, Value* to) {
  std::vector<Node*> users = from->consumers_;
  for (Node* u : users)
    for (size_t i = 0; i < u->inputs_.size(); ++i)
      if (u->inputs_[i] == from) u->set_input(i, to);
  for (Value*& o : outputs_)
    if (o == from) o = to;
}

void Graph::prune_values() {
  for (auto it = values_.begin(); it != values_.end();) {
    Value* v = it->second.get();
    bool keep = v->producer_ || !v->consumers_.empty() || is_graph_input(v) || is_graph_output(v);
    it = keep ? std::next(it) : values_.erase(it);
  }
}

std::vector<Value*> Graph::values() const {
  std::vector<Value*> out;
  for (const auto& [_, v] : values_) out.push_back(v.get());
  return out;
}

bool Graph::is_graph_input(const Value* v) const {
  return std::find(inputs_.begin(), inputs_.end(), v) != inputs_.end();
}
bool Graph::is_graph_output(const Value* v) const {
  return std::find(outputs_.begin(), outputs_.end(), v) != outputs_.end();
}

int64_t Graph::opset(const std::string& domain) const {
  for (const auto& o : opsets)
    if (o.domain == domain || (domain.empty() && o.domain == "ai.onnx")) return o.version;
  return 0;
}

void Graph::sort() {
  // Kahn's algorithm, stable with respect to the current order.
  std::map<const Node*, size_t> pending;
  for (const auto& n : nodes_) {
    size_t deps = 0;
    for (Value* in : n->inputs_)
      if (in && in->producer_) ++deps;
    pending[n.get()] = deps;
  }
  std::vector<std::unique_ptr<Node>> sorted;
  std::vector<std::unique_ptr<Node>> rest = std::move(nodes_);
  nodes_.clear();
  bool progress = true;
  while (!rest.empty() && progress) {
    progress = false;
    for (auto& n : rest) {
      if (!n || pending[n.get()] != 0) continue;
      for (Value* out : n->outputs_) {
        if (!out) continue;
        // A node reading `out` twice (Mul(x, x)) is listed twice among the
        // consumers; count each of its inputs once.
        std::set<const Node*> counted;
        for (Node* c : out->consumers_)
          if (counted.insert(c).second)
            for (Value* in : c->inputs_)
              if (in == out) --pending[c];
      }
      sorted.push_back(std::move(n));
      progress = true;
    }
    rest.erase(std::remove(rest.begin(), rest.end(), nullptr), rest.end());
  }
  if (!rest.empty()) {
    std::string who = rest.front()->name_;
    std::string op = rest.front()->op_type_;
    for (auto& n : rest) sorted.push_back(std::move(n));
    nodes_ = std::move(sorted);
    throw Error("graph has a cycle", {source_path, who, op});
  }
  nodes_ = std::move(sorted);
}

void Graph::validate() const {
  std::set<const Node*> seen;
  for (const auto& n : nodes_) {
    for (Value* in : n->inputs_) {
      if (!in) continue;
      bool ok = in->is_constant() || is_graph_input(in) || (in->producer_ && seen.count(in->producer_));
      VDRT_CHECK(ok, "input '" + in->name() + "' is neither a graph input, an initializer, nor produced by an earlier node",
                 {source_path, n->name_, n->qualified_op()});
    }
    seen.insert(n.get());
  }
  for (Value* o : outputs_)
    VDRT_CHECK(o->producer_ || o->is_constant() || is_graph_input(o),
               "graph output '" + o->name() + "' is never produced", {source_path});
}

std::unique_ptr<Graph> Graph::clone() const {
  auto g = std::make_unique<Graph>();
  g->name = name;
  g->source_path = source_path;
  g->opsets = opsets;
  g->metadata = metadata;
  g->producer_name = producer_name;
  g->producer_version = producer_version;
  g->ir_version = ir_version;
  for (const auto& [n, v] : values_) {
    Value* c = g->value(n);
    c->dtype_ = v->dtype_;
    c->shape_ = v->shape_;
    c->constant_ = v->constant_;
  }
  for (const auto& n : nodes_) {
    std::vector<Value*> ins, outs;
    for (Value* v : n->inputs_) ins.push_back(v ? g->value(v->name()) : nullptr);
    for (Value* v : n->outputs_) outs.push_back(v ? g->value(v->name()) : nullptr);
    Node* c = g->add_node(n->op_type_, ins, outs, n->name_, n->domain_);
    c->attrs_ = n->attrs_;
  }
  for (Value* v : inputs_) g->inputs_.push_back(g->value(v->name()));
  for (Value* v : outputs_) g->outputs_.push_back(g->value(v->name()));
  return g;
}

}  // namespace vdrt
