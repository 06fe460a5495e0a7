"""nn.batch_norm, nn.layer_norm, nn.instance_norm, nn.lrn and the softmaxes: inferred types,
verifier messages, round trips, and `interpret` against ONNX Runtime running the same single
ONNX node."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nn_helpers import check_docstring, floats, interpret, onnx_run, op_text, seeds, verify_text_message

from lamina.dialects.nn.base import integer, real
from lamina.dialects.nn.norm import (BatchNormOp, InstanceNormOp, LayerNormOp, LogSoftmaxOp, LRNOp,
                                     SoftmaxOp)


def positive(rng, *shape):
    return rng.uniform(0.5, 2.0, shape).astype(np.float32)


shapes = st.lists(st.integers(1, 5), min_size=2, max_size=4).map(tuple)
epsilons = st.sampled_from([1e-5, 1e-3, 0.1])


# -- batch, instance and layer normalization ---------------------------------------------------------


@given(shape=shapes, epsilon=epsilons, seed=seeds)
def test_batch_norm_matches_onnxruntime(shape, epsilon, seed):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x, scale, bias, mean, var = floats(rng, *shape), floats(rng, c), floats(rng, c), floats(rng, c), positive(rng, c)
    expected = onnx_run("BatchNormalization", [x, scale, bias, mean, var], opset=15, epsilon=epsilon)[0]
    got = interpret(BatchNormOp, x, scale, bias, mean, var, epsilon=real(epsilon))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@given(shape=shapes.filter(lambda s: len(s) >= 3), epsilon=epsilons, seed=seeds)
def test_instance_norm_matches_onnxruntime(shape, epsilon, seed):
    rng = np.random.default_rng(seed)
    x, scale, bias = floats(rng, *shape), floats(rng, shape[1]), floats(rng, shape[1])
    expected = onnx_run("InstanceNormalization", [x, scale, bias], opset=6, epsilon=epsilon)[0]
    got = interpret(InstanceNormOp, x, scale, bias, epsilon=real(epsilon))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple), data=st.data(),
       with_bias=st.booleans(), epsilon=epsilons, seed=seeds)
def test_layer_norm_matches_onnxruntime(shape, data, with_bias, epsilon, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(seed)
    normalized = shape[axis % len(shape):]
    x, scale = floats(rng, *shape), floats(rng, *normalized)
    bias = [floats(rng, *normalized)] if with_bias else []
    expected = onnx_run("LayerNormalization", [x, scale, *bias], opset=17, axis=axis, epsilon=epsilon)[0]
    got = interpret(LayerNormOp, x, scale, *bias, axis=integer(axis), epsilon=real(epsilon))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_norm_errors():
    x, v4, v3 = "tensor<2x4x5x5xf32>", "tensor<4xf32>", "tensor<3xf32>"
    assert verify_text_message(op_text("nn.batch_norm", [x, v4, v4, v3, v4], x)) == \
        "'nn.batch_norm' op mean must have shape [4] (the input's channels), but has shape [3]"
    assert verify_text_message(op_text("nn.batch_norm", [x, v4, v4, v4, "tensor<4xf16>"], x)) == \
        "'nn.batch_norm' op input is f32 but var is f16; they must match"
    assert verify_text_message(op_text("nn.instance_norm", ["tensor<2x4xf32>", v4, v4], "tensor<2x4xf32>")) == \
        "'nn.instance_norm' op input must be [N, C, D1, ...] (rank 3 or more), but has rank 2"
    assert verify_text_message(op_text("nn.layer_norm", [x, "tensor<4xf32>"], x)) == \
        "'nn.layer_norm' op scale [4] does not broadcast to the input [2, 4, 5, 5]"
    assert verify_text_message(op_text("nn.layer_norm", [x, "tensor<5xf32>"], x, "axis = 4 : i64")) == \
        "'nn.layer_norm' op axis 4 is out of range for rank 4"
    assert verify_text_message(op_text("nn.layer_norm", [x, "tensor<5xf32>", "tensor<5xf32>", "tensor<5xf32>"], x)) == \
        "'nn.layer_norm' op takes at most one bias, but got 2"
    assert verify_text_message(op_text("nn.lrn", [x], x)) == "'nn.lrn' op requires attribute 'size'"
    assert verify_text_message(op_text("nn.softmax", [x], x, "axis = -5 : i64")) == \
        "'nn.softmax' op axis -5 is out of range for rank 4"


# -- lrn and softmaxes --------------------------------------------------------------------------------


@given(shape=st.tuples(st.integers(1, 2), st.integers(1, 7), st.integers(1, 4), st.integers(1, 4)),
       size=st.sampled_from([1, 3, 5, 7]), alpha=st.sampled_from([1e-4, 0.1, 1.0]), beta=st.sampled_from([0.75, 0.5, 1.0]),
       bias=st.sampled_from([1.0, 2.0]), seed=seeds)
def test_lrn_matches_onnxruntime(shape, size, alpha, beta, bias, seed):
    x = floats(np.random.default_rng(seed), *shape)
    expected = onnx_run("LRN", [x], opset=13, size=size, alpha=alpha, beta=beta, bias=bias)[0]
    got = interpret(LRNOp, x, size=integer(size), alpha=real(alpha), beta=real(beta), bias=real(bias))
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
    got = interpret(LRNOp, x, size=integer(size), alpha=real(0.5))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op_class, onnx_op", [(SoftmaxOp, "Softmax"), (LogSoftmaxOp, "LogSoftmax")])
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple), data=st.data(),
       scale=st.sampled_from([1.0, 100.0]), seed=seeds)
def test_softmaxes_match_onnxruntime(op_class, onnx_op, shape, data, scale, seed):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = floats(np.random.default_rng(seed), *shape) * np.float32(scale)  # large: exp would overflow
    expected = onnx_run(onnx_op, [x], opset=13, axis=axis)[0]
    got = interpret(op_class, x, axis=integer(axis))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


# -- docstrings: each op's IR example parses, verifies and prints back --------------------------------


@pytest.mark.parametrize("op_class", [BatchNormOp, LayerNormOp, InstanceNormOp, LRNOp, SoftmaxOp, LogSoftmaxOp])
def test_docstring_example(op_class):
    check_docstring(op_class, verbatim=True)
