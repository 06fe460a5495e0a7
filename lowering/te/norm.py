"""Normalization: batch, layer and instance norm, and local response normalization."""

from __future__ import annotations

from ..tvm_adapter import te, tir
from . import lowers
from lamina.dialects.nn.layout import NCHW, image_layout

from .common import attr, broadcast_index, const, out_shape
from .layout import whole_indices


def _channel_of(op):
    """The channel of element index i of batch_norm's x: i[1] in NCHW (any rank), i[3] in NHWC,
    i[1] * c + i[4] in NCHW{c}c."""
    layout = image_layout(attr(op, "layout", "NCHW"))
    if layout == NCHW:
        return lambda i: i[1]
    return lambda i: whole_indices(layout, i)["C"]


@lowers("nn.batch_norm")
def batch_norm(op, x, scale, bias, mean, var):
    eps = const(attr(op, "epsilon", 1e-5), x.dtype)
    ch = _channel_of(op)
    return te.compute(out_shape(op), lambda *i: (x[i] - mean[ch(i)]) / tir.sqrt(var[ch(i)] + eps) * scale[ch(i)]
                      + bias[ch(i)], name="batch_norm")


def _moments(x, axes, name):
    """Mean and variance of `x` over `axes` (kept as size-1 dims)."""
    shape = [int(d) for d in x.shape]
    count = 1
    for a in axes:
        count *= shape[a]
    reduced = [1 if d in axes else s for d, s in enumerate(shape)]

    def over(i, r):
        it = iter(r)
        return tuple(next(it) if d in axes else i[d] for d in range(len(shape)))
    n = const(count, x.dtype)
    r1 = [te.reduce_axis((0, shape[a]), name=f"m{a}") for a in axes]
    total = te.compute(reduced, lambda *i: te.sum(x[over(i, r1)], axis=r1), name=f"{name}_sum")
    mean = te.compute(reduced, lambda *i: total[i] / n, name=f"{name}_mean")
    r2 = [te.reduce_axis((0, shape[a]), name=f"v{a}") for a in axes]

    def sq(i):
        d = x[over(i, r2)] - mean[tuple(0 if k in axes else i[k] for k in range(len(shape)))]
        return d * d
    squares = te.compute(reduced, lambda *i: te.sum(sq(i), axis=r2), name=f"{name}_sq")
    var = te.compute(reduced, lambda *i: squares[i] / n, name=f"{name}_var")
    return mean, var


@lowers("nn.layer_norm")
def layer_norm(op, x, scale, *bias):
    rank = len(x.shape)
    axis = attr(op, "axis", -1) % rank
    axes = list(range(axis, rank))
    eps = const(attr(op, "epsilon", 1e-5), x.dtype)
    mean, var = _moments(x, axes, "ln")

    def at(*i):
        stat = tuple(0 if d in axes else i[d] for d in range(rank))
        y = (x[i] - mean[stat]) / tir.sqrt(var[stat] + eps) * broadcast_index(scale, i)
        return y + broadcast_index(bias[0], i) if bias else y
    return te.compute(out_shape(op), at, name="layer_norm")


@lowers("nn.instance_norm")
def instance_norm(op, x, scale, bias):
    rank = len(x.shape)
    axes = list(range(2, rank))
    eps = const(attr(op, "epsilon", 1e-5), x.dtype)
    mean, var = _moments(x, axes, "in")

    def at(*i):
        stat = tuple(0 if d in axes else i[d] for d in range(rank))
        return (x[i] - mean[stat]) / tir.sqrt(var[stat] + eps) * scale[i[1]] + bias[i[1]]
    return te.compute(out_shape(op), at, name="instance_norm")


@lowers("nn.lrn")
def lrn(op, x):
    size = attr(op, "size")
    alpha, beta, bias = attr(op, "alpha", 1e-4), attr(op, "beta", 0.75), attr(op, "bias", 1.0)
    c = int(x.shape[1])
    lo = (size - 1) // 2
    r = te.reduce_axis((0, size), name="r")

    def square_sum(*i):
        ch = i[1] - lo + r
        inside = tir.all(ch >= 0, ch < c)
        v = x[(i[0], tir.min(tir.max(ch, 0), c - 1), *i[2:])]
        return te.sum(tir.Select(inside, v * v, const(0, x.dtype)), axis=r)
    s = te.compute(out_shape(op), square_sum, name="square_sum")
    dt = x.dtype
    return te.compute(out_shape(op), lambda *i: x[i] / tir.power(
        const(bias, dt) + const(alpha / size, dt) * s[i], const(beta, dt)), name="lrn")
