#!/usr/bin/env python3
"""Write the per-operator ONNX fixtures that crates/fhez-onnx's tests read.

Needs only the `onnx` and `numpy` packages (see README.md beside this file). Every case is a
tiny model built with `onnx.helper`, with a fixed input shape and float32 tensors, saved as
`NAME.onnx` next to its input `NAME.in.npy` and its expected output `NAME.out.npy`; the
expected output is what `onnx.reference.ReferenceEvaluator` computes from the committed model
and input. `manifest.json` lists every case (see the fixtures' README.md for its fields).

Deterministic: each case draws its numbers from a generator seeded with the CRC-32 of its
name, so adding, removing or reordering cases leaves the other cases' bytes unchanged.

Usage: python examples/onnx/make_fixtures.py [--out DIR]
(default DIR: crates/fhez-onnx/tests/fixtures relative to the repository root).
"""

from __future__ import annotations

import argparse
import json
import os
import zlib
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "crates" / "fhez-onnx" / "tests" / "fixtures"

# The opset most cases use (what torch.onnx.export's classic exporter writes by default).
OPSET = 17
# Samples in NAME.calib.npy for the cases whose activation the importer replaces by a
# polynomial fitted on calibration data.
CALIB_SAMPLES = 64
# Tolerance rule for exact cases: ATOL_REL * max(1, max |expected|). float32 has a relative
# precision of 2^-24 (6e-8); the fixtures' dot products have at most a few hundred terms, so an
# importer computing in f64 from the same float32 weights lands within ~1e-5 relative; the
# script checks that the float32 reference and a float64 twin of each graph agree to within a
# tenth of the tolerance before writing anything.
ATOL_REL = 1e-4
# Whole-directory size budget (bytes).
MAX_DIR_BYTES = 2 * 1024 * 1024

F32 = TensorProto.FLOAT
F64 = TensorProto.DOUBLE


class Case:
    """One fixture: a graph description that can be built in float32 or float64."""

    def __init__(self, name, build, opset=OPSET, approximated=(), calibrate=False, notes=""):
        self.name = name
        self.build = build  # build(rng) -> (nodes, inputs, outputs, inits) in float32
        self.opset = opset
        self.approximated = list(approximated)
        self.calibrate = calibrate
        self.notes = notes


