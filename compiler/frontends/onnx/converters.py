"""One converter per ONNX op type: `CONVERTERS = {"Conv": conv, ...}`.

A converter is `convert(ctx, node) -> Value | list[Value]`: it reads the node's attributes
(`node.attr`), inputs (`node.input(i)`; `node.const_ints(i, what)` and `node.const_scalar(i, what)`
for shape-like inputs, which must be constants of the right kind) and emits nn ops through the importer (`ctx.op("nn.add", a, b)`, `ctx.const(array)`), returning one
value per ONNX output. Everything ONNX computes at import time (auto_pad, shape inputs, negative
sizes, opset differences) is resolved here, so nn ops get the attributes of the op table
(dialects/nn/README.md). Ops are looked up by name, so this file names no nn class.

Before a converter runs, the importer has checked the node against its op's ONNX schema
(`Node.check_signature`: input and output counts, required attributes and their types), so a
converter reads `node.attr("axis")` of a Concat without checking it is there or is an int; the
attribute's *value* (strides of 0, pads of the wrong length) is the converter's to check, with
`CHECK_HINT` as the hint.

`CONSTANT_INPUTS` lists, per op type, the inputs a converter reads as constants; the conformance
harness turns such graph inputs into initializers (see conformance.py).
"""

from __future__ import annotations

import math

import numpy as np

from lamina.compiler.types import RankedTensorType
from lamina.dialects.nn.base import integer, ints, real, string

from .importer import CHECK_HINT, element_type

INT64_MAX = np.iinfo(np.int64).max


# ---------------------------------------------------------------------------------------------
# Helpers


def scalar(ctx, value, like):
    """A rank-0 constant of `like`'s element type."""
    el = like.type.element_type
    return ctx.const(np.asarray(value, dtype=el.numpy_dtype), el)


def static_shape(ctx, node, value, what="its input") -> tuple:
    shape = value.type.shape
    if any(d is None for d in shape):
        raise node.error(f"needs the shape of {what} to be static, but it is {value.type}",
                         hint=ctx.pin_hint())
    return tuple(shape)


def rank(value) -> int:
    return len(value.type.shape)


def norm_axes(axes, r) -> list[int]:
    return [int(a) % r if r else 0 for a in axes]


