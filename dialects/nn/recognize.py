"""Recognising decomposed ops: the subgraphs exporters write for layer norm, GELU, hard-swish,
PReLU, global average pooling and channel shuffle become the one nn op they compute.

Same conventions as fusions.py: one class per rewrite, its rule as the docstring, guard clauses
first, `rewriter.fail(op, "<precondition>")` after the op-type guard, and `infers(...)` before any
new op is built. Constants in a pattern (the 0.5 and sqrt(2) of GELU, the 3 and 6 of hard-swish)
are checked to about 1e-6, so a near miss such as x * 0.4 * (1 + erf(x / sqrt(2))) stays as it is.
"""

from __future__ import annotations

import math

import numpy as np

from lamina.compiler.rewrite import RewritePattern
from lamina.compiler.types import RankedTensorType

from .base import broadcasts_to, integer, ints, py, real
from .conv import GlobalAvgPoolOp
from .elementwise import (AddOp, ClipOp, DivOp, ErfOp, GeluOp, HardSigmoidOp, HardSwishOp,
                          LeakyReluOp, MaxOp, MinOp, MulOp, NegOp, PowOp, PReluOp, ReluOp, SqrtOp,
                          SubOp)
from .fusions import close_to, constant_array, fused_location, new_constant, one_element, operand_from, single_use
from .norm import LayerNormOp
from .patterns import infers, producer, reshape_target
from .reduce import ReduceMeanOp, reduced_axes
from .shape import ChannelShuffleOp, ReshapeOp, TransposeOp


def constant_near(value, expected: float) -> bool:
    """Whether `value` is a one-element constant within ~1e-6 of `expected`."""
    return close_to(one_element(constant_array(value)), expected)


# ---------------------------------------------------------------------------------------------
# Layer normalization


class DecomposedLayerNormToLayerNorm(RewritePattern):
    """d = sub(x, reduce_mean(x) {axes = A, keepdims = 1})
    div(d, sqrt(add(reduce_mean(pow(d, 2) or mul(d, d)) {axes = A, keepdims = 1}, eps)))
    -> layer_norm(x, ones) {axis = A[0], epsilon = eps}   (A the trailing axes of x)

    The form PyTorch and Keras export a layer norm in before opset 17. The scale starts as ones;
    a following mul (gamma) and add (beta) go in with FuseMulIntoLayerNorm / FuseAddIntoLayerNorm.
    From ONNX Runtime (LayerNormFusion) and MNN."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, DivOp):
            return False
        sub, sqrt = producer(op.a, SubOp), producer(op.b, SqrtOp)
        if sub is None or sqrt is None:
            return rewriter.fail(op, "sub-over-sqrt")
        mean, x = producer(sub.b, ReduceMeanOp), sub.a
        if mean is None or mean.x is not x:
            return rewriter.fail(op, "sub-of-mean-of-same-input")
        add = producer(sqrt.x, AddOp)
        var, eps = operand_from(add, ReduceMeanOp) if add is not None else (None, None)
        if var is None:
            return rewriter.fail(op, "sqrt-of-variance-plus-epsilon")
        epsilon = one_element(constant_array(eps))
        if epsilon is None:
            return rewriter.fail(op, "epsilon-one-element-constant")
        square = producer(var.x, PowOp, MulOp)
        if square is None or square.a is not sub.z or not (
                square.b is sub.z if isinstance(square, MulOp) else constant_near(square.b, 2.0)):
            return rewriter.fail(op, "variance-of-squared-difference")
        rank = x.type.rank
        axes = reduced_axes(py(mean.axes), rank)
        if py(mean.keepdims) != 1 or py(var.keepdims) != 1:
            return rewriter.fail(op, "keepdims")
        if reduced_axes(py(var.axes), rank) != axes or axes != tuple(range(rank - len(axes), rank)):
            return rewriter.fail(op, "same-trailing-axes")
        normalized = x.type.shape[axes[0]:]
        if None in normalized:
            return rewriter.fail(op, "static-normalized-shape")
        scale_type = RankedTensorType(normalized, x.type.element_type)
        props = {"axis": integer(axes[0] - rank), "epsilon": real(epsilon)}
        if not infers(LayerNormOp, [x.type, scale_type], props, op.z.type):
            return rewriter.fail(op, "result-type")
        ones = new_constant(rewriter, op, np.ones(normalized), x.type.element_type)
        rewriter.replace_op(op, LayerNormOp(operands=[x, ones], result_types=[op.z.type], properties=props,
                                            location=fused_location(mean, op)))
        return True


def normalized_shape(ln) -> tuple:
    """The dims a layer norm normalizes over: x's shape from `axis` on."""
    rank = ln.x.type.rank
    return ln.x.type.shape[py(ln.axis) % rank:]


