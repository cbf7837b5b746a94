#pragma once
// Host tensors: initializers, constants, graph inputs and outputs handed to or
// returned from a Session. Storage is shared (copying a Tensor is cheap) and
// 64-byte aligned so kernels can vectorise over it.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "graph/dtype.h"
#include "graph/error.h"
#include "graph/shape.h"

namespace vdrt {

class Tensor {
 public:
  Tensor() = default;
  Tensor(DType dtype, std::vector<int64_t> dims);  // zero-filled

  template <typename T>
  static Tensor from_vector(std::vector<int64_t> dims, const std::vector<T>& values) {
    Tensor t(DTypeOf<T>::value, std::move(dims));
    VDRT_CHECK(static_cast<int64_t>(values.size()) == t.numel(), "value count does not match shape");
    if constexpr (std::is_same_v<T, bool>) {
      for (size_t i = 0; i < values.size(); ++i) t.data<bool>()[i] = values[i];
    } else if (!values.empty()) {  // memcpy from an empty vector's null data is undefined
      std::memcpy(t.raw(), values.data(), t.nbytes());
    }
    return t;
  }
  template <typename T>
  static Tensor scalar(T v) { return from_vector<T>({}, std::vector<T>{v}); }

  bool defined() const { return dtype_ != DType::Undefined; }
  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& dims() const { return dims_; }
  int64_t numel() const { return vdrt::numel(dims_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }

  void* raw() { return storage_.get(); }
  const void* raw() const { return storage_.get(); }
  template <typename T> T* data() { check_type<T>(); return static_cast<T*>(raw()); }
  template <typename T> const T* data() const { check_type<T>(); return static_cast<const T*>(raw()); }

  // Values as int64/float regardless of the stored integer/float type; used
  // for shape arguments and for comparisons in tests.
  std::vector<int64_t> as_int64() const;
  std::vector<double> as_double() const;
  Tensor reshaped(std::vector<int64_t> dims) const;  // shares storage
  Tensor clone() const;
  Tensor to(DType dtype) const;                        // numeric conversion

 private:
  template <typename T> void check_type() const {
    VDRT_CHECK(DTypeOf<T>::value == dtype_, std::string("tensor holds ") + dtype_name(dtype_) +
                                                 ", accessed as " + dtype_name(DTypeOf<T>::value));
  }
  DType dtype_ = DType::Undefined;
  std::vector<int64_t> dims_;
  std::shared_ptr<uint8_t[]> storage_;
};

// Allocates `bytes`, zero-filled, with 64-byte alignment (from 2 MiB up:
// 2 MiB, advised as transparent huge pages); throws OutOfMemory with a
// message naming the size when the allocation fails.
std::shared_ptr<uint8_t[]> aligned_alloc_shared(size_t bytes);

}  // namespace vdrt