def same_pads(node, in_dims, kernel, strides, dilations, mode):
    """SAME_UPPER / SAME_LOWER: output = ceil(in / stride); the odd pixel goes at the end (upper)
    or the beginning (lower)."""
    begins, ends = [], []
    for size, k, s, d in zip(in_dims, kernel, strides, dilations):
        if size is None:
            raise node.error(f"auto_pad={mode} needs static spatial dims", hint=node.importer.pin_hint())
        out = -(-size // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
        small, big = total // 2, total - total // 2
        begins.append(small if mode == "SAME_UPPER" else big)
        ends.append(big if mode == "SAME_UPPER" else small)
    return begins + ends


def resolve_pads(node, in_dims, kernel, strides, dilations):
    mode = node.attr("auto_pad", "NOTSET")
    n = len(kernel)
    if mode == "NOTSET":
        pads = list(node.attr("pads", [0] * 2 * n))
        if len(pads) != 2 * n or any(p < 0 for p in pads):
            raise node.error(f"attribute pads={pads} needs {2 * n} values of at least 0 (a begin and an "
                             "end per spatial dim)", hint=CHECK_HINT)
        return pads
    if mode == "VALID":
        return [0] * 2 * n
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        return same_pads(node, in_dims, kernel, strides, dilations, mode)
    raise node.unsupported_attr("auto_pad", hint="auto_pad is NOTSET, VALID, SAME_UPPER or SAME_LOWER")


def lift_1d(ctx, node, x):
    """Conv/pool over one spatial dim runs as 2-D with H = 1: [N, C, W] -> [N, C, 1, W]."""
    return ctx.op("nn.unsqueeze", x, axes=ints([2]))


def spatial_attrs(node, n, kernel):
    """strides and dilations (1 each by default), checked with the kernel: n values of at least 1."""
    strides = list(node.attr("strides", [1] * n))
    dilations = list(node.attr("dilations", [1] * n))
    for name, values in (("kernel_shape", kernel), ("strides", strides), ("dilations", dilations)):
        if len(values) != n or any(v is not None and v < 1 for v in values):
            raise node.error(f"attribute {name}={values} needs {n} value{'s' * (n != 1)} of at least 1 "
                             f"(one per spatial dim)", hint=CHECK_HINT)
    return strides, dilations


def check_2d(node, x):
    if rank(x) not in (3, 4):
        raise node.error(f"has a {rank(x) - 2}-D input ({x.type}); lamina's {node.op_type} is 1-D or 2-D",
                         hint="nn.conv2d and the 2-D pools cover NCW and NCHW inputs")


# ---------------------------------------------------------------------------------------------
# Elementwise


def unary(name, **fixed):
    def convert(ctx, node):
        return ctx.op(name, node.input(0), **fixed)
    convert.__name__ = name.split(".")[1]
    return convert


def binary(name):
    def convert(ctx, node):
        return ctx.op(name, node.input(0), node.input(1))
    convert.__name__ = name.split(".")[1]
    return convert


def leaky_relu(ctx, node):
    return ctx.op("nn.leaky_relu", node.input(0), alpha=real(node.attr("alpha", 0.01)))


def hard_sigmoid(ctx, node):
    return ctx.op("nn.hard_sigmoid", node.input(0), alpha=real(node.attr("alpha", 0.2)),
                  beta=real(node.attr("beta", 0.5)))


def gelu(ctx, node):
    approximate = node.attr("approximate", "none")
    if approximate not in ("none", "tanh"):
        raise node.unsupported_attr("approximate")
    return ctx.op("nn.gelu", node.input(0), approximate=string(approximate))


def clip(ctx, node):
    if node.opset < 11:
        lo, hi = node.attr("min"), node.attr("max")
    else:
        lo_a, hi_a = node.const_scalar(1, "min"), node.const_scalar(2, "max")
        lo = None if lo_a is None else float(lo_a)
        hi = None if hi_a is None else float(hi_a)
    return ctx.op("nn.clip", node.input(0), min=None if lo is None else real(lo),
                  max=None if hi is None else real(hi))


def dropout(ctx, node):
    x = node.input(0)
    if node.opset >= 12:
        training = node.const_scalar(2, "training_mode")
        if training is not None and bool(training):
            raise node.error("runs in training mode; lamina imports inference graphs",
                             hint="export the model in eval mode")
        ratio = node.const_scalar(1, "ratio")
        ratio = 0.5 if ratio is None else float(ratio)
    else:
        ratio = node.attr("ratio", 0.5)
    y = ctx.op("nn.dropout", x, ratio=real(ratio))
    if not node.wants_output(1):
        return y
    mask = np.ones(node.check_elements(static_shape(ctx, node, x), "a mask"), dtype=np.bool_)  # inference keeps all
    return [y, ctx.const(mask)]


def cast(ctx, node):
    x = node.input(0)
    el = element_type(node.attr("to"), f"node '{node.name}' (Cast) target")
    return ctx.op("nn.cast", x, result_types=[RankedTensorType(x.type.shape, el)])


def cast_like(ctx, node):
    x, like = node.input(0), node.input(1)
    if x.type.element_type == like.type.element_type:
        return ctx.op("nn.identity", x)
    return ctx.op("nn.cast", x, result_types=[RankedTensorType(x.type.shape, like.type.element_type)])


def pow_(ctx, node):
    a, b = node.input(0), node.input(1)
    if b.type.element_type != a.type.element_type:  # ONNX lets the exponent have its own type
        b = ctx.op("nn.cast", b, result_types=[RankedTensorType(b.type.shape, a.type.element_type)])
    return ctx.op("nn.pow", a, b)


def chain(name):
    """Max / Min (n-ary): a chain of the binary op."""
    def convert(ctx, node):
        values = [v for v in node.inputs if v is not None]
        if len(values) == 1:
            return ctx.op("nn.identity", values[0])
        out = values[0]
        for v in values[1:]:
            out = ctx.op(name, out, v)
        return out
    convert.__name__ = name.split(".")[1]
    return convert


def sum_(ctx, node):
    values = [v for v in node.inputs if v is not None]
    if len(values) == 1:
        return ctx.op("nn.identity", values[0])
    if len(values) == 2:
        return ctx.op("nn.add", *values)
    return ctx.op("nn.sum", *values)


def mean(ctx, node):
    values = [v for v in node.inputs if v is not None]
    total = sum_(ctx, node) if len(values) > 1 else values[0]
    return ctx.op("nn.div", total, scalar(ctx, len(values), values[0]))


def negated(name):
    """GreaterOrEqual = not Less, LessOrEqual = not Greater: `equal(cmp(a, b), false)`."""
    def convert(ctx, node):
        cmp = ctx.op(name, node.input(0), node.input(1))
        return ctx.op("nn.equal", cmp, ctx.const(np.array(False)))
    return convert


def not_(ctx, node):
    return ctx.op("nn.equal", node.input(0), ctx.const(np.array(False)))


def and_(ctx, node):  # a ? b : false
    return ctx.op("nn.where", node.input(0), node.input(1), ctx.const(np.array(False)))


def or_(ctx, node):  # a ? true : b
    return ctx.op("nn.where", node.input(0), ctx.const(np.array(True)), node.input(1))


def xor(ctx, node):  # a != b
    return ctx.op("nn.equal", ctx.op("nn.equal", node.input(0), node.input(1)), ctx.const(np.array(False)))


def where(ctx, node):
    return ctx.op("nn.where", node.input(0), node.input(1), node.input(2))


def prelu(ctx, node):
    return ctx.op("nn.prelu", node.input(0), node.input(1))


# decompositions of activations that are not in the nn table


def softplus(ctx, node):  # log(exp(x) + 1)
    x = node.input(0)
    return ctx.op("nn.log", ctx.op("nn.add", ctx.op("nn.exp", x), scalar(ctx, 1, x)))


def softsign(ctx, node):  # x / (1 + |x|)
    x = node.input(0)
    return ctx.op("nn.div", x, ctx.op("nn.add", ctx.op("nn.abs", x), scalar(ctx, 1, x)))


def _elu(ctx, x, alpha, scale=1.0):  # scale * (x > 0 ? x : alpha * (exp(x) - 1))
    neg = ctx.op("nn.mul", scalar(ctx, alpha, x),
                 ctx.op("nn.sub", ctx.op("nn.exp", x), scalar(ctx, 1, x)))
    y = ctx.op("nn.where", ctx.op("nn.greater", x, scalar(ctx, 0, x)), x, neg)
    return y if scale == 1.0 else ctx.op("nn.mul", y, scalar(ctx, scale, x))


def elu(ctx, node):
    return _elu(ctx, node.input(0), node.attr("alpha", 1.0))


def selu(ctx, node):
    return _elu(ctx, node.input(0), node.attr("alpha", 1.67326319217681884765625),
                node.attr("gamma", 1.05070102214813232421875))


def celu(ctx, node):  # max(0, x) + min(0, alpha * (exp(x / alpha) - 1))
    x, alpha = node.input(0), node.attr("alpha", 1.0)
    e = ctx.op("nn.exp", ctx.op("nn.div", x, scalar(ctx, alpha, x)))
    neg = ctx.op("nn.mul", scalar(ctx, alpha, x), ctx.op("nn.sub", e, scalar(ctx, 1, x)))
    zero = scalar(ctx, 0, x)
    return ctx.op("nn.add", ctx.op("nn.max", x, zero), ctx.op("nn.min", neg, zero))


def thresholded_relu(ctx, node):  # x > alpha ? x : 0
    x = node.input(0)
    keep = ctx.op("nn.greater", x, scalar(ctx, node.attr("alpha", 1.0), x))
    return ctx.op("nn.where", keep, x, scalar(ctx, 0, x))


def mish(ctx, node):  # x * tanh(softplus(x))
    x = node.input(0)
    sp = ctx.op("nn.log", ctx.op("nn.add", ctx.op("nn.exp", x), scalar(ctx, 1, x)))
    return ctx.op("nn.mul", x, ctx.op("nn.tanh", sp))


# ---------------------------------------------------------------------------------------------
# Linear algebra


def gemm(ctx, node):
    c = node.optional_input(2)
    return ctx.op("nn.gemm", node.input(0), node.input(1), *([c] if c is not None else []),
                  alpha=real(node.attr("alpha", 1.0)), beta=real(node.attr("beta", 1.0)),
                  trans_a=integer(node.attr("transA", 0)), trans_b=integer(node.attr("transB", 0)))


# ---------------------------------------------------------------------------------------------
# Convolution and pooling


def conv(ctx, node):
    x, w, b = node.input(0), node.input(1), node.optional_input(2)
    check_2d(node, x)
    n = rank(x) - 2
    kernel = list(node.attr("kernel_shape", w.type.shape[2:]))
    strides, dilations = spatial_attrs(node, n, kernel)
    pads = resolve_pads(node, x.type.shape[2:], kernel, strides, dilations)
    group = node.attr("group", 1)
    if n == 1:  # as 2-D with H = 1
        x, w = lift_1d(ctx, node, x), ctx.op("nn.unsqueeze", w, axes=ints([2]))
        strides, dilations, pads = [1] + strides, [1] + dilations, [0, pads[0], 0, pads[1]]
    y = ctx.op("nn.conv2d", x, w, *([b] if b is not None else []), strides=ints(strides),
               pads=ints(pads), dilations=ints(dilations), group=integer(group))
    return ctx.op("nn.squeeze", y, axes=ints([2])) if n == 1 else y


def pool(name):
    def convert(ctx, node):
        x = node.input(0)
        check_2d(node, x)
        if node.wants_output(1):
            raise node.error("output #1 (Indices) is not supported", hint="use only the pooled values")
        if node.attr("storage_order", 0) != 0:
            raise node.unsupported_attr("storage_order")
        n = rank(x) - 2
        kernel = list(node.attr("kernel_shape"))
        strides, dilations = spatial_attrs(node, n, kernel)
        pads = resolve_pads(node, x.type.shape[2:], kernel, strides, dilations)
        extra = {}
        if name == "nn.max_pool2d":
            extra["dilations"] = dilations
        elif any(d != 1 for d in dilations):
            raise node.unsupported_attr("dilations", hint="nn.avg_pool2d has no dilations")
        else:
            extra["count_include_pad"] = integer(node.attr("count_include_pad", 0))
        if n == 1:
            x = lift_1d(ctx, node, x)
            kernel, strides, pads = [1] + kernel, [1] + strides, [0, pads[0], 0, pads[1]]
            if "dilations" in extra:
                extra["dilations"] = [1] + extra["dilations"]
        if "dilations" in extra:
            extra["dilations"] = ints(extra["dilations"])
        y = ctx.op(name, x, kernel_shape=ints(kernel), strides=ints(strides), pads=ints(pads),
                   ceil_mode=integer(node.attr("ceil_mode", 0)), **extra)
        return ctx.op("nn.squeeze", y, axes=ints([2])) if n == 1 else y
    convert.__name__ = name.split(".")[1]
    return convert


def global_pool(name):
    def convert(ctx, node):
        x = node.input(0)
        if rank(x) != 4:
            raise node.error(f"has input {x.type}; lamina's global pools take NCHW (4-D) tensors")
        return ctx.op(name, x)
    convert.__name__ = name.split(".")[1]
    return convert


# ---------------------------------------------------------------------------------------------
# Normalization


def batch_norm(ctx, node):
    if node.attr("training_mode", 0):
        raise node.error("runs in training mode; lamina imports inference graphs",
                         hint="export the model in eval mode")
    return ctx.op("nn.batch_norm", *[node.input(i) for i in range(5)],
                  epsilon=real(node.attr("epsilon", 1e-5)))


def layer_norm(ctx, node):
    """Y, and when asked the Mean and InvStdDev outputs (computed over axes [axis, rank) with
    reductions, keepdims)."""
    x, b = node.input(0), node.optional_input(2)
    axis, eps = node.attr("axis", -1), node.attr("epsilon", 1e-5)
    y = ctx.op("nn.layer_norm", x, node.input(1), *([b] if b is not None else []),
               axis=integer(axis), epsilon=real(eps))
    if not (node.wants_output(1) or node.wants_output(2)):
        return y
    axes = ints(range(axis % max(rank(x), 1), rank(x)))
    m = ctx.op("nn.reduce_mean", x, axes=axes, keepdims=integer(1))
    d = ctx.op("nn.sub", x, m)
    var = ctx.op("nn.reduce_mean", ctx.op("nn.mul", d, d), axes=axes, keepdims=integer(1))
    inv = ctx.op("nn.reciprocal", ctx.op("nn.sqrt", ctx.op("nn.add", var, scalar(ctx, eps, x))))
    return [y, m, inv]


def rms_norm(ctx, node):
    """x / sqrt(mean(x^2 over axes [axis, rank)) + epsilon) * scale"""
    x = node.input(0)
    axes = ints(range(node.attr("axis", -1) % max(rank(x), 1), rank(x)))
    ms = ctx.op("nn.reduce_mean", ctx.op("nn.mul", x, x), axes=axes, keepdims=integer(1))
    rms = ctx.op("nn.sqrt", ctx.op("nn.add", ms, scalar(ctx, node.attr("epsilon", 1e-5), x)))
    return ctx.op("nn.mul", ctx.op("nn.div", x, rms), node.input(1))


def instance_norm(ctx, node):
    return ctx.op("nn.instance_norm", node.input(0), node.input(1), node.input(2),
                  epsilon=real(node.attr("epsilon", 1e-5)))


def lrn(ctx, node):
    return ctx.op("nn.lrn", node.input(0), size=integer(node.attr("size")),
                  alpha=real(node.attr("alpha", 1e-4)), beta=real(node.attr("beta", 0.75)),
                  bias=real(node.attr("bias", 1.0)))


def softmax(name):
    """Opset >= 13: one axis (default -1). Before 13: the input is coerced to 2-D at `axis`
    (default 1) and normalized over the flattened trailing block: reshape, softmax, reshape."""
    def convert(ctx, node):
        x = node.input(0)
        r = rank(x)
        if node.opset >= 13:
            return ctx.op(name, x, axis=integer(node.attr("axis", -1)))
        axis = node.attr("axis", 1) % max(r, 1)
        if axis == r - 1 or r == 0:
            return ctx.op(name, x, axis=integer(-1))
        shape = static_shape(ctx, node, x)
        flat = ctx.op("nn.reshape", x, shape=ints([math.prod(shape[:axis]), math.prod(shape[axis:])]))
        y = ctx.op(name, flat, axis=integer(-1))
        return ctx.op("nn.reshape", y, shape=ints(shape))
    convert.__name__ = name.split(".")[1]
    return convert


# ---------------------------------------------------------------------------------------------
# Reductions


def reduce_axes(node):
    """The axes attribute (before the opset that made it an input) or input #1; None = all."""
    moved = 13 if node.op_type == "ReduceSum" else 18
    if node.opset >= moved:
        axes = node.const_ints(1, "axes", required=False)
    else:
        axes = node.attr("axes")
    return axes


def reduce(name, pre=None, post=None):
    def convert(ctx, node):
        x = node.input(0)
        axes = reduce_axes(node)
        if not axes and node.attr("noop_with_empty_axes", 0):
            return ctx.op("nn.identity", x)
        if pre:
            x = pre(ctx, x)
        y = ctx.op(name, x, axes=ints(axes or []), keepdims=integer(node.attr("keepdims", 1)))
        return post(ctx, y) if post else y
    convert.__name__ = name.split(".")[1]
    return convert


def _square(ctx, x):
    return ctx.op("nn.mul", x, x)


# ---------------------------------------------------------------------------------------------
# Shape and data movement


def reshape(ctx, node):
    x = node.input(0)
    if node.opset < 5:
        if node.attr("shape") is None:
            raise node.error("has no shape attribute", hint=CHECK_HINT)
        target = list(node.attr("shape"))
    else:
        target = node.const_ints(1, "shape")
    allowzero = node.attr("allowzero", 0)
    in_shape = x.type.shape
    out = []
    for i, d in enumerate(target):
        if d == 0 and not allowzero:
            if i >= len(in_shape):
                raise node.error(f"shape {target} copies dimension {i} (a 0), which the input {x.type} lacks")
            d = in_shape[i] if in_shape[i] is not None else -1
        out.append(d)
    if out.count(-1) > 1:
        raise node.error(f"shape {target} leaves more than one dimension to infer (-1)",
                         hint=ctx.pin_hint())
    if -1 in out and all(d is not None for d in in_shape):
        known = math.prod(d for d in out if d != -1)
        total = math.prod(in_shape)
        if known == 0 or total % known:
            raise node.error(f"cannot reshape {x.type} to {target}")
        out[out.index(-1)] = total // known
    return ctx.op("nn.reshape", x, shape=ints(out))


def flatten(ctx, node):
    x = node.input(0)
    axis = node.attr("axis", 1)
    return ctx.op("nn.flatten", x, axis=integer(axis + rank(x) if axis < 0 else axis))


def transpose(ctx, node):
    x = node.input(0)
    perm = node.attr("perm", list(reversed(range(rank(x)))))
    return ctx.op("nn.transpose", x, perm=ints(perm))


def axes_operand(node, since):
    """Squeeze/Unsqueeze axes: an attribute before opset `since`, an input from then on."""
    if node.opset >= since:
        return node.const_ints(1, "axes", required=False)
    return node.attr("axes")


def squeeze(ctx, node):
    x = node.input(0)
    axes = axes_operand(node, 13)
    return ctx.op("nn.squeeze", x, axes=ints(norm_axes(axes or [], rank(x))))


def unsqueeze(ctx, node):
    x = node.input(0)
    axes = axes_operand(node, 13)
    if not axes:
        raise node.error("has no axes to insert", hint=CHECK_HINT)
    return ctx.op("nn.unsqueeze", x, axes=ints(sorted(norm_axes(axes, rank(x) + len(axes)))))


def concat(ctx, node):
    values = [v for v in node.inputs if v is not None]
    return ctx.op("nn.concat", *values, axis=integer(node.attr("axis")))


def split(ctx, node):
    x = node.input(0)
    axis = node.attr("axis", 0) % max(rank(x), 1)
    n = len(node.output_names)
    if node.opset >= 13:
        sizes = node.const_ints(1, "split", required=False)
    else:
        sizes = node.attr("split")
    if sizes is None:
        dim = static_shape(ctx, node, x)[axis]
        n = node.attr("num_outputs", n)
        if n < 1:
            raise node.error(f"splits into {n} parts", hint=CHECK_HINT)
        if node.opset >= 18 and node.attr("num_outputs") is not None:
            chunk = -(-dim // n)
            sizes = [chunk] * (n - 1) + [dim - chunk * (n - 1)]
        else:
            if dim % n:
                raise node.error(f"cannot split dimension {axis} of {x.type} into {n} equal parts")
            sizes = [dim // n] * n
    return ctx.ops("nn.split", x, axis=integer(axis), sizes=ints(sizes))


def slice_(ctx, node):
    x = node.input(0)
    if node.opset < 10:
        starts, ends = list(node.attr("starts")), list(node.attr("ends"))
        axes, steps = node.attr("axes"), None
    else:
        starts, ends = node.const_ints(1, "starts"), node.const_ints(2, "ends")
        axes = node.const_ints(3, "axes", required=False)
        steps = node.const_ints(4, "steps", required=False)
    axes = list(range(len(starts))) if axes is None else list(axes)
    steps = [1] * len(starts) if steps is None else steps
    return ctx.op("nn.slice", x, starts=ints(starts), ends=ints(ends),
                  axes=ints(norm_axes(axes, rank(x))), steps=ints(steps))


def gather(ctx, node):
    return ctx.op("nn.gather", node.input(0), node.input(1), axis=integer(node.attr("axis", 0)))


def expand(ctx, node):
    return ctx.op("nn.expand", node.input(0), shape=ints(node.const_ints(1, "shape")))


def tile(ctx, node):
    return ctx.op("nn.tile", node.input(0), repeats=ints(node.const_ints(1, "repeats")))


def pad(ctx, node):
    x = node.input(0)
    r = rank(x)
    mode = node.attr("mode", "constant")
    if mode not in ("constant", "reflect", "edge"):
        raise node.unsupported_attr("mode", hint="nn.pad pads in constant, reflect or edge mode")
    if node.opset < 11:
        pads, value = list(node.attr("pads")), node.attr("value", 0.0)
    else:
        pads = node.const_ints(1, "pads")
        value = node.const_input(2, "constant_value")
        value = 0.0 if value is None or value.size == 0 else float(value.reshape(-1)[0])
        axes = node.const_ints(3, "axes", required=False)
        if axes is not None:  # pads only for these axes: spread them over all
            if len(pads) != 2 * len(axes):
                raise node.error(f"has {len(pads)} pads for {len(axes)} axes; it needs two per axis",
                                 hint=CHECK_HINT)
            axes = norm_axes(axes, r)
            full = [0] * 2 * r
            for i, a in enumerate(axes):
                full[a], full[a + r] = pads[i], pads[i + len(axes)]
            pads = full
    return ctx.op("nn.pad", x, pads=ints(pads), mode=string(mode), value=real(value))


def resize(ctx, node):
    x = node.input(0)
    if rank(x) != 4:
        raise node.error(f"resizes a {rank(x)}-D tensor; nn.resize is 4-D NCHW")
    in_shape = static_shape(ctx, node, x)
    if node.op_type == "Upsample" or node.opset < 11:  # Upsample / Resize-10: X, scales
        scales, sizes = node.const_input(1, "scales"), None
        coord, nearest = "asymmetric", "floor"
    else:
        scales, sizes = node.const_input(2, "scales"), node.const_ints(3, "sizes", required=False)
        if sizes is not None and any(v < 1 for v in sizes):
            raise node.error(f"has sizes {sizes}; each must be at least 1", hint=CHECK_HINT)
        sizes = None if sizes is None else np.asarray(sizes, np.int64)
        coord = node.attr("coordinate_transformation_mode", "half_pixel")
        nearest = node.attr("nearest_mode", "round_prefer_floor")
    if coord == "tf_crop_and_resize":
        raise node.unsupported_attr("coordinate_transformation_mode", coord)
    for name, default in (("antialias", 0), ("exclude_outside", 0)):
        if node.attr(name, default) != default:
            raise node.unsupported_attr(name)
    if node.attr("keep_aspect_ratio_policy", "stretch") != "stretch":
        raise node.unsupported_attr("keep_aspect_ratio_policy")
    mode = node.attr("mode", "nearest")
    if mode == "bilinear":
        mode = "linear"
    if mode not in ("nearest", "linear"):
        raise node.unsupported_attr("mode", hint="nn.resize is nearest or linear")
    axes = node.attr("axes")
    axes = list(range(4)) if axes is None else norm_axes(axes, 4)
    if sizes is not None and sizes.size:
        out = list(in_shape)
        for a, s in zip(axes, sizes.reshape(-1)):
            out[a] = int(s)
    elif scales is not None and scales.size:
        if not np.all(np.isfinite(scales.astype(np.float64))) or np.any(scales <= 0):
            raise node.error(f"has scales {scales.reshape(-1).tolist()}; each must be a positive number",
                             hint=CHECK_HINT)
        out = list(in_shape)
        for a, s in zip(axes, scales.reshape(-1)):
            out[a] = int(math.floor(in_shape[a] * float(s)))
            if abs(in_shape[a] * float(s) - out[a]) > 1e-6 or in_shape[a] * float(s) < 1:
                raise node.error(f"scales {[float(v) for v in scales.reshape(-1)]} do not give whole output sizes; "
                                 "nn.resize derives its scale from the output size",
                                 hint="give the node `sizes` instead of `scales`")
    else:
        raise node.error("has neither scales nor sizes")
    if out[:2] != list(in_shape[:2]):
        raise node.error(f"resizes the batch or channel dim ({list(in_shape)} -> {out}); nn.resize "
                         "scales H and W only")
    return ctx.op("nn.resize", x, mode=string(mode), coordinate_transformation_mode=string(coord),
                  nearest_mode=string(nearest), result_types=[RankedTensorType(tuple(out), x.type.element_type)])


def depth_to_space(ctx, node):
    return ctx.op("nn.depth_to_space", node.input(0), blocksize=integer(node.attr("blocksize")),
                  mode=string(node.attr("mode", "DCR")))


def space_to_depth(ctx, node):
    if node.attr("mode", "DCR") != "DCR":
        raise node.unsupported_attr("mode", hint="nn.space_to_depth has DCR order only")
    return ctx.op("nn.space_to_depth", node.input(0), blocksize=integer(node.attr("blocksize")))


def constant_of_shape(ctx, node):
    value = node.attr("value")
    value = np.zeros(1, np.float32) if value is None else np.asarray(value).reshape(-1)
    if value.size != 1:
        raise node.error(f"has a value of {value.size} elements; ConstantOfShape's value holds one",
                         hint=CHECK_HINT)
    shape = node.check_elements(node.const_ints(0, "shape"), "a constant")
    return ctx.const(np.full(shape, value[0], dtype=value.dtype))


def shape(ctx, node):
    x = node.input(0)
    start, end = node.attr("start", 0), node.attr("end")
    dims = x.type.shape
    if all(d is not None for d in dims[slice(start, end)]):  # static: the glue folds here
        return ctx.const(np.array(dims[slice(start, end)], dtype=np.int64))
    props = {"start": integer(start)}
    if end is not None:
        props["end"] = integer(end)
    return ctx.op("nn.shape", x, **props)


def size(ctx, node):
    x = node.input(0)
    return ctx.const(np.array(math.prod(static_shape(ctx, node, x)), dtype=np.int64))


def range_(ctx, node):
    """Range folds at import: start, limit and delta must be constants."""
    start, limit, delta = (np.asarray(node.const_scalar(i, what)) for i, what in
                           enumerate(("start", "limit", "delta")))
    if delta == 0 or not all(np.isfinite(v.astype(np.float64)) for v in (start, limit, delta)):
        raise node.error(f"counts from {start} to {limit} by {delta}", hint="delta must not be 0, and "
                         "the bounds must be finite numbers")
    count = max(int(np.ceil((float(limit) - float(start)) / float(delta))), 0)
    node.check_elements((count,), "a range")
    return ctx.const((start + np.arange(count) * delta).astype(start.dtype))


def mod(ctx, node):
    """Mod folds at import (it appears in shape arithmetic); there is no nn.mod to run it."""
    a, b = node.input(0), node.input(1)
    ka, kb = ctx.constant_value(a), ctx.constant_value(b)
    if ka is None or kb is None:
        raise node.error("computes at run time; lamina has Mod only on constants (folded at import)",
                         hint="nn has no mod op; constant (shape) arithmetic folds")
    with np.errstate(all="ignore"):
        out = np.fmod(ka, kb) if node.attr("fmod", 0) else np.mod(ka, kb)
    return ctx.const(out.astype(ka.dtype), a.type.element_type)


def constant(ctx, node):
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in node.attrs:
            value = node.attrs[key]
            if key in ("value_float", "value_floats"):
                return ctx.const(np.asarray(value, dtype=np.float32))
            if key in ("value_int", "value_ints"):
                return ctx.const(np.asarray(value, dtype=np.int64))
            if value.dtype.kind in "OUS":
                break
            return ctx.const(value)
    raise node.error(f"holds a {', '.join(node.attrs) or 'missing'} value; lamina constants are numeric tensors")


# ---------------------------------------------------------------------------------------------
# The table


CONVERTERS = {
    # elementwise unary
    "Neg": unary("nn.neg"), "Abs": unary("nn.abs"), "Exp": unary("nn.exp"), "Log": unary("nn.log"),
    "Sqrt": unary("nn.sqrt"), "Reciprocal": unary("nn.reciprocal"), "Tanh": unary("nn.tanh"),
    "Sigmoid": unary("nn.sigmoid"), "Erf": unary("nn.erf"), "Relu": unary("nn.relu"),
    "HardSwish": unary("nn.hard_swish"), "Identity": unary("nn.identity"),
    "LeakyRelu": leaky_relu, "Clip": clip, "Gelu": gelu, "HardSigmoid": hard_sigmoid,
    "Dropout": dropout, "Cast": cast, "CastLike": cast_like,
    # decomposed activations
    "Softplus": softplus, "Softsign": softsign, "Elu": elu, "Selu": selu, "Celu": celu,
    "ThresholdedRelu": thresholded_relu, "Mish": mish,
    # elementwise binary and n-ary
    "Add": binary("nn.add"), "Sub": binary("nn.sub"), "Mul": binary("nn.mul"),
    "Div": binary("nn.div"), "Pow": pow_, "Equal": binary("nn.equal"), "Less": binary("nn.less"),
    "Greater": binary("nn.greater"), "GreaterOrEqual": negated("nn.less"),
    "LessOrEqual": negated("nn.greater"), "Not": not_, "And": and_, "Or": or_, "Xor": xor, "PRelu": prelu, "Where": where,
    "Max": chain("nn.max"), "Min": chain("nn.min"), "Sum": sum_, "Mean": mean,
    # linear algebra
    "MatMul": binary("nn.matmul"), "Gemm": gemm,
    # convolution and pooling
    "Conv": conv, "MaxPool": pool("nn.max_pool2d"), "AveragePool": pool("nn.avg_pool2d"),
    "GlobalAveragePool": global_pool("nn.global_avg_pool"),
    "GlobalMaxPool": global_pool("nn.global_max_pool"),
    # normalization
    "BatchNormalization": batch_norm, "LayerNormalization": layer_norm,
    "InstanceNormalization": instance_norm, "RMSNormalization": rms_norm, "LRN": lrn,
    "Softmax": softmax("nn.softmax"), "LogSoftmax": softmax("nn.log_softmax"),
    # reductions
    "ReduceSum": reduce("nn.reduce_sum"), "ReduceMean": reduce("nn.reduce_mean"),
    "ReduceMax": reduce("nn.reduce_max"), "ReduceMin": reduce("nn.reduce_min"),
    "ReduceProd": reduce("nn.reduce_prod"),
    "ReduceSumSquare": reduce("nn.reduce_sum", pre=_square),
    "ReduceL1": reduce("nn.reduce_sum", pre=lambda ctx, x: ctx.op("nn.abs", x)),
    "ReduceL2": reduce("nn.reduce_sum", pre=_square, post=lambda ctx, y: ctx.op("nn.sqrt", y)),
    "ReduceLogSum": reduce("nn.reduce_sum", post=lambda ctx, y: ctx.op("nn.log", y)),
    "ReduceLogSumExp": reduce("nn.reduce_sum", pre=lambda ctx, x: ctx.op("nn.exp", x),
                              post=lambda ctx, y: ctx.op("nn.log", y)),
    # shape and data movement
    "Reshape": reshape, "Flatten": flatten, "Transpose": transpose, "Squeeze": squeeze,
    "Unsqueeze": unsqueeze, "Concat": concat, "Split": split, "Slice": slice_, "Gather": gather,
    "Expand": expand, "Pad": pad, "Tile": tile, "Resize": resize, "Upsample": resize,
    "DepthToSpace": depth_to_space, "SpaceToDepth": space_to_depth,
    "ConstantOfShape": constant_of_shape, "Shape": shape, "Size": size, "Constant": constant,
    "Range": range_, "Mod": mod,
}

# Inputs each converter reads as constants (by index; any opset): the conformance harness binds
# these from the test data when a test feeds them as graph inputs.
CONSTANT_INPUTS = {
    "Reshape": (1,), "Slice": (1, 2, 3, 4), "Pad": (1, 2, 3), "Resize": (1, 2, 3), "Upsample": (1,),
    "Expand": (1,), "Tile": (1,), "Unsqueeze": (1,), "Squeeze": (1,), "Split": (1,),
    "Clip": (1, 2), "ConstantOfShape": (0,), "Dropout": (1, 2), "Range": (0, 1, 2),
    **{op: (1,) for op in ("ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
                           "ReduceSumSquare", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp")},
}


def supported_ops() -> list[str]:
    return sorted(CONVERTERS)
