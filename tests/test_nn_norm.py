"""nn.batch_norm, nn.layer_norm, nn.instance_norm, nn.lrn and the softmaxes: inferred types,
verifier messages, round trips, and `interpret` against ONNX Runtime running the same single
ONNX node."""

import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import given
from hypothesis import strategies as st
from onnx import helper

from lamina.compiler.errors import VerifyError
from lamina.compiler.parser import parse
from lamina.compiler.printer import print_ir
from lamina.compiler.types import RankedTensorType, f16, f32, f64
from lamina.compiler.verifier import verify
from lamina.dialects.builtin import ModuleOp
from lamina.dialects.func import FuncOp, ReturnOp
from lamina.dialects.nn.base import integer, real
from lamina.dialects.nn.norm import (BatchNormOp, InstanceNormOp, LayerNormOp, LogSoftmaxOp, LRNOp,
                                     SoftmaxOp)

# -- helpers: one ONNX node run by onnxruntime, one lamina op in a function -------------------------


def onnx_run(op_type, inputs, opset=18, **attrs):
    """Run a single ONNX node on `inputs` (arrays fed at run time, None for an omitted optional
    input) and return its only output."""
    names, feeds, graph_inputs = [], {}, []
    for i, value in enumerate(inputs):
        names.append("" if value is None else f"in{i}")
        if value is not None:
            feeds[f"in{i}"] = value
            graph_inputs.append(helper.make_tensor_value_info(
                f"in{i}", helper.np_dtype_to_tensor_dtype(value.dtype), value.shape))
    out = helper.make_tensor_value_info("out", graph_inputs[0].type.tensor_type.elem_type, None)
    graph = helper.make_graph([helper.make_node(op_type, names, ["out"], **attrs)], "g", graph_inputs, [out])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)
    options = ort.SessionOptions()
    options.log_severity_level = 3  # no warnings: ONNX shape inference disagrees on ceil_mode
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


ELEMENT = {np.dtype(np.float32): f32, np.dtype(np.float64): f64, np.dtype(np.float16): f16}


def type_of(array) -> RankedTensorType:
    return RankedTensorType(array.shape, ELEMENT[array.dtype])


def build(op_class, operand_types, result_types=None, **props):
    """`func.func @f(args) { %y = op(args); return %y }` in a module: (module, op)."""
    props = {k: v for k, v in props.items() if v is not None}
    if result_types is None:
        result_types = op_class.infer_result_types(list(operand_types), props)
    fn = FuncOp.create_with_body("f", operand_types, result_types)
    op = op_class(operands=list(fn.entry.args), result_types=result_types, properties=props)
    fn.entry.append(op)
    fn.entry.append(ReturnOp(operands=list(op.results)))
    module = ModuleOp.empty()
    module.block.append(fn)
    return module, op


def run(op_class, *arrays, **props):
    """Build the op on `arrays`' types, verify it, round-trip its text, and interpret it."""
    module, op = build(op_class, [type_of(a) for a in arrays], **props)
    verify(module)
    text = print_ir(module)
    assert print_ir(parse(text)) == text
    y = op.interpret(*arrays)
    assert y.shape == op.result.type.shape and y.dtype == arrays[0].dtype
    return y


def error(text: str) -> str:
    """The verifier's message for the IR `text`."""
    with pytest.raises(VerifyError) as info:
        verify(parse(text))
    return info.value.message


def floats(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def positive(rng, *shape):
    return rng.uniform(0.5, 2.0, shape).astype(np.float32)


seeds = st.integers(0, 2 ** 32 - 1)
shapes = st.lists(st.integers(1, 5), min_size=2, max_size=4).map(tuple)
epsilons = st.sampled_from([1e-5, 1e-3, 0.1])


# -- batch, instance and layer normalization ---------------------------------------------------------


@given(shape=shapes, epsilon=epsilons, seed=seeds)
def test_batch_norm_matches_onnxruntime(shape, epsilon, seed):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x, scale, bias, mean, var = floats(rng, *shape), floats(rng, c), floats(rng, c), floats(rng, c), positive(rng, c)
    expected = onnx_run("BatchNormalization", [x, scale, bias, mean, var], opset=15, epsilon=epsilon)
    got = run(BatchNormOp, x, scale, bias, mean, var, epsilon=real(epsilon))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@given(shape=shapes.filter(lambda s: len(s) >= 3), epsilon=epsilons, seed=seeds)
def test_instance_norm_matches_onnxruntime(shape, epsilon, seed):
    rng = np.random.default_rng(seed)
    x, scale, bias = floats(rng, *shape), floats(rng, shape[1]), floats(rng, shape[1])
    expected = onnx_run("InstanceNormalization", [x, scale, bias], opset=6, epsilon=epsilon)
    got = run(InstanceNormOp, x, scale, bias, epsilon=real(epsilon))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple), data=st.data(),
       with_bias=st.booleans(), epsilon=epsilons, seed=seeds)
