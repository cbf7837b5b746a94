#include "importer/tensor_proto.h"

#include <bit>
#include <cstring>

#include "importer/data_type.h"
#include "importer/external_data.h"

namespace vdrt::onnx_io {

// ONNX stores raw_data little-endian; the copies below rely on the host
// matching it rather than swapping bytes.
static_assert(std::endian::native == std::endian::little, "vdrt's ONNX reader assumes a little-endian host");

namespace {

struct Layout {
  DType dtype;
  std::vector<int64_t> dims;
  uint64_t numel;
  uint64_t nbytes;
};

std::string shape_desc(const Layout& l) { return dims_str(l.dims) + " of " + dtype_name(l.dtype); }

// Sizes come from untrusted input: check them before allocating anything.
Layout read_layout(const onnx::TensorProto& proto, const std::string& what) {
  auto dt = dtype_from_onnx(proto.data_type());
  VDRT_CHECK(dt.has_value(), what + " has element type " + onnx_type_name(proto.data_type()) +
                                 ", which vdrt does not support");
  Layout l{*dt, {proto.dims().begin(), proto.dims().end()}, 1, 0};
  for (int64_t d : l.dims) {
    VDRT_CHECK(d >= 0, what + " has a negative dimension in its shape " + dims_str(l.dims));
    VDRT_CHECK(!__builtin_mul_overflow(l.numel, static_cast<uint64_t>(d), &l.numel),
               what + " has an impossibly large shape " + dims_str(l.dims));
  }
  VDRT_CHECK(!__builtin_mul_overflow(l.numel, dtype_size(l.dtype), &l.nbytes) && l.nbytes < (uint64_t{1} << 62),
             what + " has an impossibly large shape " + dims_str(l.dims));
  return l;
}

// Bool tensors must hold 0/1 bytes whatever the file had, so that kernels can
// compare them directly.
void normalise_bools(Tensor& t) {
  if (t.dtype() != DType::Bool) return;
  auto* p = static_cast<uint8_t*>(t.raw());
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = p[i] != 0;
}

Tensor read_external(const onnx::TensorProto& proto, const Layout& l, const std::string& what,
                     const TensorReadContext& ctx) {
  ExternalDataRef ref;
  bool has_location = false;
  for (const auto& kv : proto.external_data()) {
    if (kv.key() == "location") {
      ref.location = kv.value();
      has_location = true;
    } else if (kv.key() == "offset") {
      ref.offset = parse_external_number("offset", kv.value(), what);
    } else if (kv.key() == "length") {
      ref.length = parse_external_number("length", kv.value(), what);
    }  // "checksum" and unknown keys carry nothing we need
  }
  VDRT_CHECK(has_location, what + " is stored as external data but names no location");
  std::filesystem::path file;
  try {
    file = resolve_external_path(ctx.base_dir, ref.location);
  } catch (const Error& e) {
    throw Error(e.reason() + " (" + what + ")");
  }
  if (ref.length)
    VDRT_CHECK(*ref.length == l.nbytes, "external data of " + what + " is " + std::to_string(*ref.length) +
                                            " bytes but its shape " + shape_desc(l) + " needs " +
                                            std::to_string(l.nbytes));
  check_external_range(file, ref.location, ref.offset, l.nbytes);
  Tensor t(l.dtype, l.dims);
  if (ctx.load_external_data) {
    read_external_bytes(file, ref.location, ref.offset, l.nbytes, t.raw());
    normalise_bools(t);
  }
  return t;
}

template <typename Field>
void check_count(const Field& field, const Layout& l, const std::string& what, const char* field_name) {
  VDRT_CHECK(static_cast<uint64_t>(field.size()) == l.numel,
             what + " holds " + std::to_string(field.size()) + " values in " + field_name + " but its shape " +
                 shape_desc(l) + " needs " + std::to_string(l.numel));
}

// int32_data carries every type narrower than 32 bits: integers by value,
// 16-bit and 8-bit floats by their bit patterns.
template <typename Narrow>
void unpack_int32(const onnx::TensorProto& proto, Tensor& t) {
  auto* out = static_cast<Narrow*>(t.raw());
  for (int i = 0; i < proto.int32_data_size(); ++i) out[i] = static_cast<Narrow>(proto.int32_data(i));
}

Tensor read_typed_fields(const onnx::TensorProto& proto, const Layout& l, const std::string& what) {
  switch (l.dtype) {
    case DType::F32: check_count(proto.float_data(), l, what, "float_data"); break;
    case DType::F64: check_count(proto.double_data(), l, what, "double_data"); break;
    case DType::I64: check_count(proto.int64_data(), l, what, "int64_data"); break;
    default: check_count(proto.int32_data(), l, what, "int32_data"); break;
  }
  Tensor t(l.dtype, l.dims);
  if (l.numel == 0) return t;
  switch (l.dtype) {
    case DType::F32: std::memcpy(t.raw(), proto.float_data().data(), l.nbytes); break;
    case DType::F64: std::memcpy(t.raw(), proto.double_data().data(), l.nbytes); break;
    case DType::I64: std::memcpy(t.raw(), proto.int64_data().data(), l.nbytes); break;
    case DType::I32: std::memcpy(t.raw(), proto.int32_data().data(), l.nbytes); break;
    case DType::I16: case DType::F16: case DType::BF16: unpack_int32<uint16_t>(proto, t); break;
    case DType::I8: case DType::U8: case DType::F8E4M3: case DType::F8E5M2: unpack_int32<uint8_t>(proto, t); break;
    case DType::Bool: unpack_int32<uint8_t>(proto, t); normalise_bools(t); break;
    case DType::Undefined: break;
  }
  return t;
}

}  // namespace

Tensor tensor_from_proto(const onnx::TensorProto& proto, const std::string& what, const TensorReadContext& ctx) {
  VDRT_CHECK(!proto.has_segment(), what + " is a segmented tensor, which vdrt does not support");
  Layout l = read_layout(proto, what);
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) return read_external(proto, l, what, ctx);
  if (proto.has_raw_data()) {
    const std::string& raw = proto.raw_data();
    VDRT_CHECK(raw.size() == l.nbytes, what + " holds " + std::to_string(raw.size()) +
                                           " bytes of raw data but its shape " + shape_desc(l) + " needs " +
                                           std::to_string(l.nbytes));
    Tensor t(l.dtype, l.dims);
    if (l.nbytes) std::memcpy(t.raw(), raw.data(), l.nbytes);
    normalise_bools(t);
    return t;
  }
  return read_typed_fields(proto, l, what);
}

void tensor_header_to_proto(const Tensor& tensor, const std::string& name, onnx::TensorProto* proto) {
  proto->set_name(name);
  proto->set_data_type(dtype_to_onnx(tensor.dtype()));
  for (int64_t d : tensor.dims()) proto->add_dims(d);
}

void tensor_to_proto(const Tensor& tensor, const std::string& name, onnx::TensorProto* proto) {
  tensor_header_to_proto(tensor, name, proto);
  proto->set_raw_data(static_cast<const char*>(tensor.raw()), tensor.nbytes());
}

}  // namespace vdrt::onnx_io
