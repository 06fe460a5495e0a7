"""nn's elementwise ops against onnxruntime: random shapes, attributes and data; verifier messages;
print -> parse -> print of each op."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from onnx import helper
from nn_helpers import (assert_same, build, check, check_docstring, onnx_run, tensor_of,
                        verify_message)

from lamina.compiler.types import f32, f64, i1, i32, i64
from lamina.dialects.nn import elementwise as E
from lamina.dialects.nn.base import nn, real, string

shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)
seeds = st.integers(0, 2**32 - 1)


def sample(shape, seed, domain="any", dtype=np.float32):
    """Random data: "any" normal values, "positive" in [0.1, 3.1), "nonzero" |x| >= 0.1,
    "small" integers in [-3, 3] (so comparisons see equal elements)."""
    rng = np.random.default_rng(seed)
    if domain == "small" or np.issubdtype(dtype, np.integer):
        return np.asarray(rng.integers(-3, 4, shape), dtype)
    x = rng.standard_normal(shape) * 3
    if domain == "positive":
        x = np.abs(x) + 0.1
    elif domain == "nonzero":
        x = np.where(x < 0, x - 0.1, x + 0.1)
    return np.asarray(x, dtype)


# ---------------------------------------------------------------------------------------------
# Unary ops without attributes

UNARY = [
    # op class, ONNX op, data, rtol, opset
    (E.NegOp, "Neg", "any", 1e-5, 18),
    (E.AbsOp, "Abs", "any", 1e-5, 18),
    (E.ExpOp, "Exp", "any", 1e-5, 18),
    (E.LogOp, "Log", "positive", 1e-5, 18),
    (E.SqrtOp, "Sqrt", "positive", 1e-5, 18),
    (E.ReciprocalOp, "Reciprocal", "nonzero", 1e-5, 18),
    (E.TanhOp, "Tanh", "any", 1e-5, 18),
    (E.SigmoidOp, "Sigmoid", "any", 1e-5, 18),
    (E.ErfOp, "Erf", "any", 1e-4, 18),  # onnxruntime's erf is a polynomial approximation
    (E.ReluOp, "Relu", "any", 1e-5, 18),
    (E.HardSwishOp, "HardSwish", "any", 1e-5, 18),
    (E.IdentityOp, "Identity", "any", 1e-5, 18),
]


@pytest.mark.parametrize("op_class, onnx_op, domain, rtol, opset", UNARY, ids=[r[1] for r in UNARY])
@given(shape=shapes, seed=seeds)
def test_unary_matches_onnxruntime(op_class, onnx_op, domain, rtol, opset, shape, seed):
    x = sample(shape, seed, domain)
    op = check(op_class, [tensor_of(x)])
    assert op.y.type == tensor_of(x)
    assert_same(op.interpret(x), onnx_run(onnx_op, [x], opset=opset)[0], rtol, atol=1e-6)


@pytest.mark.parametrize("op_class, onnx_op", [(E.NegOp, "Neg"), (E.AbsOp, "Abs"), (E.ReluOp, "Relu")])
@given(shape=shapes, seed=seeds, dtype=st.sampled_from([np.int32, np.int64]))
def test_unary_on_integers_matches_onnxruntime(op_class, onnx_op, shape, seed, dtype):
    x = sample(shape, seed, dtype=dtype)
    op = check(op_class, [tensor_of(x)])
    assert_same(op.interpret(x), onnx_run(onnx_op, [x])[0])


# ---------------------------------------------------------------------------------------------
# Unary ops with attributes

alphas = st.floats(-2, 2, allow_nan=False, width=32)


@given(shape=shapes, seed=seeds, alpha=st.none() | alphas)
def test_leaky_relu(shape, seed, alpha):
    x = sample(shape, seed)
    op = check(E.LeakyReluOp, [tensor_of(x)], alpha=None if alpha is None else real(alpha))
    attrs = {} if alpha is None else {"alpha": alpha}
    assert_same(op.interpret(x), onnx_run("LeakyRelu", [x], **attrs)[0])


@given(shape=shapes, seed=seeds, lo=st.none() | st.floats(-4, 4, width=32),
       hi=st.none() | st.floats(-4, 4, width=32), dtype=st.sampled_from([np.float32, np.int32]))
def test_clip(shape, seed, lo, hi, dtype):
    x = sample(shape, seed, dtype=dtype)
    if dtype == np.int32:  # ONNX's bounds have the data's type: keep them whole
        lo, hi = (None if v is None else float(round(v)) for v in (lo, hi))
    op = check(E.ClipOp, [tensor_of(x)], min=None if lo is None else real(lo),
               max=None if hi is None else real(hi))
    bounds = [None if v is None else np.array(v, dtype) for v in (lo, hi)]
    assert_same(op.interpret(x), onnx_run("Clip", [x], bounds)[0])


@given(shape=shapes, seed=seeds, approximate=st.sampled_from([None, "none", "tanh"]))
def test_gelu(shape, seed, approximate):
    x = sample(shape, seed)
    op = check(E.GeluOp, [tensor_of(x)], approximate=None if approximate is None else string(approximate))
    attrs = {} if approximate is None else {"approximate": approximate}
    # onnxruntime evaluates erf and tanh with f32 approximations; we use float64 and round
    assert_same(op.interpret(x), onnx_run("Gelu", [x], opset=20, **attrs)[0], rtol=1e-4, atol=1e-6)


@given(shape=shapes, seed=seeds, alpha=st.none() | alphas, beta=st.none() | alphas)
def test_hard_sigmoid(shape, seed, alpha, beta):
    x = sample(shape, seed)
    op = check(E.HardSigmoidOp, [tensor_of(x)], alpha=None if alpha is None else real(alpha),
               beta=None if beta is None else real(beta))
    attrs = {k: v for k, v in (("alpha", alpha), ("beta", beta)) if v is not None}
    assert_same(op.interpret(x), onnx_run("HardSigmoid", [x], **attrs)[0], atol=1e-6)


@given(shape=shapes, seed=seeds, ratio=st.none() | st.floats(0, 0.5, width=32))
def test_dropout_is_identity_at_inference(shape, seed, ratio):
    x = sample(shape, seed)
    op = check(E.DropoutOp, [tensor_of(x)], ratio=None if ratio is None else real(ratio))
    ratio_input = [None] if ratio is None else [np.array(ratio, np.float32)]
    assert_same(op.interpret(x), onnx_run("Dropout", [x], ratio_input)[0])
    assert op.fold(None) is op.x


CAST_TYPES = [(np.float32, f32), (np.float64, f64), (np.int32, i32), (np.int64, i64), (np.bool_, i1)]


@given(shape=shapes, seed=seeds, source=st.sampled_from(CAST_TYPES), target=st.sampled_from(CAST_TYPES))
def test_cast(shape, seed, source, target):
    x = sample(shape, seed, dtype=source[0])
    op = check(E.CastOp, [tensor_of(x)], result_types=[tensor_of(shape, target[1])])
    to = helper.np_dtype_to_tensor_dtype(np.dtype(target[0]))
    assert_same(op.interpret(x), onnx_run("Cast", [x], to=to)[0])


def test_identity_and_same_type_cast_fold_to_their_operand():
    t = tensor_of((2, 3))
    identity = build(E.IdentityOp, [t])
    assert identity.fold(None) is identity.x
    cast = build(E.CastOp, [t], result_types=[t])
    assert cast.fold(None) is cast.x
    assert build(E.CastOp, [t], result_types=[tensor_of((2, 3), i32)]).fold(None) is None


# ---------------------------------------------------------------------------------------------
# Binary ops

BINARY = [
    # op class, ONNX op, data of a, data of b
    (E.AddOp, "Add", "any", "any"),
    (E.SubOp, "Sub", "any", "any"),
    (E.MulOp, "Mul", "any", "any"),
    (E.DivOp, "Div", "any", "nonzero"),
    (E.PowOp, "Pow", "positive", "any"),
    (E.MaxOp, "Max", "small", "small"),
    (E.MinOp, "Min", "small", "small"),
    (E.EqualOp, "Equal", "small", "small"),
    (E.LessOp, "Less", "small", "small"),
    (E.GreaterOp, "Greater", "small", "small"),
]
broadcast_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4)


@pytest.mark.parametrize("op_class, onnx_op, domain_a, domain_b", BINARY, ids=[r[1] for r in BINARY])
@given(shapes=broadcast_pairs, seed=seeds)
def test_binary_matches_onnxruntime(op_class, onnx_op, domain_a, domain_b, shapes, seed):
    (shape_a, shape_b), shape_z = shapes
    a, b = sample(shape_a, seed, domain_a), sample(shape_b, seed + 1, domain_b)
    op = check(op_class, [tensor_of(a), tensor_of(b)])
    assert op.z.type == tensor_of(shape_z, op_class.result_element or f32)
    assert_same(op.interpret(a, b), onnx_run(onnx_op, [a, b])[0])


INTEGER_BINARY = [(E.AddOp, "Add"), (E.SubOp, "Sub"), (E.MulOp, "Mul"), (E.DivOp, "Div"),
                  (E.MaxOp, "Max"), (E.MinOp, "Min"), (E.EqualOp, "Equal"), (E.LessOp, "Less")]


@pytest.mark.parametrize("op_class, onnx_op", INTEGER_BINARY, ids=[r[1] for r in INTEGER_BINARY])
@given(shapes=broadcast_pairs, seed=seeds, dtype=st.sampled_from([np.int32, np.int64]))
def test_binary_on_integers_matches_onnxruntime(op_class, onnx_op, shapes, seed, dtype):
    (shape_a, shape_b), _ = shapes
    a = np.asarray(np.random.default_rng(seed).integers(-20, 21, shape_a), dtype)
    b = sample(shape_b, seed + 1, dtype=dtype)
    if op_class is E.DivOp:  # integer division truncates toward zero; x / 0 is undefined
        b = np.where(b == 0, 1, b).astype(dtype)
    op = check(op_class, [tensor_of(a), tensor_of(b)])
    assert_same(op.interpret(a, b), onnx_run(onnx_op, [a, b])[0])


@st.composite
def prelu_shapes(draw):
    """x's shape, and a slope shape that broadcasts to it: a suffix of it with some dims 1."""
    x = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4))
    n = draw(st.integers(0, len(x)))
    slope = tuple(d if draw(st.booleans()) else 1 for d in x[len(x) - n:])
    return x, slope


