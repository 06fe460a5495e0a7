"""Convolution and pooling (NCHW; NHWC by reading through a transposed view)."""

from __future__ import annotations

from ..tvm_adapter import te, tir
from . import lowers
from .common import _attr, accumulator, const, out_shape, rounded


def _nchw(op, x):
    """`x` seen as NCHW, and a function that turns an NCHW result back into the op's layout."""
    if _attr(op, "layout", "NCHW") == "NCHW":
        return x, lambda t, name: t
    n, h, w, c = (int(d) for d in x.shape)
    view = te.compute((n, c, h, w), lambda b, ch, i, j: x[b, i, j, ch], name="to_nchw")

    def back(t, name):
        return te.compute(out_shape(op), lambda b, i, j, ch: t[b, ch, i, j], name=name)
    return view, back


def _padded(x, pads, value, name="pad"):
    top, left, bottom, right = pads
    n, c, h, w = (int(d) for d in x.shape)
    if not any(pads):
        return x
    return te.compute((n, c, h + top + bottom, w + left + right), lambda b, ch, i, j: tir.Select(
        tir.all(i >= top, i < top + h, j >= left, j < left + w),
        x[b, ch, tir.min(tir.max(i - top, 0), h - 1), tir.min(tir.max(j - left, 0), w - 1)], value), name=name)


def _nchw_shape(op):
    shape = out_shape(op)
    if _attr(op, "layout", "NCHW") == "NHWC":
        n, h, w, c = shape
        return (n, c, h, w)
    return shape


def output_channel_block(out_c: int) -> int:
    """Output channels summed together in one vector by the conv schedule (schedule_cpu.py)."""
    for ob in (32, 16, 8, 4, 2):
        if out_c % ob == 0:
            return ob
    return 1


