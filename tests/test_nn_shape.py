"""nn's shape and data-movement ops against onnxruntime: random shapes and attributes (negative
axes and indices, ONNX's slice clamping, negative pads); dynamic dims in shape inference; folds;
verifier messages; print -> parse -> print of each op."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from nn_helpers import (assert_same, build, check, check_docstring, dense, onnx_run, tensor_of,
                        verify_message)
from onnx import numpy_helper

from lamina.compiler.types import f32, i1, i32, i64
from lamina.dialects.nn import shape as S
from lamina.dialects.nn.base import integer, ints, nn, real, string

seeds = st.integers(0, 2**32 - 1)


def data(shape, seed, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return np.asarray(rng.integers(-9, 10, shape) if np.issubdtype(dtype, np.integer)
                      else rng.standard_normal(shape), dtype)


def shapes(min_dims=0, max_dims=4, min_side=1, max_side=4):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def maybe_negative(draw, axis, rank):
    """`axis` or the same axis counted from the end."""
    return axis - rank if draw(st.booleans()) else axis


def run(op, *inputs):
    """Interpret, and check the results have the op's result types."""
    out = op.interpret(*inputs)
    for r, array in zip(op.results, out if isinstance(out, tuple) else (out,)):
        if r.type.has_static_shape:
            assert tensor_of(np.asarray(array)) == r.type
    return out


# ---------------------------------------------------------------------------------------------
# Same elements, another shape


@st.composite
def reshapes(draw):
    """A shape and another with the same number of elements, maybe with one -1."""
    shape = draw(shapes())
    factors = [p for d in shape for p in _prime_factors(d)]
    n = draw(st.integers(0 if not factors else 1, 4))
    target = [1] * n
    for p in factors:
        target[draw(st.integers(0, n - 1))] *= p
    if target and draw(st.booleans()):
        target[draw(st.integers(0, n - 1))] = -1
    return shape, target


def _prime_factors(n):
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


@given(case=reshapes(), seed=seeds)
def test_reshape(case, seed):
    shape, target = case
    x = data(shape, seed)
    op = check(S.ReshapeOp, [tensor_of(x)], shape=ints(target))
    assert_same(run(op, x), onnx_run("Reshape", [x], [np.array(target, np.int64)])[0])


@given(shape=shapes(), seed=seeds, data_=st.data())
def test_flatten(shape, seed, data_):
    rank = len(shape)
    axis = data_.draw((st.none() if rank else st.nothing()) | st.integers(-rank, rank))  # default 1 needs rank >= 1
    x = data(shape, seed)
    op = check(S.FlattenOp, [tensor_of(x)], axis=None if axis is None else integer(axis))
    attrs = {} if axis is None else {"axis": axis}
    assert_same(run(op, x), onnx_run("Flatten", [x], **attrs)[0])


@given(shape=shapes(), seed=seeds, data_=st.data())
def test_transpose(shape, seed, data_):
    perm = data_.draw(st.none() | st.permutations(range(len(shape)))) if shape else None
    x = data(shape, seed)
    op = check(S.TransposeOp, [tensor_of(x)], perm=None if perm is None else ints(perm))
    attrs = {} if perm is None else {"perm": perm}
    assert_same(run(op, x), onnx_run("Transpose", [x], **attrs)[0])
    is_identity = list(perm if perm is not None else range(len(shape))[::-1]) == list(range(len(shape)))
    assert (op.fold(None) is op.x) == is_identity


@given(shape=shapes(min_dims=1, max_side=3), seed=seeds, data_=st.data())  # onnxruntime: no rank 0
def test_squeeze(shape, seed, data_):
    ones = [i for i, d in enumerate(shape) if d == 1]
    axes = data_.draw(st.lists(st.sampled_from(ones), unique=True) if ones else st.just([]))
    axes = [maybe_negative(data_.draw, a, len(shape)) for a in axes]
    x = data(shape, seed)
    op = check(S.SqueezeOp, [tensor_of(x)], axes=ints(axes))
    expected = onnx_run("Squeeze", [x], [np.array(axes, np.int64) if axes else None])[0]
    assert_same(run(op, x), expected)