@given(shapes=prelu_shapes(), seed=seeds)
def test_prelu(shapes, seed):
    x, slope = sample(shapes[0], seed), sample(shapes[1], seed + 1)
    op = check(E.PReluOp, [tensor_of(x), tensor_of(slope)])
    assert op.y.type == tensor_of(x)
    assert_same(op.interpret(x, slope), onnx_run("PRelu", [x, slope])[0])


@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=4, max_side=4), seed=seeds)
def test_where(shapes, seed):
    (shape_c, shape_a, shape_b), shape_z = shapes
    cond = np.asarray(np.random.default_rng(seed).random(shape_c) < 0.5)
    a, b = sample(shape_a, seed + 1), sample(shape_b, seed + 2)
    op = check(E.WhereOp, [tensor_of(cond), tensor_of(a), tensor_of(b)])
    assert op.z.type == tensor_of(shape_z)
    assert_same(op.interpret(cond, a, b), onnx_run("Where", [cond, a, b])[0])


@given(shapes=st.integers(1, 4).flatmap(
    lambda n: hnp.mutually_broadcastable_shapes(num_shapes=n, max_dims=4, max_side=4)), seed=seeds)
def test_sum(shapes, seed):
    inputs = [sample(s, seed + i) for i, s in enumerate(shapes.input_shapes)]
    op = check(E.SumOp, [tensor_of(x) for x in inputs])
    assert op.y.type == tensor_of(shapes.result_shape)
    assert_same(op.interpret(*inputs), onnx_run("Sum", inputs)[0], atol=1e-6)
    assert (op.fold(*[None] * len(inputs)) is op.inputs[0]) == (len(inputs) == 1)


