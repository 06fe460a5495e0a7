"""Normalizations -> loops: batch_norm is elementwise (per-channel constants), layer_norm and
instance_norm a mean loop, a variance loop and a writing loop per normalized group, lrn a
window sum over neighbouring channels per element.

    batch_norm:    y = (x - mean[c]) / sqrt(var[c] + eps) * scale[c] + bias[c]
    layer_norm:    over the axes [axis, rank): y = (x - mean) / sqrt(var + eps) * scale + bias
    instance_norm: over H, W (all axes after 1) of each (n, c), then * scale[c] + bias[c]
    lrn:           y = x / (bias + alpha / size * sum of x^2 over channels c - (size-1)//2 ..
                                                    c + size//2 inside [0, C)) ** beta
"""

from __future__ import annotations

import numpy as np

from lamina.dialects import math as m
from lamina.dialects.nn.base import normalize_axis, py
from lamina.dialects.nn.layout import NCHW, image_layout

from .builder import Loops, lowers
from .elementwise import names_for
from .layouts import logical_nest


@lowers("nn.batch_norm")
def lower_batch_norm(L: Loops, op, inputs, outputs):
    (x, scale, bias, mean, var), (y,) = inputs, outputs
    t = y.type.element_type
    eps = L.constant(py(op.epsilon), t)

    def normalize(c, ivs):
        v = L.load(x, ivs, name="x")
        centered = L.subf(v, L.load(mean, [c], name="mean"))
        std = L.math(m.SqrtOp, L.addf(L.load(var, [c], name="var"), eps), name="std")
        scaled = L.mulf(L.divf(centered, std), L.load(scale, [c], name="scale"))
        L.store(L.addf(scaled, L.load(bias, [c], name="bias"), name="y"), y, ivs)

    layout = image_layout(py(op.layout))
    if layout == NCHW:
        L.nest(y.type.shape, ["n", "c"] + names_for(len(y.type.shape))[2:], lambda ivs: normalize(ivs[1], ivs))
    else:
        logical_nest(L, y, layout, lambda lg, ivs: normalize(lg["C"], ivs))


def _normalize_group(L: Loops, x, y, outer_ivs, inner_shape, eps, affine):
    """Mean and variance of x over `inner_shape` (the trailing dims) at `outer_ivs`, then write
    y = affine((x - mean) / sqrt(var + eps), full indices)."""
    t = y.type.element_type
    count = L.constant(int(np.prod(inner_shape, dtype=np.int64)), t)
    names = ["r" + n for n in names_for(len(outer_ivs) + len(inner_shape))[len(outer_ivs):]]
    zero = L.constant(0.0, t)
    (total,) = L.accumulate(inner_shape, names, [zero],
                            lambda r, a: [L.addf(a[0], L.load(x, outer_ivs + r, name="x"), name="s")],
                            acc_names=["sum"])
    mean = L.divf(total, count, name="mean")

    def squares(r, a):
        d = L.subf(L.load(x, outer_ivs + r, name="x"), mean, name="d")
        return [L.addf(a[0], L.mulf(d, d), name="s")]

    (sq,) = L.accumulate(inner_shape, names, [zero], squares, acc_names=["sq"])
    std = L.math(m.SqrtOp, L.addf(L.divf(sq, count, name="var"), eps), name="std")

    def write(r):
        full = outer_ivs + r
        normalized = L.divf(L.subf(L.load(x, full, name="x"), mean), std, name="norm")
        L.store(affine(normalized, full), y, full)

    L.nest(inner_shape, names, write, parallel=False)


@lowers("nn.layer_norm")
def lower_layer_norm(L: Loops, op, inputs, outputs):
    (y,) = outputs
    x, scale, *bias = inputs
    shape = x.type.shape
    axis = normalize_axis(py(op.axis), len(shape))
    eps = L.constant(py(op.epsilon), y.type.element_type)

    def affine(v, full):
        v = L.mulf(v, L.load_broadcast(scale, full, name="scale"))
        if bias:
            v = L.addf(v, L.load_broadcast(bias[0], full, name="bias"))
        v.name_hint = "y"
        return v

    L.nest(shape[:axis], names_for(axis),
           lambda ivs: _normalize_group(L, x, y, ivs, shape[axis:], eps, affine))


@lowers("nn.instance_norm")
def lower_instance_norm(L: Loops, op, inputs, outputs):
    (x, scale, bias), (y,) = inputs, outputs
    shape = x.type.shape
    eps = L.constant(py(op.epsilon), y.type.element_type)

    def affine(v, full):
        c = full[1]
        return L.addf(L.mulf(v, L.load(scale, [c], name="scale")), L.load(bias, [c], name="bias"), name="y")

    L.nest(shape[:2], ["n", "c"], lambda ivs: _normalize_group(L, x, y, ivs, shape[2:], eps, affine))


@lowers("nn.lrn")
def lower_lrn(L: Loops, op, inputs, outputs):
    (x,), (y,) = inputs, outputs
    shape = x.type.shape
    size = py(op.size)
    before = (size - 1) // 2
    channels = shape[1]
    t = y.type.element_type

    def body(ivs):
        def square(r, a):
            ch = L.affine([(ivs[1], 1), (r[0], 1)], -before, name="ch")
            inside = L.in_bounds([(ch, channels, True, True)])

            def add():
                v = L.load(x, [ivs[0], ch] + ivs[2:], name="v")
                return [L.addf(a[0], L.mulf(v, v), name="s")]
            return L.if_else(inside, add, lambda: [a[0]], [t], name="sq")

        (total,) = L.accumulate([size], ["k"], [L.constant(0.0, t)], square, acc_names=["sq"])
        base = L.addf(L.constant(py(op.bias), t), L.mulf(L.constant(py(op.alpha) / size, t), total))
        denominator = L.math(m.PowFOp, base, L.constant(py(op.beta), t), name="den")
        L.store(L.divf(L.load(x, ivs, name="x"), denominator, name="y"), y, ivs)

    L.nest(shape, ["n", "c"] + names_for(len(shape))[2:], body)