@given(shape=shapes(max_dims=3), seed=seeds, data_=st.data())
def test_unsqueeze(shape, seed, data_):
    out_rank = len(shape) + data_.draw(st.integers(0, 3))
    new = data_.draw(st.permutations(range(out_rank)))[:out_rank - len(shape)]
    axes = [maybe_negative(data_.draw, a, out_rank) for a in new]
    x = data(shape, seed)
    op = check(S.UnsqueezeOp, [tensor_of(x)], axes=ints(axes))
    assert_same(run(op, x), onnx_run("Unsqueeze", [x], [np.array(axes, np.int64)])[0])


# ---------------------------------------------------------------------------------------------
# Joining and splitting


@given(shape=shapes(min_dims=1), seed=seeds, data_=st.data())
def test_concat(shape, seed, data_):
    rank = len(shape)
    axis = data_.draw(st.integers(0, rank - 1))
    sizes = data_.draw(st.lists(st.integers(0, 4), min_size=1, max_size=4))
    inputs = [data(shape[:axis] + (n,) + shape[axis + 1:], seed + i) for i, n in enumerate(sizes)]
    axis = maybe_negative(data_.draw, axis, rank)
    op = check(S.ConcatOp, [tensor_of(x) for x in inputs], axis=integer(axis))
    assert_same(run(op, *inputs), onnx_run("Concat", inputs, axis=axis)[0])


@given(shape=shapes(min_dims=1), seed=seeds, data_=st.data())
def test_split(shape, seed, data_):
    rank = len(shape)
    axis = data_.draw(st.integers(0, rank - 1))
    cuts = sorted(data_.draw(st.sets(st.integers(1, shape[axis] - 1))) if shape[axis] > 1 else [])
    sizes = np.diff([0, *cuts, shape[axis]]).tolist()
    x = data(shape, seed)
    axis_attr = data_.draw(st.sampled_from([None, maybe_negative(data_.draw, axis, rank)])) if axis == 0 \
        else maybe_negative(data_.draw, axis, rank)
    op = check(S.SplitOp, [tensor_of(x)], axis=None if axis_attr is None else integer(axis_attr),
               sizes=ints(sizes))
    expected = onnx_run("Split", [x], [np.array(sizes, np.int64)], outputs=len(sizes),
                        **({} if axis_attr is None else {"axis": axis_attr}))
    ours = run(op, x)
    assert len(ours) == len(expected)
    for a, b in zip(ours, expected):
        assert_same(a, b)


# ---------------------------------------------------------------------------------------------
# Selecting

BIG = 2**62  # ONNX models write "to the end" as a huge index


@st.composite
def slices(draw):
    shape = draw(shapes(min_dims=1, min_side=0, max_side=6))  # onnxruntime cannot slice rank 0
    rank = len(shape)
    axes = draw(st.permutations(range(rank)))[:draw(st.integers(0, rank))]
    index = st.one_of(st.integers(-8, 8), st.sampled_from([BIG, -BIG]))
    rows = [(draw(index), draw(index), draw(st.integers(-3, 3).filter(bool))) for _ in axes]
    starts, ends, steps = (list(col) for col in zip(*rows)) if rows else ([], [], [])
    return shape, [maybe_negative(draw, a, rank) for a in axes], starts, ends, steps


@given(case=slices(), seed=seeds)
def test_slice(case, seed):
    shape, axes, starts, ends, steps = case
    x = data(shape, seed)
    op = check(S.SliceOp, [tensor_of(x)], starts=ints(starts), ends=ints(ends), axes=ints(axes),
               steps=ints(steps))
    expected = onnx_run("Slice", [x], [np.array(v, np.int64) for v in (starts, ends, axes, steps)])[0]
    assert_same(run(op, x), expected)


