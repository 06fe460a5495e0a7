"""Pooling -> a nest over the output and an scf.for nest over the window carrying the max or
the sum; taps in the padding are told apart with an scf.if (in a max they count as the lowest
finite float, and an average divides by the number of pixels it counts).

    max_pool2d:  y = max over (kh, kw) in the window of x and of the lowest finite float for each
                 tap in the padding (what a window of padding alone gives, as the numpy reference
                 and ONNX Runtime), from -inf: a window of -inf alone, without padding, is -inf
    avg_pool2d:  y = sum / count, count = the window's pixels inside the input, or with
                 count_include_pad inside the input and its pads (never the extra pixels that
                 ceil_mode's last window reaches past the end padding)
    global_*:    the same over all of H and W
"""

from __future__ import annotations

import numpy as np

from lamina.dialects import arith
from lamina.dialects.nn.base import py
from lamina.dialects.nn.layout import image_layout

from .builder import Loops, lowers
from .conv import reach
from .layouts import logical_nest, physical


def _window_count(L: Loops, start, kernel: int, low: int, high: int):
    """min(start + kernel, high) - max(start, low): how many of the window's indices lie in [low, high)."""
    end = L.value(arith.MinSIOp, L.add(start, kernel), L.index(high))
    begin = L.value(arith.MaxSIOp, start, L.index(low))
    return L.value(arith.SubIOp, end, begin)


@lowers("nn.max_pool2d", "nn.avg_pool2d")
def lower_pool2d(L: Loops, op, inputs, outputs):
    (x,), (y,) = inputs, outputs
    is_max = op.name == "nn.max_pool2d"
    layout = image_layout(py(op.layout))
    xs, ys = layout.sizes(x.type.shape), layout.sizes(y.type.shape)
    kh_n, kw_n = py(op.kernel_shape)
    sh, sw = py(op.strides)
    dh, dw = py(op.dilations) if is_max else (1, 1)
    top, left, bottom, right = py(op.pads)
    check_h = reach(ys["H"], sh, kh_n, dh, top, xs["H"])
    check_w = reach(ys["W"], sw, kw_n, dw, left, xs["W"])
    t = y.type.element_type
    init = L.constant(-np.inf if is_max else 0.0, t)
    may_pad = any(check_h) or any(check_w)
    padding = L.constant(np.finfo(t.numpy_dtype).min, t) if is_max and may_pad else None

    def body(lg, ivs):
        n, c, oh, ow = lg["N"], lg["C"], lg["H"], lg["W"]
        h0 = L.affine([(oh, sh)], -top, name="h0")
        w0 = L.affine([(ow, sw)], -left, name="w0")

        def tap(rivs, accs):
            (kh, kw), (acc,) = rivs, accs
            ih = L.affine([(h0, 1), (kh, dh)], name="ih")
            iw = L.affine([(w0, 1), (kw, dw)], name="iw")
            inside = L.in_bounds([(ih, xs["H"], *check_h), (iw, xs["W"], *check_w)])

            def take():
                v = L.load(x, physical(L, layout, x.type.shape, {"N": n, "C": c, "H": ih, "W": iw}), name="x")
                return [L.maxf(acc, v, name="m") if is_max else L.addf(acc, v, name="s")]

            def skip():  # a tap in the padding
                return [L.maxf(acc, padding, name="m")] if is_max else [acc]

            return L.if_else(inside, take, skip, [t], name="acc")

        (total,) = L.accumulate([kh_n, kw_n], ["kh", "kw"], [init], tap)
        if not is_max:
            if py(op.count_include_pad):
                bounds_h, bounds_w = (-top, xs["H"] + bottom), (-left, xs["W"] + right)
            else:
                bounds_h, bounds_w = (0, xs["H"]), (0, xs["W"])
            count = L.value(arith.MulIOp, _window_count(L, h0, kh_n, *bounds_h),
                            _window_count(L, w0, kw_n, *bounds_w), name="count")
            total = L.divf(total, L.cast(count, t), name="avg")
        L.store(total, y, ivs)

    logical_nest(L, y, layout, body)


@lowers("nn.global_avg_pool", "nn.global_max_pool")
def lower_global_pool(L: Loops, op, inputs, outputs):
    (x,), (y,) = inputs, outputs
    is_max = op.name == "nn.global_max_pool"
    layout = image_layout(py(op.layout))
    xs = layout.sizes(x.type.shape)
    t = y.type.element_type
    init = L.constant(-np.inf if is_max else 0.0, t)

    def body(lg, ivs):
        n, c = lg["N"], lg["C"]

        def step(rivs, accs):
            (h, w), (acc,) = rivs, accs
            v = L.load(x, physical(L, layout, x.type.shape, {"N": n, "C": c, "H": h, "W": w}), name="x")
            return [L.maxf(acc, v, name="m") if is_max else L.addf(acc, v, name="s")]

        (total,) = L.accumulate([xs["H"], xs["W"]], ["h", "w"], [init], step)
        if not is_max:
            total = L.divf(total, L.constant(xs["H"] * xs["W"], t), name="mean")
        L.store(total, y, ivs)

    logical_nest(L, y, layout, body)
