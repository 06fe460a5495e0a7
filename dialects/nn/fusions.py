"""Fusions of the nn dialect's linear ops: convolutions and matrix products absorb the constant
biases, scales and batch norms that follow them, matrix products become gemms, and (as options)
a gemm and a 1x1 convolution turn into each other.

Each pattern is one class, named for what it does, with its rule `before -> after` as its
docstring and a note of where the idea comes from. After the op-type guard a pattern that gives up
names the precondition that failed (`return rewriter.fail(op, "weights-constant")`), which
`lamina opt --explain-patterns` reports. Every new op passes the `infers(...)` shape guard first,
so a replacement has exactly the type of what it replaces.

New weights are computed here with numpy, in float64 and rounded once to the weights' element
type, and stored as new `nn.constant`s (the old constants are erased by the driver once unused;
a shared constant is never changed in place). The patterns are collected by the `combine-ops`
pass (compiler/passes/combine_ops.py); they are not canonicalizations.
"""

from __future__ import annotations

import math

import numpy as np

from lamina.compiler.attributes import DenseElementsAttr
from lamina.compiler.location import UNKNOWN, FusedLoc
from lamina.compiler.rewrite import RewritePattern
from lamina.compiler.types import RankedTensorType

from .base import ConstantOp, broadcasts_to, integer, ints, py, real
from .conv import Conv2DOp
from .elementwise import AddOp, DivOp, MulOp
from .linalg import GemmOp, MatMulOp
from .norm import BatchNormOp
from .patterns import infers, producer, reshape_target
from .shape import ReshapeOp, TransposeOp

# ---------------------------------------------------------------------------------------------
# Helpers the fusions share


def constant_array(value) -> np.ndarray | None:
    """The array of an `nn.constant` result, or None when `value` is not one."""
    const = producer(value, ConstantOp)
    return None if const is None else const.value.array


def one_element(array: np.ndarray | None) -> float | None:
    """The value of a one-element array (any rank), or None."""
    if array is None or array.size != 1:
        return None
    return float(array.reshape(()))


def close_to(value: float | None, expected: float, rel: float = 1e-6) -> bool:
    return value is not None and math.isclose(value, expected, rel_tol=rel, abs_tol=rel)


def single_use(value) -> bool:
    return len(value.uses) == 1


def operand_from(op, *classes):
    """For a commutative binary op: (the producer of one operand that is one of `classes`, the
    other operand), trying `a` first; (None, None) when neither operand comes from `classes`."""
    for mine, other in ((op.operands[0], op.operands[1]), (op.operands[1], op.operands[0])):
        p = producer(mine, *classes)
        if p is not None:
            return p, other
    return None, None


def fused_location(*ops):
    """The location of an op that replaces `ops`: theirs merged (unknown ones dropped)."""
    known = []
    for op in ops:
        if op.location != UNKNOWN and op.location not in known:
            known.append(op.location)
    if not known:
        return UNKNOWN
    return known[0] if len(known) == 1 else FusedLoc(tuple(known))


def new_constant(rewriter, anchor, array, element_type, location=UNKNOWN):
    """An `nn.constant` holding `array` (rounded to `element_type`), inserted before `anchor`."""
    array = np.asarray(array).astype(element_type.numpy_dtype)
    t = RankedTensorType(array.shape, element_type)
    const = ConstantOp(result_types=[t], properties={"value": DenseElementsAttr(t, array)},
                       location=location)
    rewriter.insert_before(anchor, const)
    return const.result


def reshaped(rewriter, anchor, value, shape):
    """`value` in `shape`: a new constant when it is one, else an `nn.reshape` before `anchor`."""
    if tuple(value.type.shape) == tuple(shape):
        return value
    array = constant_array(value)
    if array is not None:
        return new_constant(rewriter, anchor, array.reshape(shape), value.type.element_type)
    op = ReshapeOp.build(value, shape=ints(shape), location=anchor.location)
    rewriter.insert_before(anchor, op)
    return op.y