def rng_for(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def w(rng, *shape, scale=None):
    """float32 weights ~ N(0, scale^2), scale defaulting to 1/sqrt(fan-in)."""
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else int(shape[0])
    s = scale if scale is not None else 1.0 / np.sqrt(max(fan_in, 1))
    return (rng.standard_normal(shape) * s).astype(np.float32)


def bn_params(rng, c):
    return {
        "scale": rng.uniform(0.5, 1.5, c).astype(np.float32),
        "B": (rng.standard_normal(c) * 0.1).astype(np.float32),
        "mean": (rng.standard_normal(c) * 0.1).astype(np.float32),
        "var": rng.uniform(0.5, 2.0, c).astype(np.float32),
    }


def make_model(name, nodes, inputs, outputs, inits, opset, elem=F32, check=True):
    """Build a ModelProto; float arrays in `inits` are cast to the element type `elem`."""
    np_t = np.float32 if elem == F32 else np.float64
    tensors = []
    for iname, arr in inits.items():
        a = np.asarray(arr)
        if a.dtype.kind == "f":
            a = a.astype(np_t)
        tensors.append(numpy_helper.from_array(a, iname))
    if elem != F32:  # widen float Constant nodes too (the float64 twin)
        widened = []
        for n in nodes:
            if n.op_type == "Constant":
                v = numpy_helper.to_array(next(a.t for a in n.attribute if a.name == "value"))
                if v.dtype.kind == "f":
                    n = helper.make_node("Constant", [], list(n.output), name=n.name,
                                         value=numpy_helper.from_array(v.astype(np_t)))
            widened.append(n)
        nodes = widened
    vin = [helper.make_tensor_value_info(n, elem, s) for n, s in inputs]
    vout = [helper.make_tensor_value_info(n, t if t is not None else elem, s) for n, t, s in outputs]
    graph = helper.make_graph(nodes, name, vin, vout, initializer=tensors)
    opsets = [helper.make_opsetid("", opset)]
    ir = helper.find_min_ir_version_for(opsets) if opset <= onnx.defs.onnx_opset_version() else 8
    model = helper.make_model(graph, opset_imports=opsets, ir_version=ir,
                              producer_name="fhez examples/onnx/make_fixtures.py")
    if check:
        onnx.checker.check_model(model, full_check=True)
    return model


def run(model, x):
    sess = ReferenceEvaluator(model)
    feed = {model.graph.input[0].name: x}
    return sess.run(None, feed)[0]


# ---------------------------------------------------------------------------
# graph builders: each returns (nodes, inputs, outputs, inits); outputs are
# (name, elem type or None for the float type, shape or None to infer)
# ---------------------------------------------------------------------------

def conv_case(cin, cout, hw, k, stride, pad, bias):
    def build(rng):
        inits = {"conv.weight": w(rng, cout, cin, k, k)}
        ins = ["x", "conv.weight"]
        if bias:
            inits["conv.bias"] = w(rng, cout, scale=0.1)
            ins.append("conv.bias")
        node = helper.make_node("Conv", ins, ["y"], name="conv", kernel_shape=[k, k],
                                strides=[stride, stride], pads=[pad] * 4)
        return [node], [("x", [1, cin, hw, hw])], [("y", None, None)], inits
    return build


def gemm_case(n_in, n_out, trans_b, alpha=1.0, beta=1.0, bias=True):
    def build(rng):
        wt = w(rng, n_out, n_in)
        inits = {"fc.weight": wt if trans_b else np.ascontiguousarray(wt.T)}
        ins = ["x", "fc.weight"]
        if bias:
            inits["fc.bias"] = w(rng, n_out, scale=0.1)
            ins.append("fc.bias")
        node = helper.make_node("Gemm", ins, ["y"], name="fc", transB=trans_b,
                                alpha=alpha, beta=beta)
        return [node], [("x", [1, n_in])], [("y", None, None)], inits
    return build


def gemm_then(op_nodes, n_in=8, n_out=6, extra_inits=None):
    """Gemm (transB=1, bias) into the nodes `op_nodes(h_name, y_name)`."""
    def build(rng):
        inits = {"fc.weight": w(rng, n_out, n_in, scale=0.6), "fc.bias": w(rng, n_out, scale=0.2)}
        if extra_inits:
            inits.update(extra_inits(rng))
        nodes = [helper.make_node("Gemm", ["x", "fc.weight", "fc.bias"], ["h"], name="fc",
                                  transB=1)]
        nodes += op_nodes("h", "y")
        return nodes, [("x", [1, n_in])], [("y", None, None)], inits
    return build


def elementwise_case(op, const_first=False, scalar=False, n=8):
    def build(rng):
        c = (np.float32(rng.uniform(0.5, 2.0)) if scalar
             else w(rng, n, scale=1.0)).astype(np.float32)
        ins = ["c", "x"] if const_first else ["x", "c"]
        node = helper.make_node(op, ins, ["y"], name=op.lower())
        return [node], [("x", [1, n])], [("y", None, None)], {"c": np.asarray(c)}
    return build


def int64_output(build_float):
    """The same graph with its output declared int64 (for ArgMax)."""
    def build(rng):
        nodes, inputs, outputs, inits = build_float(rng)
        return nodes, inputs, [(outputs[0][0], TensorProto.INT64, None)], inits
    return build


def cnn_small(act):
    """Conv 1->4 (pad 1) -> BN -> act -> AvgPool 2 -> Conv 4->6 -> act -> Flatten -> Gemm 24->16
    -> act -> Dropout -> Gemm 16->10; act is "square" (Mul(x,x) then Pow(x,2)) or "relu"."""
    def build(rng):
        inits = {"conv1.weight": w(rng, 4, 1, 3, 3), "conv1.bias": w(rng, 4, scale=0.1),
                 "conv2.weight": w(rng, 6, 4, 3, 3), "conv2.bias": w(rng, 6, scale=0.1),
                 "fc1.weight": w(rng, 16, 24), "fc1.bias": w(rng, 16, scale=0.1),
                 "fc2.weight": w(rng, 10, 16), "fc2.bias": w(rng, 10, scale=0.1)}
        for k, v in bn_params(rng, 4).items():
            inits["bn1." + k] = v
        if act == "square":
            inits["pow.exponent"] = np.asarray(np.float32(2.0))
        inits["drop.ratio"] = np.asarray(np.float32(0.25))

        def a(i, src, dst):
            if act == "relu":
                return [helper.make_node("Relu", [src], [dst], name=f"act{i}")]
            if i == 2:
                return [helper.make_node("Pow", [src, "pow.exponent"], [dst], name=f"act{i}")]
            return [helper.make_node("Mul", [src, src], [dst], name=f"act{i}")]

        n = [helper.make_node("Conv", ["x", "conv1.weight", "conv1.bias"], ["c1"], name="conv1",
                              kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c1", "bn1.scale", "bn1.B", "bn1.mean",
                                                     "bn1.var"], ["b1"], name="bn1",
                              epsilon=1e-5)]
        n += a(1, "b1", "a1")
        n += [helper.make_node("AveragePool", ["a1"], ["p1"], name="pool1", kernel_shape=[2, 2],
                               strides=[2, 2]),
              helper.make_node("Conv", ["p1", "conv2.weight", "conv2.bias"], ["c2"],
                               name="conv2", kernel_shape=[3, 3])]
        n += a(2, "c2", "a2")
        n += [helper.make_node("Flatten", ["a2"], ["f"], name="flatten", axis=1),
              helper.make_node("Gemm", ["f", "fc1.weight", "fc1.bias"], ["g1"], name="fc1",
                               transB=1)]
        n += a(3, "g1", "a3")
        n += [helper.make_node("Dropout", ["a3", "drop.ratio"], ["d"], name="drop"),
              helper.make_node("Gemm", ["d", "fc2.weight", "fc2.bias"], ["y"], name="fc2",
                               transB=1)]
        return n, [("x", [1, 1, 8, 8])], [("y", None, None)], inits
    return build


