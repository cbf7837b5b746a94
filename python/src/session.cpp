// vdrt.InferenceSession: a Session with ONNX Runtime's Python habits
// (get_inputs, get_outputs, run(output_names, input_feed), get_modelmeta).
// Inputs are copied once from any array-like; outputs are NumPy arrays over
// the session's output tensors (no copy). run() releases the GIL, and one
// session runs one call at a time (a second thread waits).
#include <memory>
#include <mutex>

#include <nanobind/stl/map.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "common.h"
#include "importer/onnx_import.h"
#include "python_graph.h"

namespace vdrt::python {
namespace {

struct ModelMetadata {
  std::string producer_name, producer_version, graph_name, domain, description, graph_description;
  int64_t version = 0, ir_version = 0;
  std::map<std::string, int64_t> opsets;
  std::map<std::string, std::string> custom_metadata_map;
};

struct PySession {
  std::shared_ptr<Session> session;
  std::string model;  // the path, or "<bytes>"
  std::unique_ptr<std::mutex> mutex = std::make_unique<std::mutex>();

  PySession(nb::handle model_arg, const std::string& device, const std::string& precision, nb::handle pipeline,
            int threads) {
    const SessionOptions so = session_options(device, precision, pipeline, threads);
    std::string bytes;
    const bool from_bytes = nb::isinstance<nb::bytes>(model_arg) || nb::isinstance<nb::bytearray>(model_arg) ||
                            nb::isinstance<nb::memoryview>(model_arg);
    if (from_bytes) {
      nb::bytes b(nb::module_::import_("builtins").attr("bytes")(model_arg));
      bytes.assign(static_cast<const char*>(b.data()), b.size());
      model = "<bytes>";
    } else {
      model = fspath(model_arg, "model");
    }
    {
      nb::gil_scoped_release release;
      std::unique_ptr<Graph> g = from_bytes ? load_onnx_bytes(bytes, "", model) : load_onnx(model);
      session = std::make_shared<Session>(std::move(g), so);
    }
    raise_pending_signals();
  }

  std::vector<NodeArg> args(const std::vector<Value*>& values) const {
    std::vector<NodeArg> out;
    for (const Value* v : values) out.push_back(node_arg(*v));
    return out;
  }

  nb::list run(nb::handle output_names, nb::handle feed) {
    const Graph& g = session->graph();
    std::vector<std::string> names;
    if (output_names.is_none()) {
      for (const Value* v : g.outputs()) names.push_back(v->name());
    } else {
      if (nb::isinstance<nb::str>(output_names))
        throw nb::type_error("output_names: expected a list of names (or None for all), got a str");
      for (nb::handle h : output_names) names.push_back(nb::cast<std::string>(h));
      for (const std::string& n : names) {
        const Value* v = g.find_value(n);
        if (!v || !g.is_graph_output(v)) {
          std::string all;
          for (const Value* o : g.outputs()) all += (all.empty() ? "" : ", ") + o->name();
          throw Error("'" + n + "' is not an output of the model (outputs: " + all + ")", {g.source_path});
        }
      }
    }
    if (!nb::isinstance<nb::dict>(feed))
      throw nb::type_error("input_feed: expected a dict from input names to arrays");
    TensorMap inputs;
    for (auto [key, value] : nb::borrow<nb::dict>(feed)) {
      if (!nb::isinstance<nb::str>(key)) throw nb::type_error("input_feed: keys must be input names (str)");
      const std::string name = nb::cast<std::string>(key);
      inputs[name] = from_array(value, "input '" + name + "'");
    }
    TensorMap outputs;
    {
      nb::gil_scoped_release release;
      std::lock_guard<std::mutex> lock(*mutex);
      outputs = session->run(inputs);
    }
    raise_pending_signals();
    nb::list out;
    for (const std::string& n : names) {
      auto it = outputs.find(n);
      if (it == outputs.end()) throw Error("output '" + n + "' was not computed", {g.source_path});
      out.append(to_numpy(it->second));
    }
    return out;
  }

  nb::dict placement(bool last_run) const {
    const std::vector<std::string> where = last_run ? session->last_placement() : session->placement();
    nb::dict out;
    const auto& nodes = session->graph().nodes();
    for (size_t i = 0; i < nodes.size() && i < where.size(); ++i)
      out[nb::str(nodes[i]->name().c_str())] = nb::str(where[i].c_str());
    return out;
  }