def per_channel(array: np.ndarray, out_shape, axis: int) -> np.ndarray | None:
    """`array` as a [C] vector when, broadcast to `out_shape`, it varies only along `axis` (C is
    out_shape[axis]); None otherwise. [1, C, 1, 1], [C, 1, 1] and one element qualify for
    axis 1 of a 4-D output."""
    rank = len(out_shape)
    if array.ndim > rank or not broadcasts_to(array.shape, tuple(out_shape)):
        return None
    aligned = (1,) * (rank - array.ndim) + array.shape
    if any(d != 1 for i, d in enumerate(aligned) if i != axis):
        return None
    channels = out_shape[axis]
    if channels is None:
        return None
    return np.broadcast_to(array.reshape(aligned[axis]), (channels,)).astype(np.float64)


def conv_channel_axis(conv) -> int:
    return 1 if py(conv.layout) == "NCHW" else 3


def optional_constant(values, default_shape) -> np.ndarray | None:
    """The array of an optional operand (a list of none or one value): zeros when absent, None
    when present but not constant."""
    if not values:
        return np.zeros(default_shape)
    return constant_array(values[0])


def batch_norm_params(bn):
    """(s, t) with batch_norm(x) = x * s + t per channel, in float64; None unless the scale,
    bias, mean and var are all constants."""
    arrays = [constant_array(v) for v in (bn.scale, bn.bias, bn.mean, bn.var)]
    if any(a is None for a in arrays):
        return None
    scale, bias, mean, var = (a.astype(np.float64) for a in arrays)
    epsilon = float(np.float32(py(bn.epsilon)))
    with np.errstate(all="ignore"):
        s = scale / np.sqrt(var + epsilon)
    return s, bias - mean * s


# ---------------------------------------------------------------------------------------------
# Convolutions absorb what follows them


def conv_absorbs_bn_failure(bn) -> str | None:
    """Why batch_norm(conv2d(...)) cannot fold into the conv (a precondition name), or None."""
    conv = producer(bn.x, Conv2DOp)
    if conv is None:
        return "input-from-conv2d"
    if not single_use(conv.y):
        return "conv-single-use"
    if py(conv.layout) != "NCHW":
        return "conv-layout-nchw"  # batch_norm's channel axis is 1: NCHW's channels
    if constant_array(conv.w) is None:
        return "weights-constant"
    if optional_constant(conv.bias, (1,)) is None:
        return "bias-constant"
    return None


class FuseBatchNormIntoConv(RewritePattern):
    """batch_norm(conv2d(x, w, [b]), scale, bias, mean, var) -> conv2d(x, w * s, (b - mean) * s + bias)
    where s = scale / sqrt(var + epsilon), per output channel

    Inference batch norm is a per-channel affine map, and a convolution is linear in its weights:
    the map goes into the weights and bias, and the batch norm disappears. From ONNX Runtime
    (ConvBNFusion), NCNN (fuse_convolution_batchnorm) and MNN."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, BatchNormOp):
            return False
        failure = conv_absorbs_bn_failure(op)
        if failure is not None:
            return rewriter.fail(op, failure)
        params = batch_norm_params(op)
        if params is None:
            return rewriter.fail(op, "bn-params-constant")
        conv = op.x.op
        s, t = params
        w = constant_array(conv.w).astype(np.float64)
        b = optional_constant(conv.bias, (w.shape[0],)).astype(np.float64)
        if s.shape != (w.shape[0],) or not conv.y.type == op.y.type:
            return rewriter.fail(op, "result-type")
        element = conv.w.type.element_type
        new_w = new_constant(rewriter, op, w * s.reshape(-1, 1, 1, 1), element)
        new_b = new_constant(rewriter, op, b * s + t, element)
        rewriter.replace_op(op, Conv2DOp(operands=[conv.x, new_w, new_b], result_types=[op.y.type],
                                         properties=dict(conv.properties),
                                         location=fused_location(conv, op)))
        return True


class FuseConvBiasAdd(RewritePattern):
    """add(conv2d(x, w, [b]), c) -> conv2d(x, w, b + c)   (c a per-output-channel constant:
    [1, O, 1, 1], [O, 1, 1] or one element for NCHW)

    Adding the same constant to every pixel of a channel is what the conv's bias does. From ONNX
    Runtime (ConvAddFusion), NCNN and MNN."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, AddOp):
            return False
        conv, other = operand_from(op, Conv2DOp)
        if conv is None:
            return rewriter.fail(op, "operand-from-conv2d")
        if not single_use(conv.y):
            return rewriter.fail(op, "conv-single-use")
        addend = constant_array(other)
        if addend is None:
            return rewriter.fail(op, "addend-constant")
        if op.z.type != conv.y.type:
            return rewriter.fail(op, "result-type")
        vector = per_channel(addend, conv.y.type.shape, conv_channel_axis(conv))
        if vector is None:
            return rewriter.fail(op, "addend-per-channel")
        bias = optional_constant(conv.bias, vector.shape)
        if bias is None:
            return rewriter.fail(op, "bias-constant")
        new_b = new_constant(rewriter, op, bias.astype(np.float64) + vector, conv.y.type.element_type)
        rewriter.replace_op(op, Conv2DOp(operands=[conv.x, conv.w, new_b], result_types=[op.z.type],
                                         properties=dict(conv.properties),
                                         location=fused_location(conv, op)))
        return True


