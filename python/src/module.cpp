// The extension module vdrt._vdrt: devices, TensorProto files, logging, and
// the classes of session.cpp, graph.cpp, optimize.cpp and video.cpp. The
// package vdrt (python/vdrt/__init__.py) re-exports it.
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>
#include <spdlog/spdlog.h>

#include "backends/registry.h"
#include "common.h"
#include "importer/tensor_file.h"

namespace vdrt::python {
namespace {

nb::list devices() {
  nb::list out;
  for (const DeviceInfo& d : BackendRegistry::instance().devices()) out.append(device_dict(d));
  return out;
}

nb::dict test_set_dict(const std::vector<NamedTensor>& tensors) {
  nb::dict out;
  for (const NamedTensor& t : tensors) out[nb::str(t.name.c_str())] = to_numpy(t.tensor);
  return out;
}

}  // namespace
}  // namespace vdrt::python

NB_MODULE(_vdrt, m) {
  using namespace vdrt;
  using namespace vdrt::python;
  using namespace nb::literals;
  m.doc() = "vdrt's C++ core (the vdrt package re-exports everything here).";
  spdlog::set_level(spdlog::level::warn);  // a library prints warnings and errors only; see set_log_level
  register_errors(m);

  m.def("devices", &devices, nb::sig("def devices() -> list[dict[str, typing.Any]]"),
        "The devices of every backend compiled into vdrt, in `vdrt devices` order.\n\n"
        "Each is a dict: device (the string to pass as device=, e.g. 'vulkan:0'),\n"
        "backend, index, name, kind ('cpu', 'gpu', 'igpu', 'other'), memory_bytes, details.");
  m.def("backends", [] { return BackendRegistry::instance().backend_names(); },
        "Names of the backends compiled into vdrt ('cpu', 'vulkan', 'opencl').");
  m.def("unavailable_backends", [] { return BackendRegistry::instance().unavailable(); },
        "'backend: reason' for each compiled-in backend that lists no device (no driver, no loader...).");

  m.def(
      "load_tensor",
      [](nb::object path) { return to_numpy(load_tensor_pb(fspath(path, "path")).tensor); }, "path"_a, nb::sig("def load_tensor(path: str | os.PathLike[str]) -> numpy.ndarray"),
      "Reads one tensor from an ONNX TensorProto file (.pb, as in test_data_set_N folders)\n"
      "and returns it as a NumPy array. Raises vdrt.Error naming the file when it is not one.");
  m.def(
      "load_tensor_name",
      [](nb::object path) { return load_tensor_pb(fspath(path, "path")).name; }, "path"_a, nb::sig("def load_tensor_name(path: str | os.PathLike[str]) -> str"),
      "The tensor name stored in a TensorProto file ('' when it has none).");
  m.def(
      "save_tensor",
      [](nb::handle array, nb::object path, const std::string& name) {
        save_tensor_pb(from_array(array, "array"), name, fspath(path, "path"));
      },
      "array"_a, "path"_a, "name"_a = "",
      nb::sig("def save_tensor(array: typing.Any, path: str | os.PathLike[str], name: str = '') -> None"),
      "Writes an array (NumPy or DLPack CPU tensor) as an ONNX TensorProto file named `name`.");
  m.def(
      "load_test_set",
      [](nb::object dir) {
        const std::string d = fspath(dir, "dir");
        return nb::make_tuple(test_set_dict(load_test_set(d, "input")), test_set_dict(load_test_set(d, "output")));
      },
      "dir"_a,
      nb::sig("def load_test_set(dir: str | os.PathLike[str]) -> tuple[dict[str, numpy.ndarray], dict[str, numpy.ndarray]]"),
      "Reads an ONNX test_data_set folder: returns (inputs, outputs), two dicts from the\n"
      "tensor names stored in input_K.pb / output_K.pb to NumPy arrays, in K order.");
  m.def(
      "set_log_level",
      [](const std::string& level) {
        auto l = spdlog::level::from_str(level);
        if (l == spdlog::level::off && level != "off")
          throw nb::value_error(("unknown log level '" + level +
                                 "' (trace, debug, info, warn, error, critical, off)").c_str());
        spdlog::set_level(l);
      },
      "level"_a,
      "Sets how much vdrt logs to stderr: 'trace', 'debug', 'info' (what the CLI shows),\n"
      "'warn' (the default in Python), 'error', 'critical' or 'off'.");

  bind_graph(m);
  bind_session(m);
  bind_optimize(m);
  bind_video(m);
}