def test_layer_norm_matches_onnxruntime(shape, data, with_bias, epsilon, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(seed)
    normalized = shape[axis % len(shape):]
    x, scale = floats(rng, *shape), floats(rng, *normalized)
    bias = [floats(rng, *normalized)] if with_bias else []
    expected = onnx_run("LayerNormalization", [x, scale, *bias], opset=17, axis=axis, epsilon=epsilon)
    got = run(LayerNormOp, x, scale, *bias, axis=integer(axis), epsilon=real(epsilon))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def norm_text(op, operands, y, attrs=""):
    """A function applying `op` to arguments %a0, %a1, ... of the types `operands`."""
    args = ", ".join(f"%a{i}: {t}" for i, t in enumerate(operands))
    names = ", ".join(f"%a{i}" for i in range(len(operands)))
    attrs = f"attributes {{{attrs}}} " if attrs else ""
    return (f"func.func @f({args}) -> {y} {{\n  %y = {op} {names} {attrs}: ({', '.join(operands)}) -> {y}\n"
            f"  func.return %y : {y}\n}}\n")


def test_norm_errors():
    x, v4, v3 = "tensor<2x4x5x5xf32>", "tensor<4xf32>", "tensor<3xf32>"
    assert error(norm_text("nn.batch_norm", [x, v4, v4, v3, v4], x)) == \
        "'nn.batch_norm' op mean must have shape [4] (the input's channels), but has shape [3]"
    assert error(norm_text("nn.batch_norm", [x, v4, v4, v4, "tensor<4xf16>"], x)) == \
        "'nn.batch_norm' op input is f32 but var is f16; they must match"
    assert error(norm_text("nn.instance_norm", ["tensor<2x4xf32>", v4, v4], "tensor<2x4xf32>")) == \
        "'nn.instance_norm' op input must be [N, C, D1, ...] (rank 3 or more), but has rank 2"
    assert error(norm_text("nn.layer_norm", [x, "tensor<4xf32>"], x)) == \
        "'nn.layer_norm' op scale [4] does not broadcast to the input [2, 4, 5, 5]"
    assert error(norm_text("nn.layer_norm", [x, "tensor<5xf32>"], x, "axis = 4 : i64")) == \
        "'nn.layer_norm' op axis 4 is out of range for rank 4"
    assert error(norm_text("nn.layer_norm", [x, "tensor<5xf32>", "tensor<5xf32>", "tensor<5xf32>"], x)) == \
        "'nn.layer_norm' op takes at most one bias, but got 2"
    assert error(norm_text("nn.lrn", [x], x)) == "'nn.lrn' op requires attribute 'size'"
    assert error(norm_text("nn.softmax", [x], x, "axis = -5 : i64")) == \
        "'nn.softmax' op axis -5 is out of range for rank 4"


# -- lrn and softmaxes --------------------------------------------------------------------------------


@given(shape=st.tuples(st.integers(1, 2), st.integers(1, 7), st.integers(1, 4), st.integers(1, 4)),
       size=st.sampled_from([1, 3, 5, 7]), alpha=st.sampled_from([1e-4, 0.1, 1.0]), beta=st.sampled_from([0.75, 0.5, 1.0]),
       bias=st.sampled_from([1.0, 2.0]), seed=seeds)
def test_lrn_matches_onnxruntime(shape, size, alpha, beta, bias, seed):
    x = floats(np.random.default_rng(seed), *shape)
    expected = onnx_run("LRN", [x], opset=13, size=size, alpha=alpha, beta=beta, bias=bias)
    got = run(LRNOp, x, size=integer(size), alpha=real(alpha), beta=real(beta), bias=real(bias))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("size", [2, 4])
def test_lrn_even_size_matches_the_spec(size):
    # onnxruntime takes odd sizes only, and onnx's reference evaluator loops over N instead of C
    # (onnx/reference/ops/op_lrn.py), so the oracle here is the spec's formula, element by element
    x = floats(np.random.default_rng(size), 2, 6, 3, 3)
    expected = np.empty_like(x)
    for n, c, h, w in np.ndindex(*x.shape):
        lo, hi = max(0, c - (size - 1) // 2), min(5, c + int(np.ceil((size - 1) / 2)))
        square_sum = sum(float(x[n, k, h, w]) ** 2 for k in range(lo, hi + 1))
        expected[n, c, h, w] = x[n, c, h, w] / (1.0 + 0.5 / size * square_sum) ** 0.75
    got = run(LRNOp, x, size=integer(size), alpha=real(0.5))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op_class, onnx_op", [(SoftmaxOp, "Softmax"), (LogSoftmaxOp, "LogSoftmax")])
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple), data=st.data(),
       scale=st.sampled_from([1.0, 100.0]), seed=seeds)
def test_softmaxes_match_onnxruntime(op_class, onnx_op, shape, data, scale, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = floats(np.random.default_rng(seed), *shape) * np.float32(scale)  # large: exp would overflow
    expected = onnx_run(onnx_op, [x], opset=13, axis=axis)
    got = run(op_class, x, axis=integer(axis))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


# -- docstrings: each op's IR example parses, verifies and prints back --------------------------------


@pytest.mark.parametrize("op_class", [BatchNormOp, LayerNormOp, InstanceNormOp, LRNOp, SoftmaxOp, LogSoftmaxOp])
def test_docstring_example(op_class):
    example = next(line.strip() for line in op_class.__doc__.splitlines() if line.strip().startswith("%"))
    module = parse(wrap(example))
    verify(module)
    assert example in print_ir(module)


def wrap(example: str) -> str:
    """A function whose arguments are the example's operands and that returns its result."""
    lhs, rhs = example.split(" = ", 1)
    decl = parse(f"func.func private @t{rhs[rhs.rindex(' : ') + 2:]}")
    fn_type = next(op for op in decl.walk() if op.name == "func.func").type
    names = [w.strip(",") for w in rhs.split(" attributes ")[0].split(" : ")[0].split()[1:]]
    args = ", ".join(f"{n}: {t}" for n, t in zip(names, fn_type.inputs))
    (result,) = fn_type.results
    return f"func.func @f({args}) -> {result} {{\n  {example}\n  func.return {lhs} : {result}\n}}\n"