def as_normalized_parameter(array: np.ndarray, normalized: tuple) -> np.ndarray | None:
    """`array` as a layer-norm scale or bias: with leading 1s beyond the normalized rank dropped
    ([1, 4] -> [4] for a normalized shape [4]), when it then broadcasts to `normalized`; None
    when it does not (it varies along, or adds, a dim that is not normalized)."""
    shape = array.shape
    while len(shape) > len(normalized) and shape[0] == 1:
        shape = shape[1:]
    if not broadcasts_to(shape, normalized):
        return None
    return array.reshape(shape)


class FuseMulIntoLayerNorm(RewritePattern):
    """mul(layer_norm(x, scale, [bias]), gamma) -> layer_norm(x, scale * gamma, [bias * gamma])
    (gamma a constant that broadcasts to the normalized shape x.shape[axis:])

    The shape guard matters: a gamma that broadcasts along other axes (or makes the product
    larger than x) is not a layer-norm scale, and such a mul stays. From ONNX Runtime
    (LayerNormFusion's gamma) and MNN."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, MulOp):
            return False
        ln, other = operand_from(op, LayerNormOp)
        if ln is None:
            return rewriter.fail(op, "operand-from-layer-norm")
        if not single_use(ln.y):
            return rewriter.fail(op, "layer-norm-single-use")
        gamma = constant_array(other)
        if gamma is None:
            return rewriter.fail(op, "gamma-constant")
        failure = self.shape_guard(op, ln, gamma)
        if failure is not None:
            return rewriter.fail(op, failure)
        normalized = as_normalized_parameter(gamma, normalized_shape(ln))
        gamma = gamma if normalized is None else normalized
        scale = constant_array(ln.scale)
        bias = ln.bias and constant_array(ln.bias[0])
        if scale is None or (ln.bias and bias is None):
            return rewriter.fail(op, "scale-bias-constant")
        element = op.z.type.element_type
        operands = [ln.x, new_constant(rewriter, op, scale.astype(np.float64) * gamma, element)]
        if ln.bias:
            operands.append(new_constant(rewriter, op, bias.astype(np.float64) * gamma, element))
        rewriter.replace_op(op, LayerNormOp(operands=operands, result_types=[op.z.type],
                                            properties=dict(ln.properties), location=fused_location(ln, op)))
        return True

    @staticmethod
    def shape_guard(op, ln, gamma) -> str | None:
        """The failed precondition when gamma is not a layer-norm scale, else None."""
        if op.z.type != ln.y.type:
            return "result-type"
        if as_normalized_parameter(gamma, normalized_shape(ln)) is None:
            return "gamma-broadcasts-to-normalized-shape"
        return None


class FuseAddIntoLayerNorm(RewritePattern):
    """add(layer_norm(x, scale, [bias]), beta) -> layer_norm(x, scale, bias + beta)
    (beta a constant that broadcasts to the normalized shape x.shape[axis:])

    With the same shape guard as FuseMulIntoLayerNorm. From ONNX Runtime (LayerNormFusion's
    beta) and MNN."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, AddOp):
            return False
        ln, other = operand_from(op, LayerNormOp)
        if ln is None:
            return rewriter.fail(op, "operand-from-layer-norm")
        if not single_use(ln.y):
            return rewriter.fail(op, "layer-norm-single-use")
        beta = constant_array(other)
        if beta is None:
            return rewriter.fail(op, "beta-constant")
        if op.z.type != ln.y.type:
            return rewriter.fail(op, "result-type")
        beta = as_normalized_parameter(beta, normalized_shape(ln))
        if beta is None:
            return rewriter.fail(op, "beta-broadcasts-to-normalized-shape")
        bias = constant_array(ln.bias[0]) if ln.bias else np.zeros(())
        if bias is None:
            return rewriter.fail(op, "bias-constant")
        new_bias = new_constant(rewriter, op, bias.astype(np.float64) + beta, op.z.type.element_type)
        rewriter.replace_op(op, LayerNormOp(operands=[ln.x, ln.scale, new_bias], result_types=[op.z.type],
                                            properties=dict(ln.properties), location=fused_location(ln, op)))
        return True