class FuseMulIntoConvWeights(RewritePattern):
    """mul(conv2d(x, w, [b]), k) -> conv2d(x, w * k, b * k)   (k a per-output-channel or
    one-element constant)

    Scaling an output channel is scaling the weights (and bias) that produce it. From ONNX
    Runtime (ConvMulFusion), NCNN (fuse_convolution_mul) and MNN."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, MulOp):
            return False
        conv, other = operand_from(op, Conv2DOp)
        if conv is None:
            return rewriter.fail(op, "operand-from-conv2d")
        if not single_use(conv.y):
            return rewriter.fail(op, "conv-single-use")
        factor = constant_array(other)
        if factor is None:
            return rewriter.fail(op, "factor-constant")
        if op.z.type != conv.y.type:
            return rewriter.fail(op, "result-type")
        vector = per_channel(factor, conv.y.type.shape, conv_channel_axis(conv))
        if vector is None:
            return rewriter.fail(op, "factor-per-channel")
        w = constant_array(conv.w)
        if w is None:
            return rewriter.fail(op, "weights-constant")
        bias = conv.bias and constant_array(conv.bias[0])
        if conv.bias and bias is None:
            return rewriter.fail(op, "bias-constant")
        element = conv.y.type.element_type
        operands = [conv.x, new_constant(rewriter, op, w.astype(np.float64) * vector.reshape(-1, 1, 1, 1), element)]
        if conv.bias:
            operands.append(new_constant(rewriter, op, bias.astype(np.float64) * vector, element))
        rewriter.replace_op(op, Conv2DOp(operands=operands, result_types=[op.z.type],
                                         properties=dict(conv.properties),
                                         location=fused_location(conv, op)))
        return True


# ---------------------------------------------------------------------------------------------
# Matrix products become gemms


def is_2d_matmul(op) -> bool:
    return isinstance(op, MatMulOp) and op.a.type.rank == 2 and op.b.type.rank == 2


def gemm_properties(op) -> dict:
    """A gemm's properties, or a plain gemm's (alpha 1, beta 1, no transposes) for a matmul."""
    return dict(op.properties) if isinstance(op, GemmOp) else {}


def gemm_option(op, name: str):
    return py(getattr(op, name)) if isinstance(op, GemmOp) else {"alpha": 1.0, "beta": 1.0}.get(name, 0)


class MatMulAddToGemm(RewritePattern):
    """add(matmul(a, b), c) -> gemm(a, b, c)   (a, b 2-D; c broadcasts to [M, N]; also a gemm
    without c: add(gemm(a, b), c) -> gemm(a, b, c) {beta = 1})

    A fully connected layer exported as MatMul + Add is one Gemm. From ONNX Runtime
    (MatMulAddFusion) and MNN."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, AddOp):
            return False
        mm, c = operand_from(op, MatMulOp, GemmOp)
        if mm is None:
            return rewriter.fail(op, "operand-from-matmul")
        if not single_use(mm.results[0]):
            return rewriter.fail(op, "matmul-single-use")
        if isinstance(mm, MatMulOp) and not is_2d_matmul(mm):
            return rewriter.fail(op, "matmul-2d")
        if isinstance(mm, GemmOp) and mm.c:
            return rewriter.fail(op, "gemm-without-c")
        props = gemm_properties(mm)
        props.pop("beta", None)  # the default, 1: c is added as it is
        if op.z.type != mm.results[0].type or not infers(GemmOp, [mm.a.type, mm.b.type, c.type], props, op.z.type):
            return rewriter.fail(op, "result-type")  # c must broadcast to [M, N]
        rewriter.replace_op(op, GemmOp(operands=[mm.a, mm.b, c], result_types=[op.z.type],
                                       properties=props, location=fused_location(mm, op)))
        return True


