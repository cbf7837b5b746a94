#include "graph/dot.h"

#include <fstream>
#include <map>
#include <sstream>

#include "graph/error.h"

namespace vdrt {
namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') { out += "\\n"; continue; }
    out += c;
  }
  return out;
}

std::string shorten(const std::string& s, size_t max) {
  if (max < 8 || s.size() <= max) return s;
  size_t keep = (max - 3) / 2;
  return s.substr(0, keep) + "..." + s.substr(s.size() - keep);
}

std::string value_label(const Value& v, const DotOptions& o) {
  std::string label = shorten(v.name(), o.max_label);
  if (o.show_shapes && v.shape().rank_known()) label += "\\n" + v.shape().str();
  return label;
}

}  // namespace

void write_dot(const Graph& graph, std::ostream& out, const DotOptions& o) {
  out << "digraph \"" << escape(graph.name.empty() ? "graph" : graph.name) << "\" {\n"
      << "  rankdir=TB;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=8];\n";

  // Graph inputs and outputs are ellipses; nodes are boxes (vdrt ops filled)
  // so fused regions stand out.
  std::map<const Value*, std::string> source_id;  // where an edge for this value starts
  int counter = 0;
  for (const Value* v : graph.inputs()) {
    std::string id = "in" + std::to_string(counter++);
    out << "  " << id << " [shape=ellipse, style=filled, fillcolor=\"#dde8f8\", label=\"" << escape(value_label(*v, o))
        << "\"];\n";
    source_id[v] = id;
  }
  std::map<const Node*, std::string> node_id;
  for (const auto& n : graph.nodes()) {
    std::string id = "n" + std::to_string(counter++);
    node_id[n.get()] = id;
    std::string label = n->qualified_op();
    if (!n->name().empty()) label += "\\n" + escape(shorten(n->name(), o.max_label));
    if (!o.show_constants) {
      for (const Value* in : n->inputs())
        if (in && in->is_constant() && !graph.is_graph_input(in))
          label += "\\n" + escape(shorten(in->name(), o.max_label)) + " " + dims_str(in->constant().dims());
    }
    bool fused = n->domain() == kVdrtDomain;
    out << "  " << id << " [shape=box, style=\"rounded,filled\", fillcolor=\"" << (fused ? "#f8d8a8" : "#f4f4f4")
        << "\", label=\"" << label << "\"];\n";
    for (const Value* v : n->outputs())
      if (v) source_id[v] = id;
  }
  if (o.show_constants) {
    for (const auto& n : graph.nodes())
      for (const Value* in : n->inputs())
        if (in && in->is_constant() && !source_id.count(in)) {
          std::string id = "c" + std::to_string(counter++);
          out << "  " << id << " [shape=note, fontsize=8, label=\"" << escape(value_label(*in, o)) << "\"];\n";
          source_id[in] = id;
        }
  }
  for (const auto& n : graph.nodes()) {
    for (const Value* in : n->inputs()) {
      if (!in) continue;
      auto it = source_id.find(in);
      if (it == source_id.end()) continue;  // constant folded into the label
      out << "  " << it->second << " -> " << node_id[n.get()] << " [label=\"" << escape(value_label(*in, o))
          << "\"];\n";
    }
  }
  for (const Value* v : graph.outputs()) {
    std::string id = "out" + std::to_string(counter++);
    out << "  " << id << " [shape=ellipse, style=filled, fillcolor=\"#dff4df\", label=\"" << escape(value_label(*v, o))
        << "\"];\n";
    auto it = source_id.find(v);
    if (it != source_id.end()) out << "  " << it->second << " -> " << id << ";\n";
  }
  out << "}\n";
}

std::string to_dot(const Graph& graph, const DotOptions& options) {
  std::ostringstream os;
  write_dot(graph, os, options);
  return os.str();
}

void save_dot(const Graph& graph, const std::string& path, const DotOptions& options) {
  std::ofstream f(path);
  VDRT_CHECK(f.good(), "cannot open '" + path + "' for writing", {path});
  write_dot(graph, f, options);
  VDRT_CHECK(f.good(), "failed writing '" + path + "'", {path});
}

}  // namespace vdrt
