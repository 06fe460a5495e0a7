"""Image resampling and pixel rearrangement (NCHW) -> one nest over the output.

    resize            each output row / column reads the input at a coordinate computed in f32
                      as dialects/nn/image.py's `source_coordinates` does (half_pixel,
                      pytorch_half_pixel, align_corners, asymmetric); "nearest" rounds it
                      (nearest_mode), "linear" blends the two neighbours in H, then in W
    depth_to_space    y[n, c, h*b + bh, w*b + bw] = x[n, (bh*b + bw)*C' + c, h, w]     (DCR)
                                                  = x[n, c*b*b + bh*b + bw, h, w]       (CRD)
    space_to_depth    y[n, (bh*b + bw)*C + c, h, w] = x[n, c, h*b + bh, w*b + bw]
"""

from __future__ import annotations

import numpy as np

from lamina.compiler.types import i64
from lamina.dialects import arith
from lamina.dialects import math as m
from lamina.dialects.nn.base import py

from .builder import INDEX, Loops, lowers
from .elementwise import each_element


def _coordinate(L: Loops, i, out_size: int, in_size: int, mode: str, t):
    """Where output index `i` reads the input, as a float (ONNX's coordinate_transformation_mode)."""
    x = L.cast(i, t)
    scale = L.constant(np.float32(out_size) / np.float32(in_size), t)
    half = L.constant(0.5, t)
    if mode in ("half_pixel", "pytorch_half_pixel"):
        if mode == "pytorch_half_pixel" and out_size <= 1:
            return L.constant(0.0, t)
        return L.subf(L.divf(L.addf(x, half), scale), half, name="coord")
    if mode == "align_corners":
        if out_size <= 1:
            return L.constant(0.0, t)
        return L.divf(L.mulf(x, L.constant(in_size - 1, t)), L.constant(out_size - 1, t), name="coord")
    return L.divf(x, scale, name="coord")


def _to_index(L: Loops, v):
    return L.value(arith.IndexCastOp, L.value(arith.FPToSIOp, v, result_types=[i64]), result_types=[INDEX])


def _nearest(L: Loops, c, in_size: int, mode: str, t):
    floor = L.math(m.FloorOp, c)
    if mode in ("round_prefer_floor", "round_prefer_ceil"):
        tie = L.cmpf("oeq", c, L.addf(floor, L.constant(0.5, t)))
        rounded = L.math(m.RoundEvenOp, c)
        at_tie = floor if mode == "round_prefer_floor" else L.addf(floor, L.constant(1.0, t))
        index = L.select(tie, at_tie, rounded)
    elif mode == "floor":
        index = floor
    else:
        index = L.math(m.CeilOp, c)
    clamped = L.minf(L.maxf(index, L.constant(0.0, t)), L.constant(in_size - 1, t))
    return _to_index(L, clamped)


def _linear(L: Loops, c, in_size: int, t):
    """(low index, high index, weight of high) of a clamped coordinate."""
    c = L.minf(L.maxf(c, L.constant(0.0, t)), L.constant(in_size - 1, t))
    low_f = L.math(m.FloorOp, c)
    low = _to_index(L, low_f)
    high = L.value(arith.MinSIOp, L.add(low, 1), L.index(in_size - 1))
    return low, high, L.subf(c, low_f, name="frac")


@lowers("nn.resize")
def lower_resize(L: Loops, op, inputs, outputs):
    (x,), (y,) = inputs, outputs
    _, _, h_in, w_in = x.type.shape
    _, _, h_out, w_out = y.type.shape
    ctm = py(op.coordinate_transformation_mode)
    t = y.type.element_type
    one = L.constant(1.0, t)

    def body(ivs):
        n, c, oh, ow = ivs
        ch = _coordinate(L, oh, h_out, h_in, ctm, t)
        cw = _coordinate(L, ow, w_out, w_in, ctm, t)
        if py(op.mode) == "nearest":
            nm = py(op.nearest_mode)
            return L.load(x, [n, c, _nearest(L, ch, h_in, nm, t), _nearest(L, cw, w_in, nm, t)], name="x")
        h0, h1, th = _linear(L, ch, h_in, t)
        w0, w1, tw = _linear(L, cw, w_in, t)

        def blend(a, b, weight):  # a * (1 - weight) + b * weight
            return L.addf(L.mulf(a, L.subf(one, weight)), L.mulf(b, weight))

        top = blend(L.load(x, [n, c, h0, w0]), L.load(x, [n, c, h0, w1]), tw)
        bottom = blend(L.load(x, [n, c, h1, w0]), L.load(x, [n, c, h1, w1]), tw)
        value = blend(top, bottom, th)
        value.name_hint = "y"
        return value

    each_element(L, y, body)


@lowers("nn.depth_to_space")
def lower_depth_to_space(L: Loops, op, inputs, outputs):
    (x,), (y,) = inputs, outputs
    b = py(op.blocksize)
    c_out = y.type.shape[1]

    def body(ivs):
        n, c, oh, ow = ivs
        h, bh, w, bw = L.div(oh, b), L.rem(oh, b), L.div(ow, b), L.rem(ow, b)
        if py(op.mode) == "DCR":
            src = L.affine([(bh, b * c_out), (bw, c_out), (c, 1)], name="src_c")
        else:
            src = L.affine([(c, b * b), (bh, b), (bw, 1)], name="src_c")
        return L.load(x, [n, src, h, w], name="x")
    each_element(L, y, body)


@lowers("nn.space_to_depth")
def lower_space_to_depth(L: Loops, op, inputs, outputs):
    (x,), (y,) = inputs, outputs
    b = py(op.blocksize)
    c_in = x.type.shape[1]

    def body(ivs):
        n, oc, h, w = ivs
        block, c = L.div(oc, c_in), L.rem(oc, c_in)
        bh, bw = L.div(block, b), L.rem(block, b)
        return L.load(x, [n, c, L.affine([(h, b), (bh, 1)]), L.affine([(w, b), (bw, 1)])], name="x")
    each_element(L, y, body)