class MatMulScaleToGemmAlpha(RewritePattern):
    """mul(matmul(a, b), k) -> gemm(a, b) {alpha = k};  div(matmul(a, b), k) -> {alpha = 1 / k}
    (k a one-element constant; a gemm's alpha and beta are both scaled)

    From ONNX Runtime (MatMulScaleFusion), which folds attention's 1/sqrt(d) this way."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, (MulOp, DivOp)):
            return False
        if isinstance(op, MulOp):
            mm, k = operand_from(op, MatMulOp, GemmOp)
        else:
            mm, k = producer(op.a, MatMulOp, GemmOp), op.b
        if mm is None:
            return rewriter.fail(op, "operand-from-matmul")
        if not single_use(mm.results[0]):
            return rewriter.fail(op, "matmul-single-use")
        if isinstance(mm, MatMulOp) and not is_2d_matmul(mm):
            return rewriter.fail(op, "matmul-2d")
        factor = one_element(constant_array(k))
        if factor is None:
            return rewriter.fail(op, "scale-one-element-constant")
        if isinstance(op, DivOp):
            if factor == 0:
                return rewriter.fail(op, "divisor-nonzero")
            factor = 1.0 / factor
        if op.z.type != mm.results[0].type:
            return rewriter.fail(op, "result-type")
        props = {**gemm_properties(mm), "alpha": real(gemm_option(mm, "alpha") * factor)}
        if isinstance(mm, GemmOp) and mm.c:
            props["beta"] = real(gemm_option(mm, "beta") * factor)
        operands = [mm.a, mm.b, *(mm.c if isinstance(mm, GemmOp) else [])]
        rewriter.replace_op(op, GemmOp(operands=operands, result_types=[op.z.type], properties=props,
                                       location=fused_location(mm, op)))
        return True


def transposed_2d(value):
    """x when `value` is transpose(x) {perm = [1, 0]} of a 2-D x, else None."""
    t = producer(value, TransposeOp)
    if t is None or t.x.type.rank != 2 or TransposeOp.permutation(t.properties, 2) != [1, 0]:
        return None
    return t.x


class TransposeIntoGemm(RewritePattern):
    """matmul/gemm(transpose(a), transpose(b)) -> gemm(a, b) {trans_a, trans_b flipped}
    (2-D, perm [1, 0]; either transpose alone too)

    Gemm reads a transposed operand in place, so the transpose op (and its copy) goes. From ONNX
    Runtime (GemmTransposeFusion, MatmulTransposeFusion)."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, (MatMulOp, GemmOp)):
            return False
        if isinstance(op, MatMulOp) and not is_2d_matmul(op):
            return rewriter.fail(op, "matmul-2d")
        a, b = transposed_2d(op.a), transposed_2d(op.b)
        if a is None and b is None:
            return rewriter.fail(op, "operand-from-transpose-2d")
        props = gemm_properties(op)
        if a is not None:
            props["trans_a"] = integer(1 - gemm_option(op, "trans_a"))
        if b is not None:
            props["trans_b"] = integer(1 - gemm_option(op, "trans_b"))
        result = op.results[0]
        operands = [a or op.a, b or op.b, *(op.c if isinstance(op, GemmOp) else [])]
        if not infers(GemmOp, [v.type for v in operands], props, result.type):
            return rewriter.fail(op, "result-type")
        rewriter.replace_op(op, GemmOp(operands=operands, result_types=[result.type], properties=props,
                                       location=op.location))
        return True


