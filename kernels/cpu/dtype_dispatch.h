#pragma once
// Maps a runtime DType to a C++ element type so one templated kernel body
// serves every dtype an op accepts. Bool is handled as uint8_t (0/1 bytes),
// which avoids undefined behaviour on bytes other than 0 and 1.
#include <cstdint>
#include <string>
#include <type_traits>

#include "graph/dtype.h"
#include "graph/error.h"

namespace vdrt::cpu {

template <typename T> struct TypeTag { using type = T; };

// Calls fn(TypeTag<T>{}) for the numeric dtypes: floats f32/f64 and all
// integer types. `what` names the op in the error for anything else.
template <typename Fn>
decltype(auto) dispatch_numeric(DType t, const char* what, Fn&& fn) {
  switch (t) {
    case DType::F32: return fn(TypeTag<float>{});
    case DType::F64: return fn(TypeTag<double>{});
    case DType::I8: return fn(TypeTag<int8_t>{});
    case DType::U8: return fn(TypeTag<uint8_t>{});
    case DType::I16: return fn(TypeTag<int16_t>{});
    case DType::I32: return fn(TypeTag<int32_t>{});
    case DType::I64: return fn(TypeTag<int64_t>{});
    default: break;
  }
  throw Error(std::string(what) + " does not support dtype " + dtype_name(t));
}

// Numeric dtypes plus bool (as uint8_t).
template <typename Fn>
decltype(auto) dispatch_numeric_or_bool(DType t, const char* what, Fn&& fn) {
  if (t == DType::Bool) return fn(TypeTag<uint8_t>{});
  return dispatch_numeric(t, what, std::forward<Fn>(fn));
}

template <typename Fn>
decltype(auto) dispatch_float(DType t, const char* what, Fn&& fn) {
  switch (t) {
    case DType::F32: return fn(TypeTag<float>{});
    case DType::F64: return fn(TypeTag<double>{});
    default: break;
  }
  throw Error(std::string(what) + " does not support dtype " + dtype_name(t));
}

// 16-bit floats are computed in f32 and rounded back; these say so.
inline bool is_half_float(DType t) { return t == DType::F16 || t == DType::BF16; }

}  // namespace vdrt::cpu
