"""Writes qdq_linear.onnx and its test_data_set_0: a small opset-21 model whose
weights are float8e4m3fn behind DequantizeLinear, in the layouts exporters
produce, for the quantize-fp8 pass's QDQ folding test.

    python tests/data/fp8/make_qdq_model.py

x [2, 5, 32] ->
  layer0: MatMul(x, DQ(W0 [32, 48] f8, s0 [48], axis=1)) + b0 [48]        (weight stored [K, N])
  layer1: MatMul(h, Transpose(DQ(W1 [40, 48] f8, s1 [40], axis=0)))      (stored [N, K], torch Linear)
  layer2: Gemm(reshape(h) [10, 40], DQ(W2 [24, 40] f8, s2 [24], axis=0), b2, transB=1, alpha=0.5)
  layer3: MatMul(QDQ(h2, float8, per tensor), DQ(W3 [24, 16] f8, scalar s3)): static activation QDQ stays
-> y [10, 16]. Expected outputs come from ONNX Runtime (CPU, float32).
"""
import os

import ml_dtypes
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
F8 = ml_dtypes.float8_e4m3fn


def f8_tensor(name, values):
    codes = values.astype(F8)
    t = helper.make_tensor(name, TensorProto.FLOAT8E4M3FN, codes.shape, codes.view(np.uint8).tobytes(), raw=True)
    return t


def quantize(w, axis):
    """Per-channel absmax/448 along `axis` (the output channel)."""
    amax = np.max(np.abs(w), axis=1 - axis)
    s = (amax / 448.0).astype(np.float32)
    shape = [1, 1]
    shape[axis] = -1
    return (w / s.reshape(shape)).astype(np.float32), s


def main():
    rng = np.random.default_rng(21)
    inits = []
    nodes = []

    w0 = rng.standard_normal((32, 48)).astype(np.float32) / np.sqrt(32)
    q0, s0 = quantize(w0, axis=1)
    inits += [f8_tensor("layer0.weight_f8", q0), numpy_helper.from_array(s0, "layer0.scale"),
              numpy_helper.from_array(rng.standard_normal(48).astype(np.float32) * 0.1, "layer0.bias")]
    nodes += [helper.make_node("DequantizeLinear", ["layer0.weight_f8", "layer0.scale"], ["w0"], name="/layer0/DQ", axis=1),
              helper.make_node("MatMul", ["x", "w0"], ["mm0"], name="/layer0/MatMul"),
              helper.make_node("Add", ["mm0", "layer0.bias"], ["h0"], name="/layer0/Add"),
              helper.make_node("Relu", ["h0"], ["r0"], name="/relu0")]

    w1 = rng.standard_normal((40, 48)).astype(np.float32) / np.sqrt(48)  # [N, K]
    q1, s1 = quantize(w1, axis=0)
    inits += [f8_tensor("layer1.weight_f8", q1), numpy_helper.from_array(s1, "layer1.scale")]
    nodes += [helper.make_node("DequantizeLinear", ["layer1.weight_f8", "layer1.scale"], ["w1"], name="/layer1/DQ", axis=0),
              helper.make_node("Transpose", ["w1"], ["w1t"], name="/layer1/Transpose", perm=[1, 0]),
              helper.make_node("MatMul", ["r0", "w1t"], ["h1"], name="/layer1/MatMul")]

    w2 = rng.standard_normal((24, 40)).astype(np.float32) / np.sqrt(40)  # [N, K]
    q2, s2 = quantize(w2, axis=0)
    inits += [f8_tensor("layer2.weight_f8", q2), numpy_helper.from_array(s2, "layer2.scale"),
              numpy_helper.from_array(rng.standard_normal(24).astype(np.float32) * 0.1, "layer2.bias"),
              numpy_helper.from_array(np.array([10, 40], np.int64), "shape2d")]
    nodes += [helper.make_node("Reshape", ["h1", "shape2d"], ["h1_2d"], name="/reshape"),
              helper.make_node("DequantizeLinear", ["layer2.weight_f8", "layer2.scale"], ["w2"], name="/layer2/DQ", axis=0),
              helper.make_node("Gemm", ["h1_2d", "w2", "layer2.bias"], ["h2"], name="/layer2/Gemm", transB=1, alpha=0.5)]

    w3 = rng.standard_normal((24, 16)).astype(np.float32) / np.sqrt(24)
    s3 = np.float32(np.max(np.abs(w3)) / 448.0)
    inits += [f8_tensor("layer3.weight_f8", (w3 / s3).astype(np.float32)),
              numpy_helper.from_array(np.array(s3, np.float32), "layer3.scale"),
              numpy_helper.from_array(np.array(0.02, np.float32), "act3.scale"),
              f8_tensor("act3.zero_point", np.zeros((), np.float32))]
    nodes += [helper.make_node("QuantizeLinear", ["h2", "act3.scale", "act3.zero_point"], ["h2_q"], name="/act3/Q"),
              helper.make_node("DequantizeLinear", ["h2_q", "act3.scale"], ["h2_dq"], name="/act3/DQ"),
              helper.make_node("DequantizeLinear", ["layer3.weight_f8", "layer3.scale"], ["w3"], name="/layer3/DQ"),
              helper.make_node("MatMul", ["h2_dq", "w3"], ["y"], name="/layer3/MatMul")]

    graph = helper.make_graph(nodes, "qdq_linear",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [10, 16])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], producer_name="make_qdq_model.py")
    model.ir_version = 10
    onnx.checker.check_model(model, full_check=True)
    path = os.path.join(HERE, "qdq_linear.onnx")
    onnx.save(model, path)

    x = rng.standard_normal((2, 5, 32)).astype(np.float32)
    (y,) = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": x})
    from onnx.reference import ReferenceEvaluator
    (y_ref,) = ReferenceEvaluator(model).run(None, {"x": x})
    print("ONNX Runtime vs onnx reference: max abs diff %.3g" % np.max(np.abs(y - y_ref)))
    d = os.path.join(HERE, "qdq_linear", "test_data_set_0")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x, "x").SerializeToString())
    with open(os.path.join(d, "output_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(y, "y").SerializeToString())
    print("wrote", path, "y range %.3f..%.3f" % (y.min(), y.max()))


if __name__ == "__main__":
    main()