# ---------------------------------------------------------------------------------------------
# Activations


def erf_gate_input(value):
    """x when `value` is add(erf(div(x, sqrt 2) or mul(x, 1 / sqrt 2)), 1), else None."""
    add = producer(value, AddOp)
    if add is None:
        return None
    erf, one = operand_from(add, ErfOp)
    if erf is None or not constant_near(one, 1.0):
        return None
    scaled = producer(erf.x, DivOp, MulOp)
    if isinstance(scaled, DivOp) and constant_near(scaled.b, math.sqrt(2.0)):
        return scaled.a
    if isinstance(scaled, MulOp):
        for x, k in ((scaled.a, scaled.b), (scaled.b, scaled.a)):
            if constant_near(k, 1 / math.sqrt(2.0)):
                return x
    return None


def erf_gate_ops(value) -> list:
    """The ops that compute `value` when it is a GELU's gate, add(erf(x / sqrt 2), 1), in the
    order they run (the scaling, erf, add), so the gelu's location names every node it replaces;
    else []."""
    if erf_gate_input(value) is None:
        return []
    add = producer(value, AddOp)
    erf, _ = operand_from(add, ErfOp)
    return [producer(erf.x, DivOp, MulOp), erf, add]


class ErfGeluToGelu(RewritePattern):
    """x * 0.5 * (1 + erf(x / sqrt(2))), as any tree of two muls over those three factors
    (mul(mul(x, g), 0.5), mul(mul(x, 0.5), g), mul(x, mul(g, 0.5)), ...; x / sqrt(2) also as
    x * 0.7071...) -> gelu(x) {approximate = "none"}

    The exact GELU as PyTorch (nn.GELU, F.gelu) and the BERT exporters write it. From ONNX
    Runtime (GeluFusion) and MNN."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, MulOp):
            return False
        for inner_value, outer in ((op.a, op.b), (op.b, op.a)):
            inner = producer(inner_value, MulOp)
            if inner is None:
                continue
            x = self.gelu_input([inner.a, inner.b, outer])
            if x is None:
                continue
            if not infers(GeluOp, [x.type], {}, op.z.type):
                return rewriter.fail(op, "result-type")
            gate = [o for f in (inner.a, inner.b, outer) for o in erf_gate_ops(f)]
            rewriter.replace_op(op, GeluOp(operands=[x], result_types=[op.z.type],
                                           location=fused_location(*gate, inner, op)))
            return True
        return rewriter.fail(op, "factors-x-half-one-plus-erf")

    @staticmethod
    def gelu_input(factors):
        """x when the three factors are x, 0.5 and 1 + erf(x / sqrt 2) in some order."""
        for i, half in enumerate(factors):
            if not constant_near(half, 0.5):
                continue
            gate, x = [f for j, f in enumerate(factors) if j != i]
            for gate, x in ((gate, x), (x, gate)):
                if erf_gate_input(gate) is x:
                    return x
        return None


def relu6_of_x_plus_3(value):
    """x when `value` is clip(add(x, 3), 0, 6), else None."""
    clip = producer(value, ClipOp)
    if clip is None or py(clip.min) is None or py(clip.max) is None:
        return None
    if not (close_to(py(clip.min), 0.0) and close_to(py(clip.max), 6.0)):
        return None
    add = producer(clip.x, AddOp)
    if add is None:
        return None
    for x, three in ((add.a, add.b), (add.b, add.a)):
        if constant_near(three, 3.0):
            return x
    return None


def sixth_of_relu6(value):
    """x when `value` is div(clip(x + 3, 0, 6), 6) or mul(clip(x + 3, 0, 6), 1/6), else None."""
    op = producer(value, DivOp, MulOp)
    if isinstance(op, DivOp):
        return relu6_of_x_plus_3(op.a) if constant_near(op.b, 6.0) else None
    if isinstance(op, MulOp):
        for clip, k in ((op.a, op.b), (op.b, op.a)):
            if constant_near(k, 1 / 6):
                return relu6_of_x_plus_3(clip)
    return None


def x_times_relu6(value):
    """x when `value` is mul(x, clip(x + 3, 0, 6)) (either order), else None."""
    op = producer(value, MulOp)
    if op is None:
        return None
    for x, clip in ((op.a, op.b), (op.b, op.a)):
        if relu6_of_x_plus_3(clip) is x:
            return x
    return None


class HardSwishFromParts(RewritePattern):
    """mul(x, hard_sigmoid(x) {alpha = 1/6, beta = 1/2}) -> hard_swish(x)
    x * clip(x + 3, 0, 6) / 6 (as div(mul(x, relu6), 6), mul(mul(x, relu6), 1/6),
    mul(x, div(relu6, 6)) or mul(x, mul(relu6, 1/6))) -> hard_swish(x)

    MobileNetV3's activation as exporters write it before opset 14 (PyTorch's older exports use
    HardSigmoid, TensorFlow's relu6(x + 3) / 6). From MNN's and NCNN's converters, which fuse
    both forms into one HardSwish."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, (MulOp, DivOp)):
            return False
        x = self.hard_swish_input(op)
        if x is None:
            return rewriter.fail(op, "x-times-relu6-of-x-plus-3-over-6")
        if not infers(HardSwishOp, [x.type], {}, op.z.type):
            return rewriter.fail(op, "result-type")
        rewriter.replace_op(op, HardSwishOp(operands=[x], result_types=[op.z.type], location=op.location))
        return True

    @staticmethod
    def hard_swish_input(op):
        if isinstance(op, DivOp):
            return x_times_relu6(op.a) if constant_near(op.b, 6.0) else None
        for x, other in ((op.a, op.b), (op.b, op.a)):
            hs = producer(other, HardSigmoidOp)
            if hs is not None and hs.x is x and close_to(py(hs.alpha), 1 / 6) and close_to(py(hs.beta), 0.5):
                return x
            if sixth_of_relu6(other) is x:
                return x
            if constant_near(other, 1 / 6) and x_times_relu6(x) is not None:
                return x_times_relu6(x)
        return None


