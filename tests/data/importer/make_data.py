#!/usr/bin/env python3
"""Writes the importer's cross-check data with the ONNX Python package, so
that the C++ reader is tested against files it did not write itself.

    python3 tests/data/importer/make_data.py   # rewrites the files beside it

tensors/<dtype>_raw.pb     numpy_helper.from_array: raw little-endian bytes
tensors/<dtype>_typed.pb   helper.make_tensor(raw=False): typed fields, with
                           int32_data packing for 8/16-bit types
tensors/string.pb, uint16.pb   types vdrt refuses
small_model.onnx           opset 18 model: initializers, a Constant node,
                           every supported attribute kind, symbolic dims,
                           value_info, metadata, unnamed nodes, a custom domain
external_model.onnx(.data) the same weights saved as ONNX external data
Values are the ones tensor_pb_test.cpp and import_test.cpp expect.
"""
import os

import ml_dtypes
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
FLOATS = [-2.5, -1.0, 0.0, 0.5, 1.0, 3.5]  # exact in every float type, f8e5m2 included
SIGNED = [-3, -1, 0, 1, 2, 100]
UNSIGNED = [0, 1, 2, 3, 200, 255]
BOOLS = [True, False, True, True, False, False]

# name -> (ONNX type, numpy dtype, values)
TENSORS = {
    "f32": (TensorProto.FLOAT, np.float32, FLOATS),
    "f64": (TensorProto.DOUBLE, np.float64, FLOATS),
    "f16": (TensorProto.FLOAT16, np.float16, FLOATS),
    "bf16": (TensorProto.BFLOAT16, ml_dtypes.bfloat16, FLOATS),
    "f8e4m3": (TensorProto.FLOAT8E4M3FN, ml_dtypes.float8_e4m3fn, FLOATS),
    "f8e5m2": (TensorProto.FLOAT8E5M2, ml_dtypes.float8_e5m2, FLOATS),
    "i8": (TensorProto.INT8, np.int8, SIGNED),
    "u8": (TensorProto.UINT8, np.uint8, UNSIGNED),
    "i16": (TensorProto.INT16, np.int16, SIGNED),
    "i32": (TensorProto.INT32, np.int32, SIGNED),
    "i64": (TensorProto.INT64, np.int64, SIGNED),
    "bool": (TensorProto.BOOL, np.bool_, BOOLS),
}


def raw_tensor(name, onnx_type, np_type, values):
    arr = np.array(values, dtype=np.float64 if np_type not in (np.bool_,) else np.bool_).astype(np_type).reshape(2, 3)
    t = TensorProto()
    t.name = name
    t.data_type = onnx_type
    t.dims.extend(arr.shape)
    t.raw_data = arr.tobytes()  # numpy_helper does this too; spelled out for ml_dtypes types
    if onnx_type in (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64, TensorProto.INT8):
        assert numpy_helper.from_array(arr, name) == t
    return t


def write_tensors():
    out = os.path.join(HERE, "tensors")
    os.makedirs(out, exist_ok=True)
    for name, (onnx_type, np_type, values) in TENSORS.items():
        t = raw_tensor(name, onnx_type, np_type, values)
        with open(os.path.join(out, f"{name}_raw.pb"), "wb") as f:
            f.write(t.SerializeToString())
        typed = helper.make_tensor(name, onnx_type, [2, 3], values, raw=False)
        assert not typed.HasField("raw_data")
        np.testing.assert_array_equal(numpy_helper.to_array(typed).astype(np.float64),
                                      numpy_helper.to_array(t).astype(np.float64))
        with open(os.path.join(out, f"{name}_typed.pb"), "wb") as f:
            f.write(typed.SerializeToString())
    # A scalar and an empty tensor, the shapes that trip up size arithmetic.
    with open(os.path.join(out, "scalar_i64.pb"), "wb") as f:
        f.write(numpy_helper.from_array(np.array(7, dtype=np.int64), "scalar").SerializeToString())
    with open(os.path.join(out, "empty_f32.pb"), "wb") as f:
        f.write(numpy_helper.from_array(np.zeros((0, 3), dtype=np.float32), "empty").SerializeToString())
    with open(os.path.join(out, "string.pb"), "wb") as f:
        f.write(helper.make_tensor("names", TensorProto.STRING, [2], [b"a", b"b"]).SerializeToString())
    with open(os.path.join(out, "uint16.pb"), "wb") as f:
        f.write(numpy_helper.from_array(np.arange(3, dtype=np.uint16), "u16").SerializeToString())


def small_model():
    w = numpy_helper.from_array(np.arange(16, dtype=np.float32).reshape(4, 4) / 8, "w")
    b = numpy_helper.from_array(np.array([0.5, -0.5, 1.0, -1.0], dtype=np.float32), "b")
    shape = numpy_helper.from_array(np.array([0, -1], dtype=np.int64), "shape")
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["xw"], name="matmul"),
        helper.make_node("Add", ["xw", "b"], ["xwb"]),  # unnamed on purpose
        helper.make_node("Constant", [], ["alpha_t"], name="const",
                         value=helper.make_tensor("c", TensorProto.FLOAT, [1], [0.25])),
        helper.make_node("LeakyRelu", ["xwb"], ["act"], name="leaky", alpha=0.125),
        helper.make_node("Mul", ["act", "alpha_t"], ["scaled"]),  # unnamed on purpose
        helper.make_node("Transpose", ["scaled"], ["t"], name="transpose", perm=[1, 0]),
        helper.make_node("Reshape", ["t", "shape"], ["r"], name="reshape"),
        helper.make_node("Cast", ["r"], ["y"], name="cast", to=TensorProto.FLOAT16),
        helper.make_node("Probe", ["x"], ["probe_out"], name="probe", domain="com.example",
                         labels=["a", "bc"], weights=[1.5, -2.0], mode="fast", count=3),
    ]
    graph = helper.make_graph(
        nodes, "small",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, [4, "batch"]),
         helper.make_tensor_value_info("probe_out", TensorProto.FLOAT, ["batch", None])],
        [w, b, shape],
        value_info=[helper.make_tensor_value_info("xw", TensorProto.FLOAT, ["batch", 4]),
                    helper.make_tensor_value_info("act", TensorProto.FLOAT, ["batch", None])])
    model = helper.make_model(graph, producer_name="make_data.py", producer_version="1",
                              opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("com.example", 1)])
    model.ir_version = 8
    helper.set_model_props(model, {"vdrt.kind": "test", "note": "small model"})
    return model


def main():
    write_tensors()
    model = small_model()
    onnx.checker.check_model(model)
    onnx.save_model(model, os.path.join(HERE, "small_model.onnx"))
    ext = small_model()
    ext_path = os.path.join(HERE, "external_model.onnx")
    onnx.save_model(ext, ext_path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location="external_model.onnx.data", size_threshold=0)
    onnx.checker.check_model(ext_path)


if __name__ == "__main__":
    main()
