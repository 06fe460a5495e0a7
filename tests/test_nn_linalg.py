"""nn.matmul and nn.gemm: inferred types, verifier messages, round trips, and `interpret`
against ONNX Runtime running the same single ONNX node."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nn_helpers import check_docstring, floats, interpret, onnx_run, op_text, seeds, verify_text_message

from lamina.compiler.types import RankedTensorType, f32
from lamina.dialects.nn.base import integer, real
from lamina.dialects.nn.linalg import GemmOp, MatMulOp


# -- matmul -------------------------------------------------------------------------------------------


@st.composite
def matmul_shapes(draw):
    """Shapes of a and b that numpy.matmul accepts: ranks 1 to 4, batch dims that broadcast."""
    m, k, n = (draw(st.integers(1, 5)) for _ in range(3))
    batch = draw(st.lists(st.integers(2, 3), max_size=2))
    a_rank, b_rank = draw(st.integers(1, 4)), draw(st.integers(1, 4))

    def batch_of(rank):  # the last rank - 2 batch dims, some broadcast as 1
        dims = batch[len(batch) - max(0, rank - 2):] if rank - 2 <= len(batch) else [1] * (rank - 2 - len(batch)) + batch
        return tuple(d if draw(st.booleans()) else 1 for d in dims)

    a = (k,) if a_rank == 1 else batch_of(a_rank) + (m, k)
    b = (k,) if b_rank == 1 else batch_of(b_rank) + (k, n)
    return a, b


@given(shapes=matmul_shapes(), seed=seeds)
def test_matmul_matches_onnxruntime(shapes, seed):
    rng = np.random.default_rng(seed)
    a, b = floats(rng, *shapes[0]), floats(rng, *shapes[1])
    expected = onnx_run("MatMul", [a, b])[0]
    got = interpret(MatMulOp, a, b)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_matmul_inferred_types():
    t = RankedTensorType
    assert MatMulOp.infer_result_types([t((8, 1, 4, 3), f32), t((5, 3, 2), f32)], {}) == [t((8, 5, 4, 2), f32)]
    assert MatMulOp.infer_result_types([t((3,), f32), t((2, 3, 4), f32)], {}) == [t((2, 4), f32)]
    assert MatMulOp.infer_result_types([t((2, 3, 4), f32), t((4,), f32)], {}) == [t((2, 3), f32)]
    assert MatMulOp.infer_result_types([t((4,), f32), t((4,), f32)], {}) == [t((), f32)]
    assert MatMulOp.infer_result_types([t((None, 16, 64), f32), t((64, None), f32)], {}) == [t((None, 16, None), f32)]


def binary_text(op, a, b, y, attrs=""):
    return op_text(op, [a, b], y, attrs)


def test_matmul_errors():
    assert verify_text_message(binary_text("nn.matmul", "tensor<2x3xf32>", "tensor<4x5xf32>", "tensor<2x5xf32>")) == \
        "'nn.matmul' op a [2, 3] has 3 columns but b [4, 5] has 4 rows"
    assert verify_text_message(binary_text("nn.matmul", "tensor<2x2x3xf32>", "tensor<3x3x4xf32>", "tensor<2x2x4xf32>")) == \
        "'nn.matmul' op shapes [2] and [3] do not broadcast (dimension -1 is 2 vs 3)"
    assert verify_text_message(binary_text("nn.matmul", "tensor<2x3xf32>", "tensor<3x4xf16>", "tensor<2x4xf32>")) == \
        "'nn.matmul' op a is f32 but b is f16; they must match"
    assert verify_text_message(binary_text("nn.matmul", "tensor<2x3xf32>", "tensor<3x4xf32>", "tensor<2x5xf32>")) == \
        "'nn.matmul' op has result types tensor<2x5xf32>, but its operands and attributes give tensor<2x4xf32>"


# -- gemm ---------------------------------------------------------------------------------------------


@given(m=st.integers(1, 5), k=st.integers(1, 5), n=st.integers(1, 5), trans_a=st.integers(0, 1),
       trans_b=st.integers(0, 1), alpha=st.sampled_from([1.0, 0.5, -2.0]),
       beta=st.sampled_from([1.0, 0.0, 3.0]), c_kind=st.sampled_from(["none", "n", "1n", "m1", "mn", "1"]),
       seed=seeds)
def test_gemm_matches_onnxruntime(m, k, n, trans_a, trans_b, alpha, beta, c_kind, seed):
    rng = np.random.default_rng(seed)
    a = floats(rng, *((k, m) if trans_a else (m, k)))
    b = floats(rng, *((n, k) if trans_b else (k, n)))
    c_shape = {"none": None, "n": (n,), "1n": (1, n), "m1": (m, 1), "mn": (m, n), "1": (1,)}[c_kind]
    c = [] if c_shape is None else [floats(rng, *c_shape)]
    expected = onnx_run("Gemm", [a, b, *c], alpha=alpha, beta=beta, transA=trans_a, transB=trans_b)[0]
    got = interpret(GemmOp, a, b, *c, alpha=real(alpha), beta=real(beta), trans_a=integer(trans_a),
              trans_b=integer(trans_b))
    assert got.shape == (m, n)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_gemm_errors():
    assert verify_text_message(binary_text("nn.gemm", "tensor<2x3xf32>", "tensor<4x3xf32>", "tensor<2x4xf32>")) == \
        "'nn.gemm' op op(a) is [2, 3] but op(b) is [4, 3]; their inner dims 3 and 4 must match"
    assert verify_text_message(binary_text("nn.gemm", "tensor<2x3x1xf32>", "tensor<3x4xf32>", "tensor<2x4xf32>")) == \
        "'nn.gemm' op a must be a 2-D tensor, but has rank 3"
    c_text = ("func.func @f(%a: tensor<2x3xf32>, %b: tensor<3x4xf32>, %c: tensor<3xf32>) -> tensor<2x4xf32> {\n"
              "  %y = nn.gemm %a, %b, %c : (tensor<2x3xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<2x4xf32>\n"
              "  func.return %y : tensor<2x4xf32>\n}\n")
    assert verify_text_message(c_text) == \
        "'nn.gemm' op c [3] does not broadcast to the result [2, 4]"
    assert verify_text_message(c_text.replace("tensor<3xf32>", "tensor<4x4xf32>")) == \
        "'nn.gemm' op c [4, 4] does not broadcast to the result [2, 4]"


def test_gemm_fully_connected_type():
    t = RankedTensorType
    assert GemmOp.infer_result_types([t((1, 512), f32), t((1000, 512), f32), t((1000,), f32)],
                                     {"trans_b": integer(1)}) == [t((1, 1000), f32)]


# -- docstrings: each op's IR example parses, verifies and prints back --------------------------------


@pytest.mark.parametrize("op_class", [MatMulOp, GemmOp])
def test_docstring_example(op_class):
    check_docstring(op_class, verbatim=True)