def gemm_absorbs_bn_failure(bn) -> str | None:
    """Why batch_norm(gemm/matmul(...)) cannot fold into the product (a precondition), or None."""
    mm = producer(bn.x, GemmOp, MatMulOp)
    if mm is None:
        return "input-from-gemm-or-matmul"
    if not single_use(mm.results[0]):
        return "producer-single-use"
    if isinstance(mm, MatMulOp) and not is_2d_matmul(mm):
        return "matmul-2d"  # batch_norm's channel axis 1 is then the N of [M, N]
    if constant_array(mm.b) is None:
        return "weights-constant"
    if isinstance(mm, GemmOp) and mm.c and constant_array(mm.c[0]) is None:
        return "c-constant"
    return None


class FuseBatchNormIntoGemm(RewritePattern):
    """batch_norm(gemm(a, b, [c]) or matmul(a, b)) -> gemm(a, b * s, beta * c * s + t) {beta = 1}
    where batch_norm(y) = y * s + t along axis 1, the N of the [M, N] product

    A batch norm after a fully connected layer (BatchNorm1d) is a per-column affine map, which
    goes into the columns of op(b) and into c. From ONNX Runtime (MatMulBNFusion) and MNN."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, BatchNormOp):
            return False
        failure = gemm_absorbs_bn_failure(op)
        if failure is not None:
            return rewriter.fail(op, failure)
        params = batch_norm_params(op)
        if params is None:
            return rewriter.fail(op, "bn-params-constant")
        mm = op.x.op
        s, t = params
        if op.y.type != mm.results[0].type:
            return rewriter.fail(op, "result-type")
        b = constant_array(mm.b).astype(np.float64)
        trans_b = gemm_option(mm, "trans_b")
        new_b = b * (s.reshape(-1, 1) if trans_b else s.reshape(1, -1))
        c = constant_array(mm.c[0]).astype(np.float64) if isinstance(mm, GemmOp) and mm.c else np.zeros(())
        new_c = gemm_option(mm, "beta") * c * s + t
        element = op.y.type.element_type
        props = gemm_properties(mm)
        props.pop("beta", None)  # the default, 1: beta went into the new c
        types = [mm.a.type, RankedTensorType(new_b.shape, element), RankedTensorType(new_c.shape, element)]
        if not infers(GemmOp, types, props, op.y.type):
            return rewriter.fail(op, "result-type")
        operands = [mm.a, new_constant(rewriter, op, new_b, element), new_constant(rewriter, op, new_c, element)]
        rewriter.replace_op(op, GemmOp(operands=operands, result_types=[op.y.type], properties=props,
                                       location=fused_location(mm, op)))
        return True


# ---------------------------------------------------------------------------------------------
# Batch norms absorb the scales and shifts that follow them, or become a mul and an add


def bn_scale_after(op) -> tuple | None:
    """(batch_norm, [C] vector) when `op` is mul/add(batch_norm(x), k) with k a constant that is
    the same for each channel (axis 1) and the batch norm's only user is `op`."""
    if not isinstance(op, (MulOp, AddOp)):
        return None
    bn, other = operand_from(op, BatchNormOp)
    if bn is None or not single_use(bn.y) or op.z.type != bn.y.type:
        return None
    k = constant_array(other)
    vector = None if k is None else per_channel(k, bn.y.type.shape, 1)
    return None if vector is None else (bn, vector)


