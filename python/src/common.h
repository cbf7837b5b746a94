#pragma once
// Shared by the binding files of the `vdrt` Python package: conversions
// between vdrt tensors and arrays (NumPy, or any DLPack CPU tensor through
// nanobind's ndarray), the `pipeline=` argument, vdrt::Error as Python
// exceptions, and Ctrl-C during long calls.
//
// Arrays: inputs are copied once into a vdrt Tensor (any strides, any
// DLPack-capable CPU tensor; the Session copies host inputs into its arena
// anyway); outputs are handed to NumPy without a copy (the array keeps the
// Tensor's storage alive). bf16 and float8 outputs, which NumPy lacks, come
// back as float32.
#include <atomic>
#include <string>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include "backends/backend.h"
#include "graph/graph.h"
#include "graph/tensor.h"
#include "runtime/session.h"

namespace vdrt::python {

namespace nb = nanobind;

// os.fspath(obj) as a string: str and os.PathLike are accepted.
std::string fspath(nb::handle obj, const char* what);

// "float32", "int64", ... (NumPy's names); bf16/f8 as "bfloat16", "float8_e4m3fn", "float8_e5m2".
const char* numpy_dtype_name(DType t);
// ONNX Runtime's type string: "tensor(float)".
std::string ort_type_name(DType t);
// A shape as a Python list: ints, str for symbolic dims, None for unknown
// dims; None for an unknown rank.
nb::object shape_to_python(const Shape& s);

// One device as vdrt.devices() lists it: device ("vulkan:0"), backend,
// index, name, kind, memory_bytes, details.
nb::dict device_dict(const DeviceInfo& d);

// A NumPy array viewing `t`'s storage (no copy); bf16 and float8 are converted to float32.
nb::object to_numpy(Tensor t);
// Copies an array-like (NumPy array, DLPack CPU tensor, anything numpy.asarray
// takes) into a Tensor. TypeError naming `what` for unsupported dtypes/devices.
Tensor from_array(nb::handle obj, const std::string& what);

// The `pipeline=` argument of InferenceSession and VideoPipeline:
//   None          the default pass pipeline (what `vdrt run` runs);
//   str/PathLike  a pipeline TOML file;
//   list of str   these passes with default options (`--passes a,b`);
//   [] or False   the graph as imported (`-O0`).
void set_pipeline(SessionOptions& so, nb::handle pipeline);
// The same as TOML text ("" for the raw graph) and a label for messages.
std::string pipeline_text(nb::handle pipeline, nb::handle passes, std::string* label);

// SessionOptions from the common keyword arguments, checked (ValueError).
SessionOptions session_options(const std::string& device, const std::string& precision, nb::handle pipeline,
                               int threads);

// While alive (in the main thread), SIGINT sets `cancel` instead of raising
// KeyboardInterrupt, so that a call running without the GIL can stop; the
// destructor restores Python's handler. interrupted() says whether Ctrl-C came.
class SigintGuard {
 public:
  SigintGuard();
  ~SigintGuard();
  SigintGuard(const SigintGuard&) = delete;
  SigintGuard& operator=(const SigintGuard&) = delete;
  const std::atomic<bool>* cancel() const;
  bool interrupted() const;

 private:
  bool installed_ = false;
  void (*previous_)(int) = nullptr;
};
// Raises KeyboardInterrupt (and any other pending signal's exception) now.
void raise_pending_signals();

// Registers vdrt.Error (RuntimeError) and vdrt.OutOfMemoryError (Error,
// MemoryError), with attributes reason, file, node, op, and the translation
// of vdrt::Error into them.
void register_errors(nb::module_& m);

// Binding functions, one per file.
void bind_session(nb::module_& m);
void bind_graph(nb::module_& m);
void bind_optimize(nb::module_& m);
void bind_video(nb::module_& m);

// Python object for a value's declaration (name, dtype, shape), ONNX Runtime's NodeArg.
struct NodeArg {
  std::string name, type, dtype;
  nb::object shape;
};
NodeArg node_arg(const Value& v);

}  // namespace vdrt::python