@pytest.mark.parametrize("start, end, step, dim, expected", [
    (0, BIG, 1, 5, (0, 5, 5)),
    (-2, BIG, 1, 5, (3, 5, 2)),
    (BIG, -BIG, -1, 5, (4, -1, 5)),     # reversed: end -1 means "past the front"
    (-9, 0, -1, 5, (0, 0, 0)),          # start clamps to 0 for a negative step
    (1, 4, 2, 5, (1, 4, 2)),
    (3, 3, 1, 0, (0, 0, 0)),
])
def test_slice_bounds_clamp_like_onnx(start, end, step, dim, expected):
    assert S.slice_bounds(start, end, step, dim) == expected


@given(shape=shapes(min_dims=1), seed=seeds, data_=st.data())
def test_gather(shape, seed, data_):
    rank = len(shape)
    axis = data_.draw(st.integers(0, rank - 1))
    dim = shape[axis]
    index_shape = data_.draw(shapes(max_dims=2, min_side=0, max_side=3))
    indices = np.random.default_rng(seed).integers(-dim, dim, index_shape)
    indices = np.asarray(indices, data_.draw(st.sampled_from([np.int32, np.int64])))
    axis = data_.draw(st.sampled_from([None, maybe_negative(data_.draw, axis, rank)])) if axis == 0 \
        else maybe_negative(data_.draw, axis, rank)
    x = data(shape, seed)
    op = check(S.GatherOp, [tensor_of(x), tensor_of(indices)], axis=None if axis is None else integer(axis))
    expected = onnx_run("Gather", [x, indices], **({} if axis is None else {"axis": axis}))[0]
    assert_same(run(op, x, indices), expected)


# ---------------------------------------------------------------------------------------------
# Repeating and padding


@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4), seed=seeds)
def test_expand(shapes, seed):
    (shape, target), _ = shapes
    x = data(shape, seed)
    op = check(S.ExpandOp, [tensor_of(x)], shape=ints(target))
    assert_same(run(op, x), onnx_run("Expand", [x], [np.array(target, np.int64)])[0])


@st.composite
def pads(draw):
    """A shape, a mode and pads it allows: negative pads (crops) in constant mode only."""
    mode = draw(st.sampled_from(["constant", "reflect", "edge"]))
    shape = draw(shapes(min_dims=1, min_side=0 if mode == "constant" else 1))  # onnxruntime: no rank 0
    begins, ends = [], []
    for d in shape:
        if mode == "constant":
            b = draw(st.integers(-d, 3))
            e = draw(st.integers(-(d + min(b, 0)), 3))
        else:
            most = d - 1 if mode == "reflect" else 3
            b, e = draw(st.integers(0, most)), draw(st.integers(0, most))
        begins.append(b)
        ends.append(e)
    return shape, mode, begins + ends


@given(case=pads(), seed=seeds, value=st.none() | st.integers(-5, 5),
       dtype=st.sampled_from([np.float32, np.int32]), default_mode=st.booleans())
def test_pad(case, seed, value, dtype, default_mode):
    shape, mode, pad_list = case
    x = data(shape, seed, dtype)
    if mode != "constant":
        value = None
    mode_attr = None if mode == "constant" and default_mode else string(mode)
    op = check(S.PadOp, [tensor_of(x)], pads=ints(pad_list), mode=mode_attr,
               value=None if value is None else real(value))
    constant = [None] if value is None else [np.array(value, dtype)]
    expected = onnx_run("Pad", [x], [np.array(pad_list, np.int64), *constant], mode=mode)[0]
    assert_same(run(op, x), expected)
    assert (op.fold(None) is op.x) == (not any(pad_list))


@given(shape=shapes(min_side=0), seed=seeds, data_=st.data())
def test_tile(shape, seed, data_):
    repeats = data_.draw(st.lists(st.integers(0, 3), min_size=len(shape), max_size=len(shape)))
    x = data(shape, seed)
    op = check(S.TileOp, [tensor_of(x)], repeats=ints(repeats))
    assert_same(run(op, x), onnx_run("Tile", [x], [np.array(repeats, np.int64)])[0])


# ---------------------------------------------------------------------------------------------
# Shapes as data

