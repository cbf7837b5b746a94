#include "common.h"

#include <csignal>
#include <fstream>
#include <iterator>
#include <cstring>
#include <vector>

#include <nanobind/stl/string.h>

#include "backends/registry.h"
#include "passes/pass_manager.h"
#include "passes/pipeline.h"

namespace vdrt::python {

nb::dict device_dict(const DeviceInfo& d) {
  nb::dict e;
  e["device"] = d.backend == "cpu" ? d.backend : d.backend + ":" + std::to_string(d.index);
  e["backend"] = d.backend;
  e["index"] = d.index;
  e["name"] = d.name;
  e["kind"] = d.kind;
  e["memory_bytes"] = d.memory_bytes;
  e["details"] = d.details;
  return e;
}

namespace {

std::atomic<bool> g_sigint{false};
extern "C" void on_sigint(int) { g_sigint.store(true); }

PyObject* g_error = nullptr;      // vdrt.Error
PyObject* g_oom_error = nullptr;  // vdrt.OutOfMemoryError

struct DTypeEntry {
  DType dtype;
  nb::dlpack::dtype_code code;
  uint8_t bits;
};
constexpr DTypeEntry kDTypes[] = {
    {DType::F32, nb::dlpack::dtype_code::Float, 32}, {DType::F16, nb::dlpack::dtype_code::Float, 16},
    {DType::F64, nb::dlpack::dtype_code::Float, 64}, {DType::BF16, nb::dlpack::dtype_code::Bfloat, 16},
    {DType::I8, nb::dlpack::dtype_code::Int, 8},     {DType::I16, nb::dlpack::dtype_code::Int, 16},
    {DType::I32, nb::dlpack::dtype_code::Int, 32},   {DType::I64, nb::dlpack::dtype_code::Int, 64},
    {DType::U8, nb::dlpack::dtype_code::UInt, 8},    {DType::Bool, nb::dlpack::dtype_code::Bool, 8},
};

std::string dlpack_name(nb::dlpack::dtype d) {
  const char* kind = "?";
  switch (static_cast<nb::dlpack::dtype_code>(d.code)) {
    case nb::dlpack::dtype_code::Int: kind = "int"; break;
    case nb::dlpack::dtype_code::UInt: kind = "uint"; break;
    case nb::dlpack::dtype_code::Float: kind = "float"; break;
    case nb::dlpack::dtype_code::Bfloat: kind = "bfloat"; break;
    case nb::dlpack::dtype_code::Complex: kind = "complex"; break;
    case nb::dlpack::dtype_code::Bool: return "bool";
    default: kind = "dtype-code-" ; break;
  }
  return std::string(kind) + std::to_string(d.bits);
}

// Copies a strided array into contiguous `out` (strides in elements).
void copy_strided(const uint8_t* src, uint8_t* dst, size_t item, const std::vector<size_t>& shape,
                  const std::vector<int64_t>& strides, size_t dim, size_t& written) {
  if (dim == shape.size()) {
    std::memcpy(dst + written, src, item);
    written += item;
    return;
  }
  for (size_t i = 0; i < shape[dim]; ++i)
    copy_strided(src + static_cast<int64_t>(i) * strides[dim] * static_cast<int64_t>(item), dst, item, shape, strides,
                 dim + 1, written);
}

}  // namespace

std::string fspath(nb::handle obj, const char* what) {
  if (nb::isinstance<nb::str>(obj)) return nb::cast<std::string>(obj);
  nb::object os = nb::module_::import_("os");
  nb::object p;
  try {
    p = os.attr("fspath")(obj);
  } catch (nb::python_error&) {
    throw nb::type_error((std::string(what) + ": expected a path (str or os.PathLike), got " +
                          nb::cast<std::string>(nb::str(obj.type().attr("__name__"))))
                             .c_str());
  }
  if (!nb::isinstance<nb::str>(p))
    throw nb::type_error((std::string(what) + ": expected a str path, not bytes").c_str());
  return nb::cast<std::string>(p);
}

const char* numpy_dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "float32";
    case DType::F16: return "float16";
    case DType::BF16: return "bfloat16";
    case DType::F64: return "float64";
    case DType::F8E4M3: return "float8_e4m3fn";
    case DType::F8E5M2: return "float8_e5m2";
    case DType::I8: return "int8";
    case DType::U8: return "uint8";
    case DType::I16: return "int16";
    case DType::I32: return "int32";
    case DType::I64: return "int64";
    case DType::Bool: return "bool";
    case DType::Undefined: return "undefined";
  }
  return "undefined";
}

std::string ort_type_name(DType t) {
  switch (t) {
    case DType::F32: return "tensor(float)";
    case DType::F16: return "tensor(float16)";
    case DType::BF16: return "tensor(bfloat16)";
    case DType::F64: return "tensor(double)";
    case DType::F8E4M3: return "tensor(float8e4m3fn)";
    case DType::F8E5M2: return "tensor(float8e5m2)";
    case DType::I8: return "tensor(int8)";
    case DType::U8: return "tensor(uint8)";
    case DType::I16: return "tensor(int16)";
    case DType::I32: return "tensor(int32)";
    case DType::I64: return "tensor(int64)";
    case DType::Bool: return "tensor(bool)";
    case DType::Undefined: return "tensor(undefined)";
  }
  return "tensor(undefined)";
}