# ---------------------------------------------------------------------------------------------
# Verifier messages


def test_binary_shapes_that_do_not_broadcast():
    assert verify_message(E.AddOp, [tensor_of((2, 3)), tensor_of((4,))], [tensor_of((2, 3))]) == \
        "'nn.add' op shapes [2, 3] and [4] do not broadcast (dimension -1 is 3 vs 4)"


def test_binary_element_types_must_match():
    assert verify_message(E.MulOp, [tensor_of((2,)), tensor_of((2,), i32)], [tensor_of((2,))]) == \
        "'nn.mul' op operands have element types f32 and i32; they must match (insert an nn.cast)"


def test_comparison_result_is_i1():
    assert verify_message(E.LessOp, [tensor_of((2,)), tensor_of((2,))], [tensor_of((2,))]) == \
        "'nn.less' op has result types tensor<2xf32>, but its operands and attributes give tensor<2xi1>"


def test_float_only_op_rejects_integers():
    assert verify_message(E.ExpOp, [tensor_of((2,), i32)], [tensor_of((2,), i32)]) == \
        "'nn.exp' op operand 'x' must be a tensor of floats, but got tensor<2xi32>"


def test_prelu_slope_must_broadcast_to_x():
    assert verify_message(E.PReluOp, [tensor_of((2, 4)), tensor_of((3,))], [tensor_of((2, 4))]) == \
        "'nn.prelu' op slope of shape [3] does not broadcast to x's shape [2, 4]"
    assert verify_message(E.PReluOp, [tensor_of((4,)), tensor_of((2, 4))], [tensor_of((4,))]) == \
        "'nn.prelu' op slope of shape [2, 4] does not broadcast to x's shape [4]"