FILLS = [(np.float32, f32), (np.int32, i32), (np.int64, i64), (np.bool_, i1)]


@given(dims=shapes(min_side=0), fill=st.none() | st.tuples(st.sampled_from(FILLS), st.integers(-5, 5)))
def test_constant_of_shape(dims, fill):
    shape = np.array(dims, np.int64)
    if fill is None:
        value, element, attrs = None, f32, {}
    else:
        (dtype, element), v = fill
        array = np.array([v], dtype)
        value, attrs = dense(array, element), {"value": numpy_helper.from_array(array)}
    op = check(S.ConstantOfShapeOp, [tensor_of(shape)], result_types=[tensor_of(dims, element)], value=value)
    assert_same(run(op, shape), onnx_run("ConstantOfShape", [], [shape], **attrs)[0])
    folded = op.fold(dense(shape, i64))
    assert folded.type == op.y.type
    np.testing.assert_array_equal(folded.array, run(op, shape))
    assert op.fold(None) is None


@given(shape=shapes(min_side=0), seed=seeds, data_=st.data())
def test_shape(shape, seed, data_):
    rank = len(shape)
    start, end = (data_.draw(st.none() | st.integers(-rank - 2, rank + 2)) for _ in range(2))
    x = data(shape, seed)
    op = check(S.ShapeOp, [tensor_of(x)], start=None if start is None else integer(start),
               end=None if end is None else integer(end))
    attrs = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
    expected = onnx_run("Shape", [x], opset=18, **attrs)[0]
    assert_same(run(op, x), expected)
    assert_same(op.fold(None).array, expected)


# ---------------------------------------------------------------------------------------------
# Dynamic dims stay dynamic where the op cannot compute them


def dyn(*dims, element=f32):
    return tensor_of(dims, element)


@pytest.mark.parametrize("op_class, operands, props, result", [
    (S.ReshapeOp, [dyn(None, 3)], dict(shape=ints([-1])), dyn(None)),
    (S.ReshapeOp, [dyn(None, 3)], dict(shape=ints([3, -1, 1])), dyn(3, None, 1)),
    (S.FlattenOp, [dyn(2, None, 4)], dict(axis=integer(1)), dyn(2, None)),
    (S.TransposeOp, [dyn(None, 3)], {}, dyn(3, None)),
    (S.SqueezeOp, [dyn(None, 3)], dict(axes=ints([0])), dyn(3)),
    (S.ConcatOp, [dyn(None, 3), dyn(2, None)], dict(axis=integer(0)), dyn(None, 3)),
    (S.ConcatOp, [dyn(2, None), dyn(2, 3)], dict(axis=integer(1)), dyn(2, None)),
    (S.SplitOp, [dyn(None, 4)], dict(axis=integer(1), sizes=ints([1, 3])), None),
    (S.SliceOp, [dyn(None, 5)], dict(starts=ints([0, 1]), ends=ints([2, BIG]), axes=ints([0, 1]),
                                      steps=ints([1, 2])), dyn(None, 2)),
    (S.GatherOp, [dyn(None, 3), dyn(4, element=i64)], dict(axis=integer(1)), dyn(None, 4)),
    (S.ExpandOp, [dyn(None, 1)], dict(shape=ints([2, 1, 5])), dyn(2, None, 5)),
    (S.PadOp, [dyn(None, 3)], dict(pads=ints([1, 1, 1, 1])), dyn(None, 5)),
    (S.TileOp, [dyn(None, 3)], dict(repeats=ints([2, 2])), dyn(None, 6)),
    (S.ShapeOp, [dyn(None, 3)], {}, dyn(2, element=i64)),
])
def test_dynamic_dims(op_class, operands, props, result):
    op = check(op_class, operands, **props)
    if result is not None:
        assert op.results[0].type == result


def test_shape_of_dynamic_dims_folds_only_when_the_slice_is_static():
    assert build(S.ShapeOp, [dyn(None, 3)]).fold(None) is None
    folded = build(S.ShapeOp, [dyn(None, 3)], start=integer(1)).fold(None)
    assert folded.array.tolist() == [3]