nb::object shape_to_python(const Shape& s) {
  if (!s.rank_known()) return nb::none();
  nb::list out;
  for (const Dim& d : s.dims()) {
    if (d.known()) out.append(nb::int_(d.value()));
    else if (d.is_symbol()) out.append(nb::str(d.name().c_str()));
    else out.append(nb::none());
  }
  return out;
}

NodeArg node_arg(const Value& v) {
  return NodeArg{v.name(), ort_type_name(v.dtype()), numpy_dtype_name(v.dtype()), shape_to_python(v.shape())};
}

nb::object to_numpy(Tensor t) {
  if (t.dtype() == DType::BF16 || t.dtype() == DType::F8E4M3 || t.dtype() == DType::F8E5M2) t = t.to(DType::F32);
  const DTypeEntry* entry = nullptr;
  for (const DTypeEntry& e : kDTypes)
    if (e.dtype == t.dtype()) entry = &e;
  if (!entry) throw Error(std::string("cannot return a tensor of dtype ") + dtype_name(t.dtype()) + " to Python");
  std::vector<size_t> shape(t.dims().begin(), t.dims().end());
  if (t.nbytes() == 0 || !t.raw()) {
    nb::list dims;
    for (size_t d : shape) dims.append(d);
    return nb::module_::import_("numpy").attr("zeros")(nb::tuple(dims), numpy_dtype_name(t.dtype()));
  }
  auto* holder = new Tensor(std::move(t));
  nb::capsule owner(holder, [](void* p) noexcept { delete static_cast<Tensor*>(p); });
  nb::dlpack::dtype dt;
  dt.code = static_cast<uint8_t>(entry->code);
  dt.bits = entry->bits;
  dt.lanes = 1;
  nb::ndarray<nb::numpy> array(holder->raw(), shape.size(), shape.data(), owner, nullptr, dt);
  return array.cast();
}

Tensor from_array(nb::handle obj, const std::string& what) {
  nb::ndarray<nb::ro, nb::device::cpu> a;
  if (!nb::try_cast(obj, a)) {
    nb::object converted;
    try {
      converted = nb::module_::import_("numpy").attr("asarray")(obj);
    } catch (nb::python_error&) {
    }
    if (!converted.is_valid() || !nb::try_cast(converted, a))
      throw nb::type_error((what + ": expected a NumPy array or a DLPack CPU tensor, got " +
                            nb::cast<std::string>(nb::str(obj.type().attr("__name__"))))
                               .c_str());
  }
  const nb::dlpack::dtype dt = a.dtype();
  DType dtype = DType::Undefined;
  for (const DTypeEntry& e : kDTypes)
    if (static_cast<uint8_t>(e.code) == dt.code && e.bits == dt.bits && dt.lanes == 1) dtype = e.dtype;
  if (dtype == DType::Undefined)
    throw nb::type_error((what + ": dtype " + dlpack_name(dt) +
                          " is not supported (float32, float16, bfloat16, float64, int8, int16, int32, int64, "
                          "uint8, bool)")
                             .c_str());
  std::vector<int64_t> dims;
  std::vector<size_t> shape;
  std::vector<int64_t> strides;
  for (size_t i = 0; i < a.ndim(); ++i) {
    dims.push_back(static_cast<int64_t>(a.shape(i)));
    shape.push_back(a.shape(i));
    strides.push_back(a.stride(i));
  }
  Tensor t(dtype, dims);
  if (t.nbytes() == 0) return t;
  const size_t item = dtype_size(dtype);
  bool contiguous = true;
  int64_t expect = 1;
  for (size_t i = a.ndim(); i-- > 0;) {
    if (shape[i] != 1 && strides[i] != expect) contiguous = false;
    expect *= static_cast<int64_t>(shape[i]);
  }
  const auto* src = static_cast<const uint8_t*>(a.data());
  if (contiguous) {
    std::memcpy(t.raw(), src, t.nbytes());
  } else {
    size_t written = 0;
    copy_strided(src, static_cast<uint8_t*>(t.raw()), item, shape, strides, 0, written);
  }
  return t;
}

