"""2-D convolution -> a nest over the output, an scf.for nest over (input channel, kh, kw)
carrying the sum, and an scf.if that skips the taps that fall in the zero padding.

    y[n, o, oh, ow] = bias[o] + sum over ic, kh, kw of
                      x[n, g * C/group + ic, oh * sh + kh * dh - pad_top, ow * sw + kw * dw - pad_left]
                      * w[o, ic, kh, kw]        where g = o // (O / group)

Any layout conv2d takes (NCHW, NHWC, NCHW{c}c) and any weight layout (OIHW, OIHW{c}i{c}o,
OIHW{c}o) goes through layouts.py: the nest runs over the output in its own order, and every
load asks for its buffer indices by logical axis. The bounds test is emitted only for the sides
that padding can reach (a 1x1 convolution without padding has none).
"""

from __future__ import annotations

from lamina.dialects.nn.base import py
from lamina.dialects.nn.layout import image_layout, layout_of

from .builder import Loops, lowers
from .layouts import logical_nest, physical


def reach(out_size: int, stride: int, kernel: int, dilation: int, pad_begin: int, size: int) -> tuple[bool, bool]:
    """(may an index fall below 0, may it reach `size` or more) for a window sweep."""
    last = (out_size - 1) * stride + (kernel - 1) * dilation - pad_begin
    return pad_begin > 0, last >= size


@lowers("nn.conv2d")
def lower_conv2d(L: Loops, op, inputs, outputs):
    (y,) = outputs
    x, w, *bias = inputs
    layout = image_layout(py(op.layout))
    wl = layout_of(py(op.weight_layout), "OIHW")
    xs = layout.sizes(x.type.shape)
    ys = layout.sizes(y.type.shape)
    ws = wl.sizes(w.type.shape)
    c_per_group, kh_n, kw_n = ws["I"], ws["H"], ws["W"]
    group = py(op.group)
    o_per_group = ws["O"] // group
    sh, sw = py(op.strides)
    dh, dw = py(op.dilations)
    top, left, _, _ = py(op.pads)
    check_h = reach(ys["H"], sh, kh_n, dh, top, xs["H"])
    check_w = reach(ys["W"], sw, kw_n, dw, left, xs["W"])
    t = y.type.element_type
    zero = L.constant(0.0, t)

    def body(lg, ivs):
        n, o, oh, ow = lg["N"], lg["C"], lg["H"], lg["W"]
        first_channel = L.mul(L.div(o, o_per_group), c_per_group, name="cg") if group > 1 else L.index(0)

        def tap(rivs, accs):
            (ic, kh, kw), (acc,) = rivs, accs
            ih = L.affine([(oh, sh), (kh, dh)], -top, name="ih")
            iw = L.affine([(ow, sw), (kw, dw)], -left, name="iw")
            inside = L.in_bounds([(ih, xs["H"], *check_h), (iw, xs["W"], *check_w)])

            def add_tap():
                c = L.add(first_channel, ic)
                xv = L.load(x, physical(L, layout, x.type.shape, {"N": n, "C": c, "H": ih, "W": iw}), name="x")
                wv = L.load(w, physical(L, wl, w.type.shape, {"O": o, "I": ic, "H": kh, "W": kw}), name="w")
                return [L.addf(acc, L.mulf(xv, wv, name="p"), name="s")]

            return L.if_else(inside, add_tap, lambda: [acc], [t], name="acc")

        (total,) = L.accumulate([c_per_group, kh_n, kw_n], ["ic", "kh", "kw"], [zero], tap)
        if bias:
            total = L.addf(total, L.load(bias[0], [o], name="bias"), name="y")
        L.store(total, y, ivs)

    logical_nest(L, y, layout, body)