# ---------------------------------------------------------------------------------------------
# Folds to the operand


@pytest.mark.parametrize("op_class, operand, props, folds", [
    (S.ReshapeOp, dyn(2, 3), dict(shape=ints([2, 3])), True),
    (S.ReshapeOp, dyn(2, 3), dict(shape=ints([3, 2])), False),
    (S.FlattenOp, dyn(2, 3), {}, True),
    (S.SqueezeOp, dyn(2, 3), dict(axes=ints([])), True),
    (S.UnsqueezeOp, dyn(2, 3), dict(axes=ints([])), True),
    (S.SliceOp, dyn(2, 3), dict(starts=ints([0]), ends=ints([BIG]), axes=ints([1]), steps=ints([1])), True),
    (S.SliceOp, dyn(1, 3), dict(starts=ints([0]), ends=ints([-BIG]), axes=ints([0]), steps=ints([-1])), False),
    (S.ExpandOp, dyn(2, 3), dict(shape=ints([1, 3])), True),
    (S.TileOp, dyn(2, 3), dict(repeats=ints([1, 1])), True),
    (S.TileOp, dyn(None, 3), dict(repeats=ints([2, 1])), False),
    (S.PadOp, dyn(2, 3), dict(pads=ints([1, 0, -1, 0])), False),
])
def test_folds_to_the_operand(op_class, operand, props, folds):
    op = build(op_class, [operand], **props)
    assert (op.fold(None) is op.x) == folds


def test_concat_and_split_of_one_fold_to_the_operand():
    concat = build(S.ConcatOp, [dyn(2, 3)], axis=integer(0))
    assert concat.fold(None) is concat.inputs[0]
    split = build(S.SplitOp, [dyn(2, 3)], sizes=ints([2]))
    assert split.fold(None) == [split.x]


# ---------------------------------------------------------------------------------------------
# Verifier messages


@pytest.mark.parametrize("op_class, operands, props, message", [
    (S.ReshapeOp, [dyn(2, 3)], dict(shape=ints([4, 2])),
     "cannot reshape [2, 3] (6 elements) to [4, 2] (8 elements)"),
    (S.ReshapeOp, [dyn(2, 3)], dict(shape=ints([4, -1])), "cannot reshape [2, 3] (6 elements) to [4, -1]"),
    (S.ReshapeOp, [dyn(2, 3)], dict(shape=ints([-1, -1])),
     "shape [-1, -1] has a negative size; only one -1 (the rest) is allowed"),
    (S.FlattenOp, [dyn(2, 3)], dict(axis=integer(3)), "axis 3 is out of range for rank 2 (flatten takes -2 to 2)"),
    (S.TransposeOp, [dyn(2, 3)], dict(perm=ints([0, 0])), "perm [0, 0] is not a permutation of the 2 dims 0..1"),
    (S.SqueezeOp, [dyn(2, 3)], dict(axes=ints([1])), "cannot squeeze axis 1 of size 3; only size-1 axes go"),
    (S.SqueezeOp, [dyn(None, 1)], dict(axes=ints([])),
     "squeeze without axes needs a static shape, not [?, 1] (name the axes to remove)"),
    (S.UnsqueezeOp, [dyn(2, 3)], dict(axes=ints([0, -4])), "axes [0, -4] name the same axis twice"),
    (S.ConcatOp, [dyn(2, 3), dyn(4, 3)], dict(axis=integer(1)),
     "operands disagree on dimension 0 (2 vs 4); only the concatenation axis 1 may differ"),
    (S.ConcatOp, [dyn(2, 3), dyn(3)], dict(axis=integer(0)),
     "operand x1 has rank 1 but x0 has rank 2; all operands need the same rank"),
    (S.SplitOp, [dyn(2, 6)], dict(axis=integer(1), sizes=ints([2, 3])),
     "sizes [2, 3] add up to 5, but axis 1 has size 6"),
    (S.SliceOp, [dyn(2, 6)], dict(starts=ints([0]), ends=ints([1, 2]), axes=ints([0]), steps=ints([1])),
     "starts, ends, axes and steps have 1, 2, 1 and 1 values; they need one each per sliced axis"),
    (S.SliceOp, [dyn(2, 6)], dict(starts=ints([0]), ends=ints([1]), axes=ints([0]), steps=ints([0])),
     "steps [0] has a 0; a step moves at least one element"),
    (S.GatherOp, [dyn(2, 6), dyn(3, element=i64)], dict(axis=integer(2)), "axis 2 is out of range for rank 2"),
    (S.ExpandOp, [dyn(2, 3)], dict(shape=ints([4])),
     "shapes [2, 3] and [4] do not broadcast (dimension -1 is 3 vs 4)"),
    (S.PadOp, [dyn(2, 3)], dict(pads=ints([1, 1])),
     "pads has 2 values; a rank-2 tensor needs 4 (all begins, then all ends)"),
    (S.PadOp, [dyn(2, 3)], dict(pads=ints([0, 3, 0, 0]), mode=string("reflect")),
     "reflect pads of axis 1 must be smaller than its size 3"),
    (S.PadOp, [dyn(2, 3)], dict(pads=ints([0, 0, 0, 0]), mode=string("wrap")),
     'mode is "wrap"; it must be "constant", "reflect" or "edge"'),
    (S.PadOp, [dyn(2, 3)], dict(pads=ints([0, -2, 0, -2])), "pads [0, -2, 0, -2] crop axis 1 of size 3 below zero"),
    (S.TileOp, [dyn(2, 3)], dict(repeats=ints([2])), "repeats [2] must give one count (0 or more) for each of the 2 dims"),
])
def test_verifier_message(op_class, operands, props, message):
    assert verify_message(op_class, operands, [dyn(1)], **props) == f"'{op_class.name}' op {message}"