def positive_part(value):
    """x when `value` is relu(x) or max(x, 0), else None."""
    relu = producer(value, ReluOp)
    if relu is not None:
        return relu.x
    mx = producer(value, MaxOp)
    if mx is not None:
        for x, zero in ((mx.a, mx.b), (mx.b, mx.a)):
            if constant_near(zero, 0.0):
                return x
    return None


def negative_part(value):
    """(x, slope array) when `value` is slope * min(x, 0), or c * relu(neg(x)) (slope = -c);
    else (None, None)."""
    mul = producer(value, MulOp)
    if mul is None:
        return None, None
    for inner, k in ((mul.a, mul.b), (mul.b, mul.a)):
        slope = constant_array(k)
        if slope is None:
            continue
        mn = producer(inner, MinOp)
        if mn is not None:
            for x, zero in ((mn.a, mn.b), (mn.b, mn.a)):
                if constant_near(zero, 0.0):
                    return x, slope
        relu = producer(inner, ReluOp)
        neg = producer(relu.x, NegOp) if relu is not None else None
        if neg is not None:
            return neg.x, -slope
    return None, None


class PReluFromParts(RewritePattern):
    """add(relu(x) or max(x, 0), slope * min(x, 0)) -> prelu(x, slope)
    add(relu(x), c * relu(neg(x))) -> prelu(x, -c)   (Keras's PReLU as tf2onnx exports it:
        relu(x) - alpha * relu(-x), with -alpha folded into one constant)
    sub(relu(x), alpha * relu(neg(x))) -> prelu(x, alpha)
    (slope a constant that broadcasts to x)

    Exporters without a PRelu op write its two halves; Keras's PReLU layer computes
    `relu(x) + (-alpha) * relu(-x)`, which is what tf2onnx leaves in the graph. From MNN's
    TensorFlow converter and tf2onnx's PReLU rewriter."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, (AddOp, SubOp)):
            return False
        x, slope = self.prelu_parts(op)
        if x is None:
            return rewriter.fail(op, "relu-plus-slope-times-negative-part")
        slope_type = RankedTensorType(slope.shape, x.type.element_type)
        if not infers(PReluOp, [x.type, slope_type], {}, op.z.type):
            return rewriter.fail(op, "slope-broadcasts-to-x")
        rewriter.replace_op(op, PReluOp(operands=[x, new_constant(rewriter, op, slope, x.type.element_type)],
                                        result_types=[op.z.type], location=op.location))
        return True

    @staticmethod
    def prelu_parts(op):
        pairs = ((op.a, op.b), (op.b, op.a)) if isinstance(op, AddOp) else ((op.a, op.b),)
        for pos, neg in pairs:
            x = positive_part(pos)
            if x is None:
                continue
            nx, slope = negative_part(neg)
            if nx is x:
                return x, (-slope if isinstance(op, SubOp) else slope)
        return None, None


class PReluOneSlopeToLeakyRelu(RewritePattern):
    """prelu(x, slope) -> leaky_relu(x) {alpha = slope}   (slope a one-element constant)

    With one slope for every element PReLU is a leaky ReLU, which needs no second operand.
    From NCNN (PReLU with num_slope 1) and MNN."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, PReluOp):
            return False
        alpha = one_element(constant_array(op.slope))
        if alpha is None:
            return rewriter.fail(op, "one-element-constant-slope")
        if not infers(LeakyReluOp, [op.x.type], {}, op.y.type):
            return rewriter.fail(op, "result-type")
        rewriter.replace_op(op, LeakyReluOp(operands=[op.x], result_types=[op.y.type],
                                            properties={"alpha": real(alpha)}, location=op.location))
        return True