std::string pipeline_text(nb::handle pipeline, nb::handle passes, std::string* label) {
  const bool have_passes = passes.is_valid() && !passes.is_none();
  if (have_passes && !pipeline.is_none())
    throw nb::value_error("give either pipeline= or passes=, not both");
  nb::handle list = have_passes ? passes : pipeline;
  if (nb::isinstance<nb::bool_>(pipeline) && !have_passes) {
    if (nb::cast<bool>(pipeline)) throw nb::value_error("pipeline=True: give None (the default pipeline), a file or a list");
    *label = "<none>";
    return "";
  }
  if (pipeline.is_none() && !have_passes) {
    *label = "<default>";
    return default_pipeline_toml();
  }
  if (nb::isinstance<nb::list>(list) || nb::isinstance<nb::tuple>(list)) {
    std::string toml, names;
    for (nb::handle item : list) {
      if (!nb::isinstance<nb::str>(item)) throw nb::type_error("passes: expected a list of pass names (str)");
      const std::string name = nb::cast<std::string>(item);
      toml += "[[pass]]\nname = \"" + name + "\"\n";
      names += (names.empty() ? "" : ",") + name;
    }
    *label = "--passes " + names;
    return toml;
  }
  if (have_passes) {  // passes="a,b" as the CLI spells it
    if (!nb::isinstance<nb::str>(list)) throw nb::type_error("passes: expected a list of pass names");
    std::string toml, name;
    const std::string text = nb::cast<std::string>(list);
    for (size_t i = 0; i <= text.size(); ++i) {
      if (i == text.size() || text[i] == ',') {
        if (!name.empty()) toml += "[[pass]]\nname = \"" + name + "\"\n";
        name.clear();
      } else if (text[i] != ' ') {
        name += text[i];
      }
    }
    *label = "--passes " + text;
    return toml;
  }
  const std::string path = fspath(pipeline, "pipeline");
  Pipeline parsed = load_pipeline(path);  // a missing or malformed file names itself
  (void)parsed;
  std::ifstream f(path);
  *label = path;
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void set_pipeline(SessionOptions& so, nb::handle pipeline) {
  so.pass_pipeline_text = pipeline_text(pipeline, nb::handle(), &so.pass_pipeline_label);
  if (!so.pass_pipeline_text.empty()) PassManager check(parse_pipeline(so.pass_pipeline_text, so.pass_pipeline_label));
}

SessionOptions session_options(const std::string& device, const std::string& precision, nb::handle pipeline,
                               int threads) {
  SessionOptions so;
  if (precision != "fp32" && precision != "fp16")
    throw nb::value_error(("precision must be 'fp32' or 'fp16', got '" + precision + "'").c_str());
  if (threads < 0) throw nb::value_error(("threads must be >= 0 (0 = all cores), got " + std::to_string(threads)).c_str());
  const std::string name = device.substr(0, device.find(':'));
  if (device.empty()) throw nb::value_error("device is empty (give 'auto', 'cpu', 'vulkan:0', ...)");
  if (name != "auto") {
    auto names = BackendRegistry::instance().backend_names();
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      std::string known = "auto";
      for (const auto& n : names) known += ", " + n;
      throw nb::value_error(("device '" + device + "': backend '" + name +
                             "' is not compiled into this build (available: " + known + ")")
                                .c_str());
    }
  }
  so.device = device;
  so.precision = precision;
  so.threads = threads;
  set_pipeline(so, pipeline);
  return so;
}

SigintGuard::SigintGuard() {
  g_sigint = false;
  nb::object threading = nb::module_::import_("threading");
  if (!threading.attr("current_thread")().is(threading.attr("main_thread")())) return;
  previous_ = std::signal(SIGINT, on_sigint);
  installed_ = previous_ != SIG_ERR;
}

SigintGuard::~SigintGuard() {
  if (installed_) std::signal(SIGINT, previous_);
}

const std::atomic<bool>* SigintGuard::cancel() const { return &g_sigint; }
bool SigintGuard::interrupted() const { return g_sigint.load(); }

void raise_pending_signals() {
  if (PyErr_CheckSignals() != 0) throw nb::python_error();
}

void register_errors(nb::module_& m) {
  g_error = PyErr_NewExceptionWithDoc(
      "vdrt.Error",
      "A failure reported by vdrt: a bad model or data, or a run that failed.\n\n"
      "str(e) is vdrt's one-line message (file: node 'name' (op): reason); the\n"
      "parts are in e.reason, e.file, e.node and e.op (empty when unknown).",
      PyExc_RuntimeError, nullptr);
  nb::object bases = nb::make_tuple(nb::handle(g_error), nb::handle(PyExc_MemoryError));
  g_oom_error = PyErr_NewExceptionWithDoc("vdrt.OutOfMemoryError",
                                          "A buffer could not be allocated (host or device memory); a vdrt.Error.",
                                          bases.ptr(), nullptr);
  m.attr("Error") = nb::handle(g_error);
  m.attr("OutOfMemoryError") = nb::handle(g_oom_error);
  nb::register_exception_translator([](const std::exception_ptr& p, void*) {
    auto raise = [](PyObject* cls, const Error& e) {
      nb::object inst = nb::steal(PyObject_CallOneArg(cls, nb::str(e.what()).ptr()));
      if (!inst.is_valid()) return;  // the call set an error already
      inst.attr("reason") = nb::str(e.reason().c_str());
      inst.attr("file") = nb::str(e.site().file.c_str());
      inst.attr("node") = nb::str(e.site().node.c_str());
      inst.attr("op") = nb::str(e.site().op.c_str());
      PyErr_SetObject(cls, inst.ptr());
    };
    try {
      std::rethrow_exception(p);
    } catch (const OutOfMemory& e) {
      raise(g_oom_error, e);
    } catch (const Error& e) {
      raise(g_error, e);
    }
  });
}

}  // namespace vdrt::python