@lowers("nn.conv2d")
def conv2d(op, x, w, *bias):
    x, back = _nchw(op, x)
    sh, sw = _attr(op, "strides", (1, 1))
    dh, dw = _attr(op, "dilations", (1, 1))
    group = _attr(op, "group", 1)
    xp = _padded(x, _attr(op, "pads", (0, 0, 0, 0)), const(0, x.dtype))
    if w.op.name.endswith("_packed"):  # a constant weight, packed once by build.py: [O/ob, C, KH, KW, ob]
        oo_, in_per_group, kh, kw, ob_ = (int(d) for d in w.shape)
        out_c = oo_ * ob_
    else:
        out_c, in_per_group, kh, kw = (int(d) for d in w.shape)
    per_group_out = out_c // group
    rc = te.reduce_axis((0, in_per_group), name="rc")
    ry = te.reduce_axis((0, kh), name="ry")
    rx = te.reduce_axis((0, kw), name="rx")
    acc = accumulator(x.dtype)
    if w.op.name.endswith("_packed"):
        ob = int(w.shape[-1])

        def weight(o):
            return w[o // ob, rc, ry, rx, o % ob]
    elif group == 1:  # weights packed [out_c/ob, in_c, kh, kw, ob]: ob output channels are one vector
        ob = output_channel_block(out_c)
        wp = te.compute((out_c // ob, in_per_group, kh, kw, ob),
                        lambda oo, c, y, x_, oi: w[oo * ob + oi, c, y, x_], name="pack_w")

        def weight(o):
            return wp[o // ob, rc, ry, rx, o % ob]
    else:
        def weight(o):
            return w[o, rc, ry, rx]

    def at(b, o, i, j):
        ch = rc if group == 1 else (o // per_group_out) * in_per_group + rc
        return te.sum(xp[b, ch, i * sh + ry * dh, j * sw + rx * dw].astype(acc) * weight(o).astype(acc),
                      axis=[rc, ry, rx])
    y = te.compute(_nchw_shape(op), at, name="conv2d")
    if bias:
        y = te.compute(y.shape, lambda b, o, i, j: y[b, o, i, j] + bias[0][o].astype(acc), name="bias_add")
    return back(rounded(y, x.dtype), "to_nhwc")


def _pool_geometry(op):
    return (_attr(op, "kernel_shape"), _attr(op, "strides", (1, 1)), _attr(op, "pads", (0, 0, 0, 0)),
            _attr(op, "dilations", (1, 1)))


@lowers("nn.max_pool2d")
def max_pool2d(op, x):
    x, back = _nchw(op, x)
    (kh, kw), (sh, sw), pads, (dh, dw) = _pool_geometry(op)
    lowest = tir.min_value(x.dtype)
    # ceil_mode windows may run past the padded input: pad generously, padding never wins
    n, c, h, w = (int(d) for d in x.shape)
    _, _, oh, ow = _nchw_shape(op)
    extra_h = max(0, (oh - 1) * sh + (kh - 1) * dh + 1 - (h + pads[0] + pads[2]))
    extra_w = max(0, (ow - 1) * sw + (kw - 1) * dw + 1 - (w + pads[1] + pads[3]))
    xp = _padded(x, (pads[0], pads[1], pads[2] + extra_h, pads[3] + extra_w), lowest)
    ry, rx = te.reduce_axis((0, kh), name="ry"), te.reduce_axis((0, kw), name="rx")
    y = te.compute(_nchw_shape(op), lambda b, ch, i, j: te.max(
        xp[b, ch, i * sh + ry * dh, j * sw + rx * dw], axis=[ry, rx]), name="max_pool")
    return back(y, "to_nhwc")


@lowers("nn.avg_pool2d")
def avg_pool2d(op, x):
    x, back = _nchw(op, x)
    (kh, kw), (sh, sw), pads, _ = _pool_geometry(op)
    top, left, bottom, right = pads
    n, c, h, w = (int(d) for d in x.shape)
    _, _, oh, ow = _nchw_shape(op)
    extra_h = max(0, (oh - 1) * sh + kh - (h + top + bottom))
    extra_w = max(0, (ow - 1) * sw + kw - (w + left + right))
    xp = _padded(x, (top, left, bottom + extra_h, right + extra_w), const(0, x.dtype))
    ry, rx = te.reduce_axis((0, kh), name="ry"), te.reduce_axis((0, kw), name="rx")
    total = te.compute(_nchw_shape(op), lambda b, ch, i, j: te.sum(xp[b, ch, i * sh + ry, j * sw + rx],
                                                                  axis=[ry, rx]), name="window_sum")
    include_pad = bool(_attr(op, "count_include_pad", 0))

    def count(i, j):
        """Elements the window covers: of the input only, or of the padded input (ONNX)."""
        lo_h, lo_w = i * sh - top, j * sw - left
        if include_pad:
            hi_h = tir.min(lo_h + kh, h + bottom)
            hi_w = tir.min(lo_w + kw, w + right)
            return (hi_h - lo_h) * (hi_w - lo_w)
        hi_h, hi_w = tir.min(lo_h + kh, h), tir.min(lo_w + kw, w)
        return (hi_h - tir.max(lo_h, 0)) * (hi_w - tir.max(lo_w, 0))
    y = te.compute(total.shape, lambda b, ch, i, j: total[b, ch, i, j] / count(i, j).astype(x.dtype),
                   name="avg_pool")
    return back(y, "to_nhwc")


@lowers("nn.global_avg_pool", "nn.global_max_pool")
def global_pool(op, x):
    x, back = _nchw(op, x)
    n, c, h, w = (int(d) for d in x.shape)
    ry, rx = te.reduce_axis((0, h), name="ry"), te.reduce_axis((0, w), name="rx")
    if op.name == "nn.global_max_pool":
        y = te.compute((n, c, 1, 1), lambda b, ch, i, j: te.max(x[b, ch, ry, rx], axis=[ry, rx]), name="gmax")
    else:
        s = te.compute((n, c, 1, 1), lambda b, ch, i, j: te.sum(x[b, ch, ry, rx], axis=[ry, rx]), name="gsum")
        y = te.compute((n, c, 1, 1), lambda b, ch, i, j: s[b, ch, i, j] / const(h * w, x.dtype), name="gavg")
    return back(y, "to_nhwc")
