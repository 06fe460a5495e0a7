"""nn's reductions against onnxruntime: random shapes, axes (negative too) and keepdims; verifier
messages; print -> parse -> print of each op."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from nn_helpers import (assert_same, build, check, check_docstring, onnx_run, tensor_of,
                        verify_message)

from lamina.dialects.nn import reduce as R
from lamina.dialects.nn.base import integer, ints, nn

REDUCTIONS = [
    # op class, ONNX op, tolerance: sums in another order round differently
    (R.ReduceSumOp, "ReduceSum", dict(rtol=1e-5, atol=1e-4)),
    (R.ReduceMeanOp, "ReduceMean", dict(rtol=1e-5, atol=1e-5)),
    (R.ReduceMaxOp, "ReduceMax", dict(rtol=1e-5)),
    (R.ReduceMinOp, "ReduceMin", dict(rtol=1e-5)),
    (R.ReduceProdOp, "ReduceProd", dict(rtol=1e-4)),
]


@st.composite
def reductions(draw):
    """A shape (empty dims too), axes (a subset, in any order, each maybe negative, or None for
    all) and keepdims (None for the default)."""
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
    rank = len(shape)
    axes = None
    if draw(st.booleans()):
        chosen = draw(st.permutations(range(rank)))[:draw(st.integers(0, rank))]
        axes = [a - rank if draw(st.booleans()) else a for a in chosen]
    keepdims = draw(st.sampled_from([None, 0, 1]))
    return shape, axes, keepdims


def data(shape, seed, dtype, onnx_op):
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        return np.asarray(rng.integers(-3, 4, shape), dtype)
    if onnx_op == "ReduceProd":  # near 1 in size, so long products neither overflow nor vanish
        return np.asarray(rng.uniform(0.8, 1.25, shape) * rng.choice([-1, 1], shape), dtype)
    return np.asarray(rng.standard_normal(shape), dtype)


@pytest.mark.parametrize("op_class, onnx_op, tolerance", REDUCTIONS, ids=[r[1] for r in REDUCTIONS])
@given(case=reductions(), seed=st.integers(0, 2**32 - 1),
       dtype=st.sampled_from([np.float32, np.float32, np.int32, np.int64]))
def test_reduction_matches_onnxruntime(op_class, onnx_op, tolerance, case, seed, dtype):
    shape, axes, keepdims = case
    if op_class is R.ReduceMeanOp:
        dtype = np.float32  # an integer mean rounds; onnxruntime and numpy round differently
        assume(0 not in shape)  # the mean of nothing is undefined in ONNX (onnxruntime says 0)
    x = data(shape, seed, dtype, onnx_op)
    op = check(op_class, [tensor_of(x)], axes=None if axes is None else ints(axes),
               keepdims=None if keepdims is None else integer(keepdims))
    expected = onnx_run(onnx_op, [x], [None if not axes else np.array(axes, np.int64)],
                        **({} if keepdims is None else {"keepdims": keepdims}))[0]
    assert op.y.type == tensor_of(expected)
    assert_same(op.interpret(x), expected, **tolerance)


def test_reducing_axes_of_size_one_and_keeping_them_folds_to_the_operand():
    op = build(R.ReduceMaxOp, [tensor_of((2, 1, 3))], axes=ints([1]))
    assert op.fold(None) is op.x
    assert build(R.ReduceMaxOp, [tensor_of((2, 1, 3))], axes=ints([0])).fold(None) is None
    assert build(R.ReduceSumOp, [tensor_of((2, 1))], axes=ints([1]), keepdims=integer(0)).fold(None) is None


def test_axis_out_of_range():
    assert verify_message(R.ReduceSumOp, [tensor_of((2, 3))], [tensor_of((2, 1))], axes=ints([2])) == \
        "'nn.reduce_sum' op axis 2 is out of range for rank 2"


def test_a_rank_0_tensor_has_no_axis_to_name():
    assert verify_message(R.ReduceMaxOp, [tensor_of(())], [tensor_of(())], axes=ints([0])) == \
        "'nn.reduce_max' op axis 0 is out of range for rank 0"


def test_axis_named_twice():
    assert verify_message(R.ReduceMeanOp, [tensor_of((2, 3))], [tensor_of((2, 1))], axes=ints([1, -1])) == \
        "'nn.reduce_mean' op axes [1, -1] name the same axis twice"


def test_keepdims_is_0_or_1():
    assert verify_message(R.ReduceMinOp, [tensor_of((2, 3))], [tensor_of((1, 1))], keepdims=integer(2)) == \
        "'nn.reduce_min' op keepdims is 2; it must be 0 or 1"


def test_result_type_must_match_the_reduction():
    assert verify_message(R.ReduceProdOp, [tensor_of((2, 3))], [tensor_of((2,))], axes=ints([1])) == \
        "'nn.reduce_prod' op has result types tensor<2xf32>, but its operands and attributes give tensor<2x1xf32>"


ALL_OPS = [r[0] for r in REDUCTIONS]


@pytest.mark.parametrize("op_class", ALL_OPS, ids=lambda c: c.name)
def test_docstring_example(op_class):
    check_docstring(op_class)


def test_every_op_of_the_module_is_tested():
    assert {c for c in nn.ops.values() if c.__module__ == R.__name__} == set(ALL_OPS)