class FuseScaleIntoBatchNorm(RewritePattern):
    """mul(batch_norm(x, scale, bias, mean, var), k) -> batch_norm(x, scale * k, bias * k, mean, var)
    add(batch_norm(x, scale, bias, mean, var), k) -> batch_norm(x, scale, bias + k, mean, var)
    (k a per-channel or one-element constant)

    A per-channel scale or shift after a batch norm (Caffe's BatchNorm + Scale layers) is part of
    its affine map. From NCNN (fuse_batchnorm_scale) and MNN."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, (MulOp, AddOp)):
            return False
        bn, other = operand_from(op, BatchNormOp)
        if bn is None:
            return rewriter.fail(op, "operand-from-batch-norm")
        found = bn_scale_after(op)
        if found is None:
            return rewriter.fail(op, "single-use-per-channel-constant")
        _, k = found
        scale, bias = constant_array(bn.scale), constant_array(bn.bias)
        if scale is None or bias is None:
            return rewriter.fail(op, "scale-bias-constant")
        scale, bias = scale.astype(np.float64), bias.astype(np.float64)
        if isinstance(op, MulOp):
            scale, bias = scale * k, bias * k
        else:
            bias = bias + k
        element = op.z.type.element_type
        operands = [bn.x, new_constant(rewriter, op, scale, element), new_constant(rewriter, op, bias, element),
                    bn.mean, bn.var]
        rewriter.replace_op(op, BatchNormOp(operands=operands, result_types=[op.z.type],
                                            properties=dict(bn.properties), location=fused_location(bn, op)))
        return True


class BatchNormToMulAdd(RewritePattern):
    """batch_norm(x, scale, bias, mean, var) -> add(mul(x, s), t)   (s = scale / sqrt(var + eps),
    t = bias - mean * s, both [C, 1, ..., 1]; constant parameters only)

    What is left of a batch norm that nothing could absorb is a per-channel multiply-add, which
    the fuse pass then puts into a neighbour's kernel. It fires only when neither its producer
    (a conv, gemm or 2-D matmul that FuseBatchNormInto* would take) nor a following per-channel
    mul/add (FuseScaleIntoBatchNorm) can fold into it, so those patterns never race it. From TVM
    (SimplifyInference) and MNN."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, BatchNormOp):
            return False
        params = batch_norm_params(op)
        if params is None:
            return rewriter.fail(op, "bn-params-constant")
        if conv_absorbs_bn_failure(op) is None or gemm_absorbs_bn_failure(op) is None:
            return rewriter.fail(op, "producer-cannot-absorb")
        if len(op.y.uses) == 1 and bn_scale_after(op.y.uses[0].operation) is not None:
            return rewriter.fail(op, "no-scale-after")
        s, t = params
        shape = (-1,) + (1,) * (op.x.type.rank - 2)
        element = op.y.type.element_type
        vector_type = RankedTensorType(s.reshape(shape).shape, element)
        if not infers(MulOp, [op.x.type, vector_type], {}, op.y.type):
            return rewriter.fail(op, "result-type")
        mul = MulOp.build(op.x, new_constant(rewriter, op, s.reshape(shape), element), location=op.location)
        rewriter.insert_before(op, mul)
        add = AddOp.build(mul.z, new_constant(rewriter, op, t.reshape(shape), element), location=op.location)
        rewriter.replace_op(op, add)
        return True


# ---------------------------------------------------------------------------------------------
# Options of combine-ops: gemm <-> 1x1 convolution