def test_gelu_approximation_must_be_known():
    assert verify_message(E.GeluOp, [tensor_of((2,))], [tensor_of((2,))], approximate=string("erf")) == \
        "'nn.gelu' op approximate is \"erf\"; it must be \"none\" or \"tanh\""


def test_cast_keeps_the_shape():
    assert verify_message(E.CastOp, [tensor_of((2, 3))], [tensor_of((6,), i32)]) == \
        "'nn.cast' op result shape [6] differs from the operand's [2, 3]; a cast keeps the shape"


def test_where_condition_is_i1_and_branches_match():
    assert verify_message(E.WhereOp, [tensor_of((2,)), tensor_of((2,)), tensor_of((2,))], [tensor_of((2,))]) == \
        "'nn.where' op operand 'cond' must be a tensor of i1, but got tensor<2xf32>"
    assert verify_message(E.WhereOp, [tensor_of((2,), i1), tensor_of((2,)), tensor_of((2,), i32)],
                          [tensor_of((2,))]) == \
        "'nn.where' op operands 'a' and 'b' have element types f32 and i32; they must match (insert an nn.cast)"


def test_sum_needs_an_operand():
    assert verify_message(E.SumOp, [], [tensor_of((2,))]) == "'nn.sum' op has no operands; it needs at least one"


# ---------------------------------------------------------------------------------------------
# Docstrings: every op's IR example parses, verifies and round-trips

ALL_OPS = [E.NegOp, E.AbsOp, E.ExpOp, E.LogOp, E.SqrtOp, E.ReciprocalOp, E.TanhOp, E.SigmoidOp,
           E.ErfOp, E.ReluOp, E.HardSwishOp, E.IdentityOp, E.LeakyReluOp, E.ClipOp, E.GeluOp,
           E.HardSigmoidOp, E.DropoutOp, E.CastOp, E.AddOp, E.SubOp, E.MulOp, E.DivOp, E.PowOp,
           E.MaxOp, E.MinOp, E.EqualOp, E.LessOp, E.GreaterOp, E.PReluOp, E.WhereOp, E.SumOp]


@pytest.mark.parametrize("op_class", ALL_OPS, ids=lambda c: c.name)
def test_docstring_example(op_class):
    check_docstring(op_class)


def test_every_op_of_the_module_is_tested():
    assert {c for c in nn.ops.values() if c.__module__ == E.__name__} == set(ALL_OPS)