def test_gather_indices_are_integers():
    assert verify_message(S.GatherOp, [dyn(2, 3), dyn(2)], [dyn(2, 3)]) == \
        "'nn.gather' op operand 'indices' must be a tensor of i32 or i64, but got tensor<2xf32>"


def test_constant_of_shape_messages():
    shape = dyn(2, element=i64)
    assert verify_message(S.ConstantOfShapeOp, [shape], [dyn(2, 3, 4)]) == \
        "'nn.constant_of_shape' op shape operand has 2 elements but the result has rank 3"
    assert verify_message(S.ConstantOfShapeOp, [shape], [dyn(2, 3, element=i32)]) == \
        "'nn.constant_of_shape' op value has element type f32 but the result has i32"
    two = dense(np.array([1, 2], np.int32), i32)
    assert verify_message(S.ConstantOfShapeOp, [shape], [dyn(2, 3, element=i32)], value=two) == \
        "'nn.constant_of_shape' op value has 2 elements; it needs exactly one"
    assert verify_message(S.ConstantOfShapeOp, [dyn(None, element=i64)], [dyn(2, 3)]) == \
        "'nn.constant_of_shape' op shape operand has a dynamic length; the result's rank must be known"


# ---------------------------------------------------------------------------------------------
# Docstrings: every op's IR example parses, verifies and round-trips

ALL_OPS = [S.ReshapeOp, S.FlattenOp, S.TransposeOp, S.SqueezeOp, S.UnsqueezeOp, S.ConcatOp, S.SplitOp,
           S.SliceOp, S.GatherOp, S.ExpandOp, S.PadOp, S.TileOp, S.ConstantOfShapeOp, S.ShapeOp,
           S.ChannelShuffleOp]  # channel_shuffle's numbers: tests/test_combine_ops.py


@pytest.mark.parametrize("op_class", ALL_OPS, ids=lambda c: c.name)
def test_docstring_example(op_class):
    check_docstring(op_class)


def test_every_op_of_the_module_is_tested():
    assert {c for c in nn.ops.values() if c.__module__ == S.__name__} == set(ALL_OPS)