class Conv1x1ToGemm(RewritePattern):
    """conv2d(x [N, C, 1, 1], w [O, C, 1, 1], [b]) {1x1, stride 1, no pads, group 1}
    -> reshape(gemm(reshape(x) [N, C], reshape(w) [O, C], [b]) {trans_b = 1}) [N, O, 1, 1]

    On a 1x1 image a 1x1 convolution is a fully connected layer (the classifier heads of
    SqueezeNet and MobileNet). Off by default; `combine-ops{conv1x1-to-gemm=true}`. From MNN and
    TVM (conv2d -> dense)."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, Conv2DOp):
            return False
        if tuple(op.w.type.shape[2:]) != (1, 1):
            return rewriter.fail(op, "kernel-1x1")
        if tuple(py(op.strides)) != (1, 1) or any(py(op.pads)):
            return rewriter.fail(op, "stride-1-no-pads")
        if py(op.group) != 1 or py(op.layout) != "NCHW":
            return rewriter.fail(op, "group-1-nchw")
        n, c, h, w = op.x.type.shape
        o = op.w.type.shape[0]
        if (h, w) != (1, 1) or None in (c, o) or not op.y.type.has_static_shape:
            return rewriter.fail(op, "input-1x1-spatial")
        element = op.y.type.element_type
        gemm_type = RankedTensorType((n, o), element)
        operand_types = [RankedTensorType((n, c), element), RankedTensorType((o, c), element), *[v.type for v in op.bias]]
        if not infers(GemmOp, operand_types, {"trans_b": integer(1)}, gemm_type):
            return rewriter.fail(op, "result-type")
        x2 = reshaped(rewriter, op, op.x, (n, c))
        w2 = reshaped(rewriter, op, op.w, (o, c))
        gemm = GemmOp(operands=[x2, w2, *op.bias], result_types=[gemm_type],
                      properties={"trans_b": integer(1)}, location=op.location)
        rewriter.insert_before(op, gemm)
        rewriter.replace_op(op, ReshapeOp(operands=[gemm.y], result_types=[op.y.type],
                                          properties={"shape": ints(op.y.type.shape)}, location=op.location))
        return True


class GemmToConv1x1(RewritePattern):
    """gemm(a [M, K], b, [c [N]]) {alpha = 1, beta = 1, trans_a = 0}
    -> reshape(conv2d(reshape(a) [M, K, 1, 1], w [N, K, 1, 1], [c]) {1x1}) [M, N]

    The inverse of Conv1x1ToGemm, for back-ends whose convolution kernels are better tuned than
    their matrix products (NCNN runs InnerProduct as a 1x1 convolution on some targets). Off by
    default; `combine-ops{gemm-to-conv1x1=true}`."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, GemmOp):
            return False
        if py(op.trans_a):
            return rewriter.fail(op, "not-trans-a")
        if py(op.alpha) != 1.0 or (op.c and py(op.beta) != 1.0):
            return rewriter.fail(op, "alpha-beta-one")
        m, n = op.y.type.shape
        k = op.a.type.shape[1]
        if None in (k, n) or reshape_target((m, k, 1, 1)) is None:
            return rewriter.fail(op, "static-shapes")
        if op.c and tuple(op.c[0].type.shape) not in ((n,), (1, n)):
            return rewriter.fail(op, "c-per-column")
        element = op.y.type.element_type
        conv_types = [RankedTensorType((m, k, 1, 1), element), RankedTensorType((n, k, 1, 1), element),
                      *([RankedTensorType((n,), element)] if op.c else [])]
        if not infers(Conv2DOp, conv_types, {}, RankedTensorType((m, n, 1, 1), element)):
            return rewriter.fail(op, "result-type")
        b = op.b
        if not py(op.trans_b):  # w is [N, K]: b's transpose
            array = constant_array(b)
            if array is not None:
                b = new_constant(rewriter, op, array.T, b.type.element_type)
            else:
                t = TransposeOp.build(b, perm=ints([1, 0]), location=op.location)
                rewriter.insert_before(op, t)
                b = t.y
        x4 = reshaped(rewriter, op, op.a, reshape_target((m, k, 1, 1)))
        w4 = reshaped(rewriter, op, b, (n, k, 1, 1))
        bias = [reshaped(rewriter, op, op.c[0], (n,))] if op.c else []
        conv = Conv2DOp.build(x4, w4, *bias, location=op.location)
        rewriter.insert_before(op, conv)
        rewriter.replace_op(op, ReshapeOp(operands=[conv.y], result_types=[op.y.type],
                                          properties={"shape": ints(reshape_target((m, n)))},
                                          location=op.location))
        return True
