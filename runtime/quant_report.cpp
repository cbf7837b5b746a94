#include "runtime/quant_report.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "runtime/host_eval.h"

namespace vdrt {
namespace {

bool is_quantized_layer(const Node& n) { return n.domain() == kVdrtDomain && n.op_type() == "QMatMul"; }

// A copy of `g` that also returns the named values (where they exist and are
// computed, not inputs or constants).
std::unique_ptr<Graph> exposing(const Graph& g, const std::set<std::string>& names) {
  auto c = g.clone();
  std::set<std::string> already;
  for (const Value* v : c->outputs()) already.insert(v->name());
  for (const std::string& n : names) {
    Value* v = c->find_value(n);
    if (v && v->producer() && !already.count(n)) c->outputs().push_back(v);
  }
  return c;
}

TensorMap run_cpu(std::unique_ptr<Graph> g, const TensorMap& inputs) {
  SessionOptions o;
  o.device = "cpu";
  Session s(std::move(g), o);
  return s.run(inputs);
}

const Tensor* find(const TensorMap& m, const std::string& name) {
  auto it = m.find(name);
  return it == m.end() ? nullptr : &it->second;
}

}  // namespace

double relative_l2_error(const Tensor& actual, const Tensor& expected) {
  VDRT_CHECK(actual.dims() == expected.dims(),
             "cannot compare " + dims_str(actual.dims()) + " with " + dims_str(expected.dims()));
  const std::vector<double> a = actual.as_double(), e = expected.as_double();
  double err = 0, ref = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    err += (a[i] - e[i]) * (a[i] - e[i]);
    ref += e[i] * e[i];
  }
  if (ref == 0) return err == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  return std::sqrt(err / ref);
}

QuantReport quantization_report(const Graph& float_model, const Graph& quantized, const TensorMap& inputs) {
  std::set<std::string> wanted_float, wanted_quant;
  for (const auto& n : quantized.nodes()) {
    if (!is_quantized_layer(*n)) continue;
    wanted_quant.insert(n->output(0)->name());
    wanted_float.insert(n->output(0)->name());
    wanted_float.insert(n->input(0)->name());
  }
  const TensorMap f = run_cpu(exposing(float_model, wanted_float), inputs);
  const TensorMap q = run_cpu(exposing(quantized, wanted_quant), inputs);

  QuantReport report;
  const int64_t opset = quantized.opset(kVdrtDomain);
  for (const auto& n : quantized.nodes()) {
    if (!is_quantized_layer(*n)) continue;
    LayerError e;
    e.layer = n->name();
    e.value = n->output(0)->name();
    e.act_quant = n->attrs().get_string("act_quant", "none");
    const Tensor* ref = find(f, e.value);
    const Tensor* got = find(q, e.value);
    if (got) e.dims = got->dims();
    if (ref && got) e.cumulative = relative_l2_error(*got, *ref);
    // The layer alone: its own weights on the float model's input to it.
    const std::string a_name = n->input(0)->name();
    const Tensor* a = find(f, a_name);
    if (!a) a = find(inputs, a_name);
    if (ref && a) {
      std::vector<const Tensor*> args{a};
      for (size_t i = 1; i < n->inputs().size(); ++i)
        args.push_back(n->input(i) && n->input(i)->is_constant() ? &n->input(i)->constant() : nullptr);
      e.isolated = relative_l2_error(evaluate_on_host(*n, opset, args).at(0), *ref);
    }
    report.layers.push_back(std::move(e));
  }
  for (const Value* v : quantized.outputs()) {
    const Tensor* ref = find(f, v->name());
    const Tensor* got = find(q, v->name());
    if (!ref || !got || !is_float(got->dtype())) continue;
    OutputError o{v->name(), relative_l2_error(*got, *ref), 0};
    const auto av = got->as_double(), ev = ref->as_double();
    for (size_t i = 0; i < av.size(); ++i) o.max_abs = std::max(o.max_abs, std::fabs(av[i] - ev[i]));
    report.outputs.push_back(o);
  }
  return report;
}

std::string format_report(const QuantReport& r) {
  auto num = [](double v) {
    char buf[32];
    if (v < 0) return std::string("-");
    std::snprintf(buf, sizeof buf, "%.3e", v);
    return std::string(buf);
  };
  size_t w = 5;
  for (const auto& e : r.layers) w = std::max(w, e.layer.size());
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-*s  %-18s  %-10s  %-10s  %s\n", static_cast<int>(w), "layer", "output",
                "isolated", "cumulative", "activations");
  out += line;
  for (const auto& e : r.layers) {
    std::snprintf(line, sizeof line, "%-*s  %-18s  %-10s  %-10s  %s\n", static_cast<int>(w), e.layer.c_str(),
                  dims_str(e.dims).c_str(), num(e.isolated).c_str(), num(e.cumulative).c_str(),
                  e.act_quant == "none" ? "f32" : e.act_quant.c_str());
    out += line;
  }
  out += "relative errors are ||quantised - float|| / ||float|| over each layer's output\n";
  for (const auto& o : r.outputs) {
    std::snprintf(line, sizeof line, "model output %s: relative error %s, max |error| %s\n", o.name.c_str(),
                  num(o.rel_l2).c_str(), num(o.max_abs).c_str());
    out += line;
  }
  return out;
}

}  // namespace vdrt
