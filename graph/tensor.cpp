#include "graph/tensor.h"

#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace vdrt {

namespace {
constexpr size_t kHugePage = size_t(2) << 20;
}

std::shared_ptr<uint8_t[]> aligned_alloc_shared(size_t bytes) {
  // Buffers of 2 MiB and more (weights, the CPU arena, KV caches) are aligned
  // to 2 MiB and offered to the kernel as transparent huge pages: a kernel
  // that walks one head's rows of a [S, H, D] tensor touches a new 4 KiB
  // page every row (6 KiB apart at Wan width), and every TLB miss is a page
  // walk (two-dimensional under a hypervisor). bench_cpu_attention's
  // reduced-Wan attention ran 9% faster with its buffers on huge pages.
  const bool huge = bytes >= kHugePage;
  const size_t align = huge ? kHugePage : 64;
  size_t rounded = (std::max<size_t>(bytes, 1) + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (p && huge) madvise(p, rounded, MADV_HUGEPAGE);  // advice only: without THP nothing changes
#endif
  if (!p) throw OutOfMemory("out of memory allocating " + std::to_string(bytes) + " bytes");
  std::memset(p, 0, rounded);
  return std::shared_ptr<uint8_t[]>(static_cast<uint8_t*>(p), [](uint8_t* q) { std::free(q); });
}

Tensor::Tensor(DType dtype, std::vector<int64_t> dims) : dtype_(dtype), dims_(std::move(dims)) {
  for (int64_t d : dims_) VDRT_CHECK(d >= 0, "negative dimension in tensor shape " + dims_str(dims_));
  storage_ = aligned_alloc_shared(nbytes());
}

namespace {
template <typename Out>
std::vector<Out> convert_all(const Tensor& t) {
  std::vector<Out> out(static_cast<size_t>(t.numel()));
  const void* p = t.raw();
  for (size_t i = 0; i < out.size(); ++i) {
    switch (t.dtype()) {
      case DType::F32: out[i] = static_cast<Out>(static_cast<const float*>(p)[i]); break;
      case DType::F64: out[i] = static_cast<Out>(static_cast<const double*>(p)[i]); break;
      case DType::F16: out[i] = static_cast<Out>(half_to_float(static_cast<const uint16_t*>(p)[i])); break;
      case DType::BF16: out[i] = static_cast<Out>(bf16_to_float(static_cast<const uint16_t*>(p)[i])); break;
      case DType::F8E4M3: out[i] = static_cast<Out>(f8e4m3_to_float(static_cast<const uint8_t*>(p)[i])); break;
      case DType::F8E5M2: out[i] = static_cast<Out>(f8e5m2_to_float(static_cast<const uint8_t*>(p)[i])); break;
      case DType::I8: out[i] = static_cast<Out>(static_cast<const int8_t*>(p)[i]); break;
      case DType::U8: out[i] = static_cast<Out>(static_cast<const uint8_t*>(p)[i]); break;
      case DType::I16: out[i] = static_cast<Out>(static_cast<const int16_t*>(p)[i]); break;
      case DType::I32: out[i] = static_cast<Out>(static_cast<const int32_t*>(p)[i]); break;
      case DType::I64: out[i] = static_cast<Out>(static_cast<const int64_t*>(p)[i]); break;
      case DType::Bool: out[i] = static_cast<Out>(static_cast<const uint8_t*>(p)[i] != 0); break;
      default: throw Error(std::string("cannot read ") + dtype_name(t.dtype()) + " values as numbers");
    }
  }
  return out;
}
}  // namespace

std::vector<int64_t> Tensor::as_int64() const { return convert_all<int64_t>(*this); }
std::vector<double> Tensor::as_double() const { return convert_all<double>(*this); }

Tensor Tensor::reshaped(std::vector<int64_t> dims) const {
  VDRT_CHECK(vdrt::numel(dims) == numel(), "cannot reshape " + dims_str(dims_) + " to " + dims_str(dims));
  Tensor t = *this;
  t.dims_ = std::move(dims);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t(dtype_, dims_);
  if (nbytes()) std::memcpy(t.raw(), raw(), nbytes());
  return t;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype_) return clone();
  Tensor t(target, dims_);
  std::vector<double> v = as_double();
  for (size_t i = 0; i < v.size(); ++i) {
    switch (target) {
      case DType::F32: t.data<float>()[i] = static_cast<float>(v[i]); break;
      case DType::F64: t.data<double>()[i] = v[i]; break;
      case DType::I64: t.data<int64_t>()[i] = static_cast<int64_t>(v[i]); break;
      case DType::I32: t.data<int32_t>()[i] = static_cast<int32_t>(v[i]); break;
      case DType::Bool: static_cast<uint8_t*>(t.raw())[i] = v[i] != 0; break;
      case DType::F16: static_cast<uint16_t*>(t.raw())[i] = float_to_half(static_cast<float>(v[i])); break;
      case DType::BF16: static_cast<uint16_t*>(t.raw())[i] = float_to_bf16(static_cast<float>(v[i])); break;
      // Via float: a double that lands between two floats next to a float8
      // tie can round twice; Tensor::to is for tests and small constants.
      case DType::F8E4M3: static_cast<uint8_t*>(t.raw())[i] = float_to_f8e4m3(static_cast<float>(v[i])); break;
      case DType::F8E5M2: static_cast<uint8_t*>(t.raw())[i] = float_to_f8e5m2(static_cast<float>(v[i])); break;
      default: throw Error(std::string("conversion to ") + dtype_name(target) + " is not supported here");
    }
  }
  return t;
}

}  // namespace vdrt