# ---------------------------------------------------------------------------------------------
# Pooling and data movement


class ReduceMeanHWToGlobalAvgPool(RewritePattern):
    """reduce_mean(x) {axes = [2, 3], keepdims = 1} -> global_avg_pool(x)   (x 4-D, NCHW)
    reduce_mean(x) {axes = [2, 3], keepdims = 0} -> reshape(global_avg_pool(x)) [N, C]

    A mean over H and W is global average pooling, which the pooling kernels handle (Keras's
    GlobalAveragePooling2D and timm's heads export ReduceMean). From NCNN's and MNN's converters
    (ReduceMean over the spatial axes -> global Pooling)."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, ReduceMeanOp):
            return False
        if op.x.type.rank != 4:
            return rewriter.fail(op, "input-4d")
        if reduced_axes(py(op.axes), 4) != (2, 3):
            return rewriter.fail(op, "axes-h-w")
        pooled_type = RankedTensorType(op.x.type.shape[:2] + (1, 1), op.x.type.element_type)
        if not infers(GlobalAvgPoolOp, [op.x.type], {}, pooled_type):
            return rewriter.fail(op, "result-type")
        pool = GlobalAvgPoolOp(operands=[op.x], result_types=[pooled_type], location=op.location)
        if py(op.keepdims) == 1:
            rewriter.replace_op(op, pool)
            return True
        shape = reshape_target(op.y.type.shape)
        if shape is None or not infers(ReshapeOp, [pooled_type], {"shape": ints(shape)}, op.y.type):
            return rewriter.fail(op, "result-type")
        rewriter.insert_before(op, pool)
        rewriter.replace_op(op, ReshapeOp(operands=[pool.y], result_types=[op.y.type],
                                          properties={"shape": ints(shape)}, location=op.location))
        return True


class ShuffleChannelToChannelShuffle(RewritePattern):
    """reshape(transpose(reshape(x [N, C, ...]) [N, g, C/g, ...]) {perm = [0, 2, 1, 3, ...]}) [N, C, ...]
    -> channel_shuffle(x) {groups = g}

    ShuffleNet's channel shuffle as PyTorch exports it (view, transpose(1, 2), view): one op that
    moves each element once instead of three shape ops. From NCNN (onnx2ncnn's
    fuse_shufflechannel -> ShuffleChannel) and MNN."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, ReshapeOp):
            return False
        transpose = producer(op.x, TransposeOp)
        split = producer(transpose.x, ReshapeOp) if transpose is not None else None
        if split is None:
            return rewriter.fail(op, "reshape-transpose-reshape")
        x = split.x
        rank = x.type.rank
        if rank < 2 or op.y.type != x.type or None in x.type.shape[:2]:
            return rewriter.fail(op, "result-type")
        n, c = x.type.shape[:2]
        grouped = split.y.type.shape
        groups = grouped[1] if len(grouped) == rank + 1 else None
        if groups is None or groups < 1 or c % groups or tuple(grouped) != (n, groups, c // groups) + x.type.shape[2:]:
            return rewriter.fail(op, "splits-channels-into-groups")
        if TransposeOp.permutation(transpose.properties, rank + 1) != [0, 2, 1] + list(range(3, rank + 1)):
            return rewriter.fail(op, "swaps-groups-and-channels")
        props = {"groups": integer(groups)}
        if not infers(ChannelShuffleOp, [x.type], props, op.y.type):
            return rewriter.fail(op, "result-type")
        rewriter.replace_op(op, ChannelShuffleOp(operands=[x], result_types=[op.y.type], properties=props,
                                                 location=fused_location(split, transpose, op)))
        return True
