#pragma once
// Integer arithmetic that wraps like two's complement, as ONNX runtimes do
// in practice, instead of signed overflow (undefined behaviour in C++).
// Floats pass through unchanged.
#include <cstdint>
#include <type_traits>

namespace vdrt::cpu {

template <typename T>
using WrapUnsigned = std::conditional_t<(sizeof(T) < 4), uint32_t, std::make_unsigned_t<T>>;

template <typename T> T wrapping_add(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) return a + b;
  else return static_cast<T>(static_cast<WrapUnsigned<T>>(a) + static_cast<WrapUnsigned<T>>(b));
}
template <typename T> T wrapping_sub(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) return a - b;
  else return static_cast<T>(static_cast<WrapUnsigned<T>>(a) - static_cast<WrapUnsigned<T>>(b));
}
template <typename T> T wrapping_mul(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) return a * b;
  else return static_cast<T>(static_cast<WrapUnsigned<T>>(a) * static_cast<WrapUnsigned<T>>(b));
}
template <typename T> T wrapping_neg(T v) {
  if constexpr (std::is_floating_point_v<T>) return -v;
  else return static_cast<T>(WrapUnsigned<T>(0) - static_cast<WrapUnsigned<T>>(v));
}

}  // namespace vdrt::cpu