  ModelMetadata meta() const {
    const Graph& g = session->graph();
    ModelMetadata m;
    m.producer_name = g.producer_name;
    m.producer_version = g.producer_version;
    m.graph_name = g.name;
    m.ir_version = g.ir_version;
    for (const OpsetImport& o : g.opsets) m.opsets[o.domain.empty() ? "ai.onnx" : o.domain] = o.version;
    m.custom_metadata_map = g.metadata;
    return m;
  }
};

}  // namespace

void bind_session(nb::module_& m) {
  using namespace nb::literals;
  nb::class_<ModelMetadata>(m, "ModelMetadata",
                            "A model's metadata (ONNX Runtime's ModelMetadata): custom_metadata_map holds\n"
                            "the model's metadata_props, e.g. vdrt.frames_per_chunk.")
      .def_ro("producer_name", &ModelMetadata::producer_name, "The exporter, e.g. 'pytorch'.")
      .def_ro("producer_version", &ModelMetadata::producer_version, "The exporter's version.")
      .def_ro("graph_name", &ModelMetadata::graph_name, "The graph's name.")
      .def_ro("domain", &ModelMetadata::domain, "Always '' (vdrt does not keep it).")
      .def_ro("description", &ModelMetadata::description, "Always '' (vdrt does not keep it).")
      .def_ro("graph_description", &ModelMetadata::graph_description, "Always '' (vdrt does not keep it).")
      .def_ro("version", &ModelMetadata::version, "Always 0 (vdrt does not keep model_version).")
      .def_ro("ir_version", &ModelMetadata::ir_version, "The ONNX IR version.")
      .def_ro("opsets", &ModelMetadata::opsets, "Imported opsets: {'ai.onnx': 17, ...}.")
      .def_ro("custom_metadata_map", &ModelMetadata::custom_metadata_map, "metadata_props as a dict.");

  nb::class_<PySession>(
      m, "InferenceSession",
      "Runs an ONNX model with vdrt (ONNX Runtime's InferenceSession, the vdrt way).\n\n"
      "    sess = vdrt.InferenceSession('denoiser.onnx', device='auto')\n"
      "    [y] = sess.run(['y'], {'x': x})\n\n"
      "model: a path (str or os.PathLike) or the model's bytes (external data is then\n"
      "looked for in the current directory).\n"
      "device: 'auto' (a discrete GPU, then an integrated one, then the CPU), 'cpu',\n"
      "'vulkan', 'vulkan:1', 'opencl', ... (vdrt.devices() lists them).\n"
      "precision: 'fp32', or 'fp16' (GPU matmul/conv/attention in fp16, fp32 accumulation).\n"
      "pipeline: None runs the default pass pipeline over the model (as `vdrt run`),\n"
      "a path runs that pipeline TOML, a list of pass names runs those passes, [] or\n"
      "False runs the graph as imported (`-O0`).\n"
      "threads: CPU threads, 0 = all cores.\n\n"
      "Raises vdrt.Error (file, node, op, reason) for a model vdrt cannot load or run,\n"
      "ValueError for a bad argument.")
      .def(nb::init<nb::handle, const std::string&, const std::string&, nb::handle, int>(), "model"_a,
           "device"_a = "auto", "precision"_a = "fp32", "pipeline"_a.none() = nb::none(), "threads"_a = 0,
           nb::sig("def __init__(self, model: str | os.PathLike[str] | bytes, device: str = 'auto', precision: str = 'fp32', "
                   "pipeline: str | os.PathLike[str] | collections.abc.Sequence[str] | bool | None = None, threads: int = 0) -> None"),
           "Loads the model, optimises it with `pipeline` and prepares it on `device`.")
      .def("get_inputs", [](const PySession& s) { return s.args(s.session->graph().inputs()); },
           "The model's inputs (NodeArg: name, type, dtype, shape with symbolic dims as str).")
      .def("get_outputs", [](const PySession& s) { return s.args(s.session->graph().outputs()); },
           "The model's outputs (NodeArg).")
      .def("get_modelmeta", &PySession::meta, "The model's metadata (ModelMetadata).")
      .def("get_providers", [](const PySession& s) { return std::vector<std::string>{s.session->backend().info().backend}; },
           "The backend the session runs on, as a one-element list (ONNX Runtime's habit): ['cpu'].")
      .def("run", &PySession::run, "output_names"_a.none(), "input_feed"_a,
           nb::sig("def run(self, output_names: collections.abc.Sequence[str] | None, "
                   "input_feed: collections.abc.Mapping[str, typing.Any]) -> list[numpy.ndarray]"),
           "Runs the model and returns the outputs named in output_names (None: all, in the\n"
           "model's order) as a list of NumPy arrays.\n\n"
           "input_feed maps every input name to an array: a NumPy array, any DLPack CPU tensor\n"
           "(e.g. a torch CPU tensor), or anything numpy.asarray accepts. The dtype must be\n"
           "the input's own (no implicit casts) and the shape must fit its declaration.\n"
           "Raises vdrt.Error naming the model, the input and the reason otherwise. The GIL\n"
           "is released while the model runs.")
      .def(
          "placement", [](const PySession& s, bool last_run) { return s.placement(last_run); }, "last_run"_a = false, nb::sig("def placement(self, last_run: bool = False) -> dict[str, str]"),
          "Where each node runs: {node name: backend}, in graph order. With last_run=True,\n"
          "where each node ran in the last run(), 'host' for the small shape computations\n"
          "done once on the host.")
      .def_prop_ro(
          "device",
          [](const PySession& s) { return device_dict(s.session->backend().info()); },
          "The device the session runs on (a dict, as in vdrt.devices()).")
      .def(
          "last_stats",
          [](const PySession& s) {
            const RunStats& r = s.session->last_stats();
            nb::dict d;
            d["seconds"] = r.seconds;
            d["arena_bytes"] = r.arena_bytes;
            d["naive_bytes"] = r.naive_bytes;
            d["constant_bytes"] = r.constant_bytes;
            d["host_uploads"] = r.host_uploads;
            d["cross_copies"] = r.cross_copies;
            d["nodes_on_fallback"] = r.nodes_on_fallback;
            d["aliased_views"] = r.aliased_views;
            return d;
          },
          "Figures of the last run(): seconds, arena_bytes (planned activation memory),\n"
          "naive_bytes, constant_bytes, host_uploads, cross_copies, nodes_on_fallback, aliased_views.")
      .def_prop_ro(
          "graph",
          [](const PySession& s) { return GraphView{std::shared_ptr<const Graph>(s.session, &s.session->graph())}; },
          "The graph this session runs (after its pass pipeline), as a vdrt.Graph.")
      .def_ro("model_path", &PySession::model, "The model's path, or '<bytes>'.")
      .def("__repr__", [](const PySession& s) {
        return "InferenceSession('" + s.model + "', device='" + s.session->backend().info().backend + "')";
      });
}

}  // namespace vdrt::python
