#include "graph/onnx_dtype.h"

#include "graph/error.h"

namespace vdrt {

namespace {
// TensorProto.DataType values from onnx.proto (stable across ONNX releases).
enum OnnxCode : int32_t {
  kUndefined = 0, kFloat = 1, kUint8 = 2, kInt8 = 3, kUint16 = 4, kInt16 = 5, kInt32 = 6, kInt64 = 7,
  kString = 8, kBool = 9, kFloat16 = 10, kDouble = 11, kUint32 = 12, kUint64 = 13, kComplex64 = 14,
  kComplex128 = 15, kBfloat16 = 16, kFloat8E4M3FN = 17, kFloat8E4M3FNUZ = 18, kFloat8E5M2 = 19,
  kFloat8E5M2FNUZ = 20, kUint4 = 21, kInt4 = 22, kFloat4E2M1 = 23, kFloat8E8M0 = 24, kUint2 = 25, kInt2 = 26,
};
}  // namespace

std::optional<DType> dtype_from_onnx_code(int64_t code) {
  switch (code) {
    case kFloat: return DType::F32;
    case kFloat16: return DType::F16;
    case kBfloat16: return DType::BF16;
    case kDouble: return DType::F64;
    case kFloat8E4M3FN: return DType::F8E4M3;
    case kFloat8E5M2: return DType::F8E5M2;
    case kInt8: return DType::I8;
    case kUint8: return DType::U8;
    case kInt16: return DType::I16;
    case kInt32: return DType::I32;
    case kInt64: return DType::I64;
    case kBool: return DType::Bool;
    default: return std::nullopt;
  }
}

int32_t dtype_to_onnx_code(DType t) {
  switch (t) {
    case DType::F32: return kFloat;
    case DType::F16: return kFloat16;
    case DType::BF16: return kBfloat16;
    case DType::F64: return kDouble;
    case DType::F8E4M3: return kFloat8E4M3FN;
    case DType::F8E5M2: return kFloat8E5M2;
    case DType::I8: return kInt8;
    case DType::U8: return kUint8;
    case DType::I16: return kInt16;
    case DType::I32: return kInt32;
    case DType::I64: return kInt64;
    case DType::Bool: return kBool;
    case DType::Undefined: break;
  }
  throw Error("a tensor of undefined element type cannot be written to ONNX");
}

std::string onnx_type_name(int64_t code) {
  switch (code) {
    case kUndefined: return "UNDEFINED";
    case kFloat: return "FLOAT";
    case kUint8: return "UINT8";
    case kInt8: return "INT8";
    case kUint16: return "UINT16";
    case kInt16: return "INT16";
    case kInt32: return "INT32";
    case kInt64: return "INT64";
    case kString: return "STRING";
    case kBool: return "BOOL";
    case kFloat16: return "FLOAT16";
    case kDouble: return "DOUBLE";
    case kUint32: return "UINT32";
    case kUint64: return "UINT64";
    case kComplex64: return "COMPLEX64";
    case kComplex128: return "COMPLEX128";
    case kBfloat16: return "BFLOAT16";
    case kFloat8E4M3FN: return "FLOAT8E4M3FN";
    case kFloat8E4M3FNUZ: return "FLOAT8E4M3FNUZ";
    case kFloat8E5M2: return "FLOAT8E5M2";
    case kFloat8E5M2FNUZ: return "FLOAT8E5M2FNUZ";
    case kUint4: return "UINT4";
    case kInt4: return "INT4";
    case kFloat4E2M1: return "FLOAT4E2M1";
    case kFloat8E8M0: return "FLOAT8E8M0";
    case kUint2: return "UINT2";
    case kInt2: return "INT2";
    default: return "code " + std::to_string(code);
  }
}

}  // namespace vdrt