def ok_cases():
    sqrt2 = np.float32(np.sqrt(2.0))
    cases = [
        # Conv: stride 1 and 2, padding, 1->4 and 3->5 channels, with and without bias
        Case("conv_1to4_s1_p0_bias", conv_case(1, 4, 8, 3, 1, 0, True)),
        Case("conv_1to4_s2_p1_nobias", conv_case(1, 4, 8, 3, 2, 1, False)),
        Case("conv_3to5_s1_p1_nobias", conv_case(3, 5, 6, 3, 1, 1, False)),
        Case("conv_3to5_s2_p0_bias", conv_case(3, 5, 7, 3, 2, 0, True)),
        Case("conv_1to6_k5_s1_p2_bias", conv_case(1, 6, 10, 5, 1, 2, True),
             notes="the first LeNet layer's shape: 5x5 kernel, padding 2"),
        # Gemm
        Case("gemm_transb1", gemm_case(8, 4, 1)),
        Case("gemm_transb0", gemm_case(8, 4, 0)),
        Case("gemm_alpha_beta", gemm_case(8, 4, 1, alpha=0.5, beta=2.0)),
        Case("gemm_nobias", gemm_case(8, 4, 1, bias=False)),
        Case("matmul_add", lambda rng: (
            [helper.make_node("MatMul", ["x", "fc.weight"], ["h"], name="matmul"),
             helper.make_node("Add", ["h", "fc.bias"], ["y"], name="add")],
            [("x", [1, 8])], [("y", None, None)],
            {"fc.weight": w(rng, 4, 8).T.copy(), "fc.bias": w(rng, 4, scale=0.1)})),
        # BatchNormalization after Conv and after Gemm
        Case("conv_batchnorm", lambda rng: (
            [helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], name="conv",
                              kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "bn.scale", "bn.B", "bn.mean",
                                                    "bn.var"], ["y"], name="bn", epsilon=1e-5)],
            [("x", [1, 2, 6, 6])], [("y", None, None)],
            {"conv.weight": w(rng, 3, 2, 3, 3), "conv.bias": w(rng, 3, scale=0.1),
             **{"bn." + k: v for k, v in bn_params(rng, 3).items()}})),
        Case("gemm_batchnorm", lambda rng: (
            [helper.make_node("Gemm", ["x", "fc.weight", "fc.bias"], ["h"], name="fc",
                              transB=1),
             helper.make_node("BatchNormalization", ["h", "bn.scale", "bn.B", "bn.mean",
                                                    "bn.var"], ["y"], name="bn", epsilon=1e-5)],
            [("x", [1, 8])], [("y", None, None)],
            {"fc.weight": w(rng, 5, 8), "fc.bias": w(rng, 5, scale=0.1),
             **{"bn." + k: v for k, v in bn_params(rng, 5).items()}})),
        # pooling
        Case("avgpool_k2_s2", lambda rng: (
            [helper.make_node("AveragePool", ["x"], ["y"], name="pool", kernel_shape=[2, 2],
                              strides=[2, 2])],
            [("x", [1, 2, 8, 8])], [("y", None, None)], {})),
        Case("avgpool_k3_s1_p1_include_pad", lambda rng: (
            [helper.make_node("AveragePool", ["x"], ["y"], name="pool", kernel_shape=[3, 3],
                              strides=[1, 1], pads=[1, 1, 1, 1], count_include_pad=1)],
            [("x", [1, 2, 5, 5])], [("y", None, None)], {}),
             notes="count_include_pad=1 (torch's default): every window divides by 9"),
        Case("avgpool_k3_s1_p1_exclude_pad", lambda rng: (
            [helper.make_node("AveragePool", ["x"], ["y"], name="pool", kernel_shape=[3, 3],
                              strides=[1, 1], pads=[1, 1, 1, 1])],
            [("x", [1, 2, 5, 5])], [("y", None, None)], {}),
             notes="count_include_pad=0 (ONNX default): border windows divide by the "
                   "number of non-pad cells"),
        Case("global_avgpool", lambda rng: (
            [helper.make_node("GlobalAveragePool", ["x"], ["y"], name="gap")],
            [("x", [1, 3, 4, 4])], [("y", None, None)], {})),
        # shape ops
        Case("flatten", lambda rng: (
            [helper.make_node("Flatten", ["x"], ["y"], name="flatten", axis=1)],
            [("x", [1, 2, 3, 3])], [("y", None, None)], {})),
        Case("reshape_const", lambda rng: (
            [helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape")],
            [("x", [1, 2, 3, 3])], [("y", None, None)],
            {"shape": np.array([1, -1], dtype=np.int64)}),
             notes="shape is an int64 initializer [1, -1]"),
        Case("transpose_noop", lambda rng: (
            [helper.make_node("Transpose", ["x"], ["y"], name="transpose", perm=[1, 0, 2, 3])],
            [("x", [1, 1, 4, 4])], [("y", None, None)], {}),
             notes="swaps two size-1 axes: the flat data order is unchanged"),
        Case("transpose_reorder_gemm", lambda rng: (
            [helper.make_node("Transpose", ["x"], ["t"], name="transpose", perm=[0, 1, 3, 2]),
             helper.make_node("Flatten", ["t"], ["f"], name="flatten", axis=1),
             helper.make_node("Gemm", ["f", "fc.weight", "fc.bias"], ["y"], name="fc",
                              transB=1)],
            [("x", [1, 2, 3, 4])], [("y", None, None)],
            {"fc.weight": w(rng, 5, 24), "fc.bias": w(rng, 5, scale=0.1)}),
             notes="swaps H and W: the flat order changes (a fixed permutation the next "
                   "Gemm can absorb)"),
        # elementwise with constants
        Case("add_const", elementwise_case("Add")),
        Case("sub_const", elementwise_case("Sub")),
        Case("sub_from_const", elementwise_case("Sub", const_first=True),
             notes="c - x"),
        Case("mul_const", elementwise_case("Mul")),
        Case("mul_const_scalar", elementwise_case("Mul", scalar=True),
             notes="constant is a 0-d tensor"),
        Case("add_const_after_conv", lambda rng: (
            [helper.make_node("Conv", ["x", "conv.weight"], ["c"], name="conv",
                              kernel_shape=[3, 3]),
             helper.make_node("Add", ["c", "bias"], ["y"], name="add")],
            [("x", [1, 1, 6, 6])], [("y", None, None)],
            {"conv.weight": w(rng, 2, 1, 3, 3),
             "bias": w(rng, 1, 2, 1, 1, scale=0.5)}),
             notes="per-channel constant (1,C,1,1) broadcast over H and W"),
        # squares
        Case("mul_square", lambda rng: (
            [helper.make_node("Mul", ["x", "x"], ["y"], name="square")],
            [("x", [1, 8])], [("y", None, None)], {})),
        Case("pow_square", lambda rng: (
            [helper.make_node("Pow", ["x", "exponent"], ["y"], name="square")],
            [("x", [1, 8])], [("y", None, None)], {"exponent": np.asarray(np.float32(2.0))})),
        Case("gemm_mul_square", gemm_then(lambda h, y: [
            helper.make_node("Mul", [h, h], [y], name="square")])),
        # dropped nodes
        Case("identity", gemm_then(lambda h, y: [
            helper.make_node("Identity", [h], [y], name="identity")])),
        Case("dropout", gemm_then(lambda h, y: [
            helper.make_node("Dropout", [h, "drop.ratio"], [y], name="dropout")],
            extra_inits=lambda rng: {"drop.ratio": np.asarray(np.float32(0.5))}),
             notes="inference: Dropout is the identity"),
        # client-side outputs
        Case("softmax_out", gemm_then(lambda h, y: [
            helper.make_node("Softmax", [h], [y], name="softmax", axis=-1)])),
        Case("logsoftmax_out", gemm_then(lambda h, y: [
            helper.make_node("LogSoftmax", [h], [y], name="logsoftmax", axis=1)])),
        Case("argmax_out", int64_output(gemm_then(lambda h, y: [
            helper.make_node("ArgMax", [h], [y], name="argmax", axis=1, keepdims=1)])),
             notes="int64 output; compare exactly"),
        # non-polynomial activations after a Gemm (expected outputs are of the exact op)
        Case("gemm_relu", gemm_then(lambda h, y: [
            helper.make_node("Relu", [h], [y], name="relu")]),
             approximated=["Relu"], calibrate=True),
        Case("gemm_sigmoid", gemm_then(lambda h, y: [
            helper.make_node("Sigmoid", [h], [y], name="sigmoid")]),
             approximated=["Sigmoid"], calibrate=True),
        Case("gemm_tanh", gemm_then(lambda h, y: [
            helper.make_node("Tanh", [h], [y], name="tanh")]),
             approximated=["Tanh"], calibrate=True),
        Case("gemm_gelu_op20", gemm_then(lambda h, y: [
            helper.make_node("Gelu", [h], [y], name="gelu")]),
             opset=20, approximated=["Gelu"], calibrate=True,
             notes="the Gelu operator (opset 20), approximate='none'"),
        Case("gemm_gelu_tanh_op20", gemm_then(lambda h, y: [
            helper.make_node("Gelu", [h], [y], name="gelu", approximate="tanh")]),
             opset=20, approximated=["Gelu"], calibrate=True,
             notes="the Gelu operator (opset 20), approximate='tanh'"),
        Case("gemm_gelu_erf", gemm_then(lambda h, y: [
            helper.make_node("Div", [h, "gelu.sqrt2"], ["g_div"], name="gelu/Div"),
            helper.make_node("Erf", ["g_div"], ["g_erf"], name="gelu/Erf"),
            helper.make_node("Add", ["g_erf", "gelu.one"], ["g_add"], name="gelu/Add"),
            helper.make_node("Mul", [h, "g_add"], ["g_mul"], name="gelu/Mul"),
            helper.make_node("Mul", ["g_mul", "gelu.half"], [y], name="gelu/Mul_1")],
            extra_inits=lambda rng: {"gelu.sqrt2": np.asarray(sqrt2),
                                     "gelu.one": np.asarray(np.float32(1.0)),
                                     "gelu.half": np.asarray(np.float32(0.5))}),
             opset=13, approximated=["Erf"], calibrate=True,
             notes="GELU as older exporters write it: x * (1 + Erf(x / sqrt 2)) * 0.5; an "
                   "importer may match the five nodes as one GELU or replace Erf alone"),
        Case("gemm_gelu_erf_constant_nodes", gemm_then(lambda h, y: [
            helper.make_node("Constant", [], ["k_sqrt2"], name="gelu/Constant",
                             value=numpy_helper.from_array(np.asarray(sqrt2))),
            helper.make_node("Div", [h, "k_sqrt2"], ["g_div"], name="gelu/Div"),
            helper.make_node("Erf", ["g_div"], ["g_erf"], name="gelu/Erf"),
            helper.make_node("Constant", [], ["k_one"], name="gelu/Constant_1",
                             value=numpy_helper.from_array(np.asarray(np.float32(1.0)))),
            helper.make_node("Add", ["g_erf", "k_one"], ["g_add"], name="gelu/Add"),
            helper.make_node("Mul", [h, "g_add"], ["g_mul"], name="gelu/Mul"),
            helper.make_node("Constant", [], ["k_half"], name="gelu/Constant_2",
                             value=numpy_helper.from_array(np.asarray(np.float32(0.5)))),
            helper.make_node("Mul", ["g_mul", "k_half"], [y], name="gelu/Mul_1")]),
             opset=17, approximated=["Erf"], calibrate=True,
             notes="the Erf form of GELU exactly as torch.onnx.export (TorchScript, opset 17) "
                   "writes nn.GELU: the scalars are Constant nodes, not initializers "
                   "(examples/onnx/mlp_gelu.onnx has the same nodes)"),
        Case("reshape_constant_node", lambda rng: (
            [helper.make_node("Constant", [], ["shape"], name="Constant",
                              value=numpy_helper.from_array(np.array([1, -1], dtype=np.int64))),
             helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape")],
            [("x", [1, 2, 3, 3])], [("y", None, None)], {}),
             notes="the target shape comes from a Constant node, as exporters write it"),
        Case("gemm_silu", gemm_then(lambda h, y: [
            helper.make_node("Sigmoid", [h], ["s"], name="silu/Sigmoid"),
            helper.make_node("Mul", [h, "s"], [y], name="silu/Mul")]),
             approximated=["Sigmoid"], calibrate=True,
             notes="SiLU as exporters write it: x * Sigmoid(x); an importer may match the "
                   "pair as one SiLU or replace Sigmoid alone"),
        # chains
        Case("cnn_small", cnn_small("square"),
             notes="Conv->BN->Mul(x,x)->AvgPool->Conv->Pow(x,2)->Flatten->Gemm->Mul(x,x)->"
                   "Dropout->Gemm"),
        Case("cnn_small_relu", cnn_small("relu"), approximated=["Relu"], calibrate=True,
             notes="cnn_small with Relu activations"),
    ]
    return cases


# ---------------------------------------------------------------------------
# error cases: (name, bytes-producing function, operators, opset, contains, notes)
# ---------------------------------------------------------------------------

def error_cases(valid_bytes: bytes):
    def simple_gemm(opset=OPSET, input_dims=None):
        rng = rng_for("error_gemm")
        nodes = [helper.make_node("Gemm", ["pixels", "fc1.weight", "fc1.bias"], ["y"],
                                  name="fc1", transB=1)]
        inits = {"fc1.weight": w(rng, 4, 8), "fc1.bias": w(rng, 4, scale=0.1)}
        dims = input_dims if input_dims is not None else [1, 8]
        return make_model("error", nodes, [("pixels", dims)], [("y", None, [1, 4])], inits,
                          opset, check=False)

    def maxpool():
        rng = rng_for("error_maxpool")
        nodes = [helper.make_node("Conv", ["x", "conv1.weight"], ["c"], name="conv1",
                                  kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
                 helper.make_node("MaxPool", ["c"], ["y"], name="pool1", kernel_shape=[2, 2],
                                  strides=[2, 2])]
        m = make_model("maxpool", nodes, [("x", [1, 1, 8, 8])], [("y", None, [1, 2, 4, 4])],
                       {"conv1.weight": w(rng, 2, 1, 3, 3)}, OPSET)
        return m.SerializeToString()

    def unknown_op():
        nodes = [helper.make_node("FooBar", ["x"], ["y"], name="mystery")]
        m = make_model("unknown", nodes, [("x", [1, 8])], [("y", None, [1, 8])], {}, OPSET,
                       check=False)
        return m.SerializeToString()

    def dynamic_dim():
        m = simple_gemm(input_dims=["batch", 8])
        return m.SerializeToString()

    def unset_dim():
        m = simple_gemm()
        d = m.graph.input[0].type.tensor_type.shape.dim[0]
        d.ClearField("dim_value")  # neither dim_value nor dim_param: an unknown dimension
        return m.SerializeToString()

    def bad_init_raw():
        m = simple_gemm()
        t = next(t for t in m.graph.initializer if t.name == "fc1.weight")
        t.raw_data = t.raw_data[:-4]  # 31 floats for dims (4, 8)
        return m.SerializeToString()

    def bad_init_float_data():
        m = simple_gemm()
        t = next(t for t in m.graph.initializer if t.name == "fc1.weight")
        vals = np.frombuffer(t.raw_data, dtype="<f4")[:30]
        t.ClearField("raw_data")
        t.float_data.extend(float(v) for v in vals)  # 30 floats for dims (4, 8)
        return m.SerializeToString()

    def random_bytes():
        rng = rng_for("random_bytes")
        data = rng.integers(0, 256, 256, dtype=np.uint8).tobytes()
        try:  # keep the fixture meaningful: it must not decode as a model with a graph
            m = onnx.load_from_string(data)
        except Exception:  # noqa: BLE001 - any decode failure is what the fixture needs
            return data
        if len(m.graph.node) > 0:
            raise SystemExit("random_bytes decoded as a model with nodes; change the seed")
        return data

    return [
        ("maxpool", maxpool, ["Conv", "MaxPool"], OPSET, ["pool1", "MaxPool", "AveragePool"],
         ("MaxPool has no sound encrypted form; the error names the node, its operator and "
          "the replacement (AveragePool)")),
        ("unknown_op", unknown_op, ["FooBar"], OPSET, ["mystery", "FooBar"],
         "an operator no importer knows (default domain)"),
        ("opset_99", lambda: simple_gemm(opset=99).SerializeToString(), ["Gemm"], 99,
         ["opset", "99"], "a valid Gemm graph that declares default-domain opset 99"),
        ("dynamic_dim", dynamic_dim, ["Gemm"], OPSET, ["pixels", "batch"],
         "input 'pixels' has the symbolic dimension 'batch' (dim_param)"),
        ("unset_dim", unset_dim, ["Gemm"], OPSET, ["pixels"],
         "input 'pixels' has a dimension with neither dim_value nor dim_param"),
        ("bad_initializer_raw", bad_init_raw, ["Gemm"], OPSET, ["fc1.weight"],
         "initializer fc1.weight has dims (4, 8) but raw_data holds 31 floats"),
        ("bad_initializer_float_data", bad_init_float_data, ["Gemm"], OPSET, ["fc1.weight"],
         "initializer fc1.weight has dims (4, 8) but float_data holds 30 values"),
        ("truncated", lambda: valid_bytes[: len(valid_bytes) // 2], [], None, [],
         "the first half of cnn_small.onnx"),
        ("random_bytes", random_bytes, [], None, [], "256 random bytes"),
        ("empty", lambda: b"", [], None, [], "a file of zero bytes"),
    ]


# ---------------------------------------------------------------------------

def build_case(case: Case, elem):
    nodes, inputs, outputs, inits = case.build(rng_for(case.name))
    # infer output shapes by running once, then rebuild with the shapes declared
    model = make_model(case.name, nodes, inputs, [(n, t, s) for n, t, s in outputs], inits,
                       case.opset, elem=elem, check=False)
    return model, nodes, inputs, outputs, inits


def ops_of(model):
    seen = []
    for n in model.graph.node:
        if n.op_type not in seen:
            seen.append(n.op_type)
    return seen


def write_ok_case(case: Case, out: Path):
    rng = rng_for(case.name + ".input")
    model, nodes, inputs, outputs, inits = build_case(case, F32)
    in_shape = inputs[0][1]
    n_samples = CALIB_SAMPLES if case.calibrate else 1
    xs = rng.standard_normal([n_samples] + in_shape[1:]).astype(np.float32)
    x = xs[:1].reshape(in_shape)
    y = run(model, x)
    # declare the output's shape and check the final model
    out_elem = outputs[0][1]
    model = make_model(case.name, nodes, inputs, [(outputs[0][0], out_elem, list(y.shape))],
                       inits, case.opset)
    y = run(model, x)

    # float64 twin of the same graph (weights are the float32 values, widened)
    twin = make_model(case.name, nodes, [(n, s) for n, s in inputs],
                      [(outputs[0][0], out_elem, list(y.shape))], inits, case.opset, elem=F64,
                      check=False)
    y64 = run(twin, x.astype(np.float64))
    if out_elem == TensorProto.INT64:
        atol = 0.0
        if not np.array_equal(y, y64):
            raise SystemExit(f"{case.name}: float32 and float64 argmax differ")
        logits = run(make_model(case.name, nodes[:1], inputs, [("h", None, None)], inits,
                                case.opset, check=False), x)
        top = np.sort(logits.ravel())
        if top[-1] - top[-2] < 1e-3:
            raise SystemExit(f"{case.name}: argmax margin too small for an exact compare")
    else:
        atol = ATOL_REL * max(1.0, float(np.max(np.abs(y64))))
        dev = float(np.max(np.abs(y.astype(np.float64) - y64)))
        if dev > atol / 10:
            raise SystemExit(f"{case.name}: float32 vs float64 deviation {dev} > atol/10")
        atol = float(f"{atol:.3g}")

    onnx.save_model(model, out / f"{case.name}.onnx")
    np.save(out / f"{case.name}.in.npy", x)
    np.save(out / f"{case.name}.out.npy", y)
    entry = {
        "name": case.name,
        "file": f"{case.name}.onnx",
        "operators": ops_of(model),
        "opset": case.opset,
        "input": {"name": inputs[0][0], "shape": in_shape, "dtype": "float32",
                  "file": f"{case.name}.in.npy"},
        "output": {"name": outputs[0][0], "shape": list(y.shape), "dtype": str(y.dtype),
                   "file": f"{case.name}.out.npy"},
        "expect": "ok",
        "atol": atol,
    }
    if case.approximated:
        entry["approximated"] = case.approximated
    if case.calibrate:
        ys = np.concatenate([run(model, xs[i:i + 1].reshape(in_shape)) for i in
                             range(n_samples)], axis=0)
        np.save(out / f"{case.name}.calib.npy", xs)
        np.save(out / f"{case.name}.calib.out.npy", ys)
        entry["calibration"] = {"file": f"{case.name}.calib.npy",
                                "out": f"{case.name}.calib.out.npy",
                                "samples": n_samples}
        if not np.array_equal(ys[:1], y):
            raise SystemExit(f"{case.name}: calibration row 0 differs from the test input")
    if case.notes:
        entry["notes"] = case.notes
    return entry


def cross_check_onnxruntime(out: Path, entries) -> str:
    """Run every ok case in onnxruntime too, when it is installed (a second, independent
    implementation of the operators); any output outside the case's atol stops the script."""
    try:
        import onnxruntime as ort
    except ImportError:
        return "onnxruntime not installed: no cross-check"
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    for e in entries:
        if e["expect"] != "ok":
            continue
        sess = ort.InferenceSession(str(out / e["file"]), opts,
                                    providers=["CPUExecutionProvider"])
        x = np.load(out / e["input"]["file"])
        want = np.load(out / e["output"]["file"])
        got = sess.run(None, {e["input"]["name"]: x})[0]
        dev = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
        if dev > e["atol"]:
            raise SystemExit(f"{e['name']}: onnxruntime differs from the reference evaluator "
                             f"by {dev} > atol {e['atol']}")
    return f"onnxruntime {ort.__version__} agrees on every ok case within its atol"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for p in out.iterdir():  # regenerate from scratch; keep the hand-written README
        if p.is_file() and p.name != "README.md":
            p.unlink()

    entries = [write_ok_case(c, out) for c in ok_cases()]
    valid = (out / "cnn_small.onnx").read_bytes()
    for name, make, ops, opset, contains, notes in error_cases(valid):
        data = make()
        (out / f"{name}.onnx").write_bytes(data)
        entries.append({"name": name, "file": f"{name}.onnx", "operators": ops,
                        "opset": opset, "expect": "error", "contains": contains,
                        "notes": notes})

    names = [e["name"] for e in entries]
    if len(set(names)) != len(names):
        raise SystemExit("duplicate case names")
    manifest = {
        "generator": "examples/onnx/make_fixtures.py",
        "onnx_version": onnx.__version__,
        "numpy_version": np.__version__,
        "dtype": "float32",
        "atol_rule": f"{ATOL_REL} * max(1, max |expected|); 0 for integer outputs",
        "cases": entries,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    total = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    if total > MAX_DIR_BYTES:
        raise SystemExit(f"fixtures take {total} bytes, over the {MAX_DIR_BYTES} budget")
    print(cross_check_onnxruntime(out, entries))
    n_ok = sum(e["expect"] == "ok" for e in entries)
    print(f"wrote {n_ok} ok and {len(entries) - n_ok} error cases, {total} bytes, "
          f"to {os.path.relpath(out, ROOT)}")


if __name__ == "__main__":
    main()
