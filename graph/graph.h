#pragma once
// The compute graph: Values connect Nodes. A Graph owns both, keeps every
// Value's producer and consumers current, and keeps nodes in a valid
// topological order after each edit that calls sort().
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "graph/attribute.h"
#include "graph/shape.h"
#include "graph/tensor.h"

namespace vdrt {

class Node;

class Value {
 public:
  const std::string& name() const { return name_; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  void set_dtype(DType t) { dtype_ = t; }
  void set_shape(Shape s) { shape_ = std::move(s); }

  Node* producer() const { return producer_; }
  const std::vector<Node*>& consumers() const { return consumers_; }

  // Initializers and folded constants carry their data here.
  bool is_constant() const { return constant_.has_value(); }
  const Tensor& constant() const { return *constant_; }
  void set_constant(Tensor t);

 private:
  friend class Graph;
  friend class Node;
  std::string name_;
  DType dtype_ = DType::Undefined;
  Shape shape_;
  Node* producer_ = nullptr;
  std::vector<Node*> consumers_;
  std::optional<Tensor> constant_;
};

inline constexpr const char* kOnnxDomain = "";          // ai.onnx
inline constexpr const char* kVdrtDomain = "vdrt";     // fused and sparse ops of vdrt
inline constexpr const char* kMicrosoftDomain = "com.microsoft";

class Node {
 public:
  const std::string& name() const { return name_; }
  const std::string& op_type() const { return op_type_; }
  const std::string& domain() const { return domain_; }
  std::string qualified_op() const;  // "Conv" or "vdrt.SparseAttention"
  void set_name(std::string n) { name_ = std::move(n); }

  // Absent optional inputs are nullptr (ONNX's empty names).
  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  Value* input(size_t i) const { return i < inputs_.size() ? inputs_[i] : nullptr; }
  Value* output(size_t i) const { return i < outputs_.size() ? outputs_[i] : nullptr; }
  void set_input(size_t i, Value* v);
  void add_input(Value* v);

  AttributeMap& attrs() { return attrs_; }
  const AttributeMap& attrs() const { return attrs_; }

 private:
  friend class Graph;
  std::string name_, op_type_, domain_;
  std::vector<Value*> inputs_, outputs_;
  AttributeMap attrs_;
};

struct OpsetImport {
  std::string domain;
  int64_t version;
};

class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;
  std::unique_ptr<Graph> clone() const;

  // Values. Names are unique; asking for an existing name returns it.
  Value* value(const std::string& name);                 // get or create
  Value* find_value(const std::string& name) const;      // nullptr if absent
  Value* add_constant(const std::string& name, Tensor t);
  std::string unique_name(const std::string& base);

  Node* add_node(const std::string& op_type, const std::vector<Value*>& inputs,
                 const std::vector<Value*>& outputs, const std::string& name = "",
                 const std::string& domain = kOnnxDomain);
  // Removes a node; its outputs stay as producer-less values (remove unused
  // values with prune_values()).
  void remove_node(Node* n);
  void replace_all_uses(Value* from, Value* to);
  // Makes `n` write its output `index` into `v` (a value no node produces)
  // instead; the old value keeps its consumers and loses its producer.
  void replace_output(Node* n, size_t index, Value* v);
  // Moves `n` just before `anchor` in the node order (to the end when
  // `anchor` is nullptr), e.g. to place a new node where its value is needed
  // rather than where sort() would (as early as possible: memory the
  // liveness plan then holds longer).
  void place_before(Node* n, const Node* anchor);
  void prune_values();  // drops values that are neither used, produced, constant nor graph I/O

  const std::vector<std::unique_ptr<Node>>& nodes() const { return nodes_; }
  std::vector<Value*> values() const;
  std::vector<Value*>& inputs() { return inputs_; }
  const std::vector<Value*>& inputs() const { return inputs_; }
  std::vector<Value*>& outputs() { return outputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  bool is_graph_input(const Value* v) const;
  bool is_graph_output(const Value* v) const;

  // Re-orders nodes topologically (stable); throws on a cycle.
  void sort();
  // Checks structural invariants (every input produced, constant or a graph
  // input; unique producers); throws vdrt::Error naming the first problem.
  void validate() const;

  std::string name;
  std::string source_path;  // the file this graph came from, for messages
  std::vector<OpsetImport> opsets;
  std::map<std::string, std::string> metadata;
  std::string producer_name, producer_version;
  int64_t ir_version = 8;
  int64_t opset(const std::string& domain) const;  // 0 if not imported

 private:
  std::vector<std::unique_ptr<Node>> nodes_;
  std::map<std::string, std::unique_ptr<Value>> values_;
  std::vector<Value*> inputs_, outputs_;
  int64_t name_counter_ = 0;
};

}  // namespace vdrt
