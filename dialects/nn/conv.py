"""Convolution and pooling over the two spatial dims of an image tensor.

Every op here takes a `layout` of its image tensors (dialects/nn/layout.py): "NCHW" (ONNX's),
"NHWC", or "NCHW{c}c" such as "NCHW8c" ([N, C/8, H, W, 8], channels in blocks of 8, innermost;
C must be a multiple of 8), or any order of N, C, H, W with at most a block of C. A convolution's
weight is OIHW [out channels, in channels / group, KH, KW] unless its `weight_layout` says
otherwise (e.g. "OIHW8i8o" [O/8, I/8, KH, KW, 8, 8], the packed form an NCHW8c convolution reads,
made once from the OIHW constant by constant folding). `pads` is [top, left, bottom, right]
(ONNX's order: all begins, then all ends). The output size of a spatial dim is

    out = floor((in + pad_begin + pad_end - dilation * (kernel - 1) - 1) / stride) + 1

(`ceil` instead of `floor` for a pool with `ceil_mode = 1`, dropping a last window that would
start in the end padding, as ONNX Runtime and PyTorch do).

The numpy references share one helper, `_windows`: an im2col that gathers, for each kernel
offset (i, j), the input pixels that offset sees at every output position. A convolution is then
one batched matrix product, a max pool a max and an average pool a sum and a divide.
"""

from __future__ import annotations

import math

import numpy as np

from lamina.compiler.attributes import DenseArrayAttr, IntegerAttr, StringAttr
from lamina.compiler.opdef import Attr, Operand, Result, VarOperand
from lamina.compiler.types import RankedTensorType

from .base import NnOp, ShapeError, float_tensor, integer, ints, nn, option, string
from .layout import NCHW, OIHW, Layout, image_layout, layout_of, transform


# ---------------------------------------------------------------------------------------------
# Shapes: reading the attributes and computing output sizes


def _layout(cls, properties) -> Layout:
    return image_layout(option(cls, properties, "layout"))


def _nchw(shape, layout: Layout) -> tuple:
    """An image shape in `layout` as (N, C, H, W)."""
    sizes = layout.sizes(shape)
    return tuple(sizes[a] for a in "NCHW")


def _from_nchw(shape, layout: Layout) -> tuple:
    return layout.shape(dict(zip("NCHW", shape)))


def _check_image(what: str, t: RankedTensorType, layout: Layout) -> None:
    if t.rank != layout.rank:
        raise ShapeError(f"{what} must be a {layout.rank}-D tensor ({layout.axis_names()}), but has rank {t.rank}")


def _pairs(cls, properties, name: str, size: int = 2, minimum: int = 1) -> tuple:
    """An integer-list attribute of `size` values, each at least `minimum`."""
    values = option(cls, properties, name)
    if len(values) != size:
        what = " (top, left, bottom, right)" if name == "pads" else ""
        raise ShapeError(f"{name} must have {size} values{what}, but has {len(values)}")
    if any(v < minimum for v in values):
        bound = "positive" if minimum == 1 else "non-negative"
        raise ShapeError(f"{name} must be {bound}, but are [{', '.join(map(str, values))}]")
    return values


def _out_size(size, kernel, stride, dilation, pad_begin, pad_end, ceil_mode=False):
    """One spatial dim of the output (None when the input dim is dynamic)."""
    if size is None:
        return None
    span = size + pad_begin + pad_end - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    out = (math.ceil if ceil_mode else math.floor)(span / stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad_begin:
        out -= 1  # the last window would start in the end padding
    return out


def _spatial(h, w, kernel, strides, dilations, pads, ceil_mode=False) -> tuple:
    """(OH, OW), raising ShapeError when the dilated kernel does not fit the padded input."""
    oh = _out_size(h, kernel[0], strides[0], dilations[0], pads[0], pads[2], ceil_mode)
    ow = _out_size(w, kernel[1], strides[1], dilations[1], pads[1], pads[3], ceil_mode)
    if oh == 0 or ow == 0:
        eh, ew = (dilations[i] * (kernel[i] - 1) + 1 for i in range(2))
        ph = "?" if h is None else h + pads[0] + pads[2]
        pw = "?" if w is None else w + pads[1] + pads[3]
        raise ShapeError(f"the {eh}x{ew} window (kernel with dilations) does not fit in the "
                         f"padded {ph}x{pw} input")
    return oh, ow


# ---------------------------------------------------------------------------------------------
# numpy: padding and im2col, in NCHW


def _array_to_nchw(x: np.ndarray, layout: Layout) -> np.ndarray:
    return x if layout == NCHW else transform(x, layout, NCHW)


def _array_from_nchw(y: np.ndarray, layout: Layout) -> np.ndarray:
    return y if layout == NCHW else transform(y, NCHW, layout)


def _pad(x, pads, out_hw, kernel, strides, dilations, fill, tail_fill=None):
    """Pad `x` (N, C, H, W) by `pads` with `fill`, then on the bottom and right with `tail_fill`
    (default `fill`) so that every one of the `out_hw` windows lies inside (ceil_mode's last
    window may reach past the end padding)."""
    top, left, bottom, right = pads
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=fill)
    need = [(out_hw[i] - 1) * strides[i] + dilations[i] * (kernel[i] - 1) + 1 for i in range(2)]
    extra = [max(0, need[0] - x.shape[2]), max(0, need[1] - x.shape[3])]
    if any(extra):
        x = np.pad(x, ((0, 0), (0, 0), (0, extra[0]), (0, extra[1])),
                   constant_values=fill if tail_fill is None else tail_fill)
    return x


def _windows(x, kernel, strides, dilations, out_hw) -> np.ndarray:
    """im2col of a padded x (N, C, H, W): an array (N, C, KH, KW, OH, OW) whose element
    [n, c, i, j, oh, ow] is x[n, c, oh * sh + i * dh, ow * sw + j * dw]."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel, strides, dilations, out_hw
    n, c = x.shape[:2]
    cols = np.empty((n, c, kh, kw, oh, ow), x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = x[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                                 j * dw:j * dw + sw * (ow - 1) + 1:sw]
    return cols


# ---------------------------------------------------------------------------------------------
# Convolution


@nn.op
class Conv2DOp(NnOp):
    """2-D convolution (ONNX Conv), grouped and depthwise, with an optional bias.

        %y = nn.conv2d %x, %w, %b attributes {pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 1, 1>} : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32>

    x is [N, C, H, W] (or [N, H, W, C] with layout "NHWC", [N, C/8, H, W, 8] with "NCHW8c"), w is
    [O, C / group, KH, KW] (or in `weight_layout`, e.g. "OIHW8i8o" [O/8, C/8, KH, KW, 8, 8]),
    bias is [O] in every layout; y is [N, O, OH, OW] in the same layout as x.
    """

    name = "nn.conv2d"
    x = Operand(float_tensor)
    w = Operand(float_tensor)
    bias = VarOperand(float_tensor, doc="none, or one [O] tensor")
    y = Result(float_tensor)
    strides = Attr(DenseArrayAttr, default=ints([1, 1]))
    pads = Attr(DenseArrayAttr, default=ints([0, 0, 0, 0]))
    dilations = Attr(DenseArrayAttr, default=ints([1, 1]))
    group = Attr(IntegerAttr, default=integer(1))
    layout = Attr(StringAttr, default=string("NCHW"))
    weight_layout = Attr(StringAttr, default=string("OIHW"))

    @classmethod
    def weight_oihw(cls, w_shape, properties) -> tuple:
        """The weight's shape as (O, I/group, KH, KW)."""
        wl = layout_of(option(cls, properties, "weight_layout"), "OIHW")
        if len(w_shape) != wl.rank:
            axes = "O, I/group, KH, KW" if wl == OIHW else wl.text
            raise ShapeError(f"weight must be a {wl.rank}-D tensor ({axes}), but has rank {len(w_shape)}")
        sizes = wl.sizes(w_shape)
        return tuple(sizes[a] for a in "OIHW")

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        x, w, *bias = operand_types
        layout = _layout(cls, properties)
        _check_image("input", x, layout)
        if len(bias) > 1:
            raise ShapeError(f"takes at most one bias, but got {len(bias)}")
        for other, t in (("weight", w), *(("bias", b) for b in bias)):
            if t.element_type != x.element_type:
                raise ShapeError(f"input is {x.element_type} but the {other} is {t.element_type}; "
                                 "they must match")
        strides, dilations = _pairs(cls, properties, "strides"), _pairs(cls, properties, "dilations")
        pads = _pairs(cls, properties, "pads", 4, minimum=0)
        group = option(cls, properties, "group")
        n, c, h, wd = _nchw(x.shape, layout)
        o, c_per_group, kh, kw = cls.weight_oihw(w.shape, properties)
        if group < 1:
            raise ShapeError(f"group must be at least 1, but is {group}")
        if o is not None and o % group:
            raise ShapeError(f"group {group} does not divide the weight's {o} output channels")
        if c is not None and c_per_group is not None and c != c_per_group * group:
            if group == 1:
                raise ShapeError(f"input has {c} channels but the weight expects {c_per_group}")
            if c % group:
                raise ShapeError(f"group {group} does not divide the input's {c} channels")
            raise ShapeError(f"input has {c} channels but the weight expects {c_per_group * group} "
                             f"({c_per_group} per group × group {group})")
        if bias and (bias[0].rank != 1 or (o is not None and bias[0].shape[0] not in (o, None))):
            raise ShapeError(f"bias has shape [{', '.join(map(str, bias[0].shape))}] but the weight "
                             f"has {o} output channels")
        if kh is None or kw is None:
            oh = ow = None
        else:
            oh, ow = _spatial(h, wd, (kh, kw), strides, dilations, pads)
        return [RankedTensorType(_from_nchw((n, o, oh, ow), layout), x.element_type)]

    def interpret(self, x, w, *bias):
        layout = image_layout(self.layout.value)
        w = transform(w, layout_of(self.weight_layout.value, "OIHW"), OIHW)
        strides, pads, dilations = self.strides.values, self.pads.values, self.dilations.values
        group = self.group.value
        x = _array_to_nchw(x, layout)
        n = x.shape[0]
        o, c_per_group, kh, kw = w.shape
        _, _, oh, ow = _nchw(self.y.type.shape, layout)
        xp = _pad(x, pads, (oh, ow), (kh, kw), strides, dilations, fill=0)
        cols = _windows(xp, (kh, kw), strides, dilations, (oh, ow))  # N, C, KH, KW, OH, OW
        cols = cols.reshape(n, group, c_per_group * kh * kw, oh * ow)
        weights = w.reshape(group, o // group, c_per_group * kh * kw)
        y = np.matmul(weights, cols).reshape(n, o, oh, ow)  # (G, O/G, K) @ (N, G, K, P)
        if bias:
            y = y + bias[0].reshape(1, o, 1, 1)
        return _array_from_nchw(y, layout).astype(w.dtype, copy=False)


# ---------------------------------------------------------------------------------------------
# Pooling


class _Pool2DOp(NnOp):
    """What max and average pooling share: one input, a window, and the output size rule."""

    x = Operand(float_tensor)
    y = Result(float_tensor)
    kernel_shape = Attr(DenseArrayAttr)
    strides = Attr(DenseArrayAttr, default=ints([1, 1]))
    pads = Attr(DenseArrayAttr, default=ints([0, 0, 0, 0]))
    ceil_mode = Attr(IntegerAttr, default=integer(0))
    layout = Attr(StringAttr, default=string("NCHW"))
    has_dilations = False

    @classmethod
    def _dilations(cls, properties) -> tuple:
        return _pairs(cls, properties, "dilations") if cls.has_dilations else (1, 1)

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        (x,) = operand_types
        layout = _layout(cls, properties)
        _check_image("input", x, layout)
        kernel = _pairs(cls, properties, "kernel_shape")
        strides, dilations = _pairs(cls, properties, "strides"), cls._dilations(properties)
        pads = _pairs(cls, properties, "pads", 4, minimum=0)
        if any(pads[i] >= kernel[i % 2] for i in range(4)):
            raise ShapeError(f"pads [{', '.join(map(str, pads))}] must be smaller than the kernel "
                             f"{kernel[0]}x{kernel[1]}")
        n, c, h, w = _nchw(x.shape, layout)
        oh, ow = _spatial(h, w, kernel, strides, dilations, pads, bool(option(cls, properties, "ceil_mode")))
        return [RankedTensorType(_from_nchw((n, c, oh, ow), layout), x.element_type)]

    def _geometry(self):
        """(kernel, strides, dilations, pads, (OH, OW)) of this op."""
        _, _, oh, ow = _nchw(self.y.type.shape, image_layout(self.layout.value))
        dilations = self.dilations.values if self.has_dilations else (1, 1)
        return self.kernel_shape.values, self.strides.values, dilations, self.pads.values, (oh, ow)


@nn.op
class MaxPool2DOp(_Pool2DOp):
    """2-D max pooling (ONNX MaxPool); padding never wins the max.

        %y = nn.max_pool2d %x attributes {kernel_shape = array<i64: 3, 3>, pads = array<i64: 1, 1, 1, 1>, strides = array<i64: 2, 2>} : (tensor<1x64x112x112xf32>) -> tensor<1x64x56x56xf32>
    """

    name = "nn.max_pool2d"
    dilations = Attr(DenseArrayAttr, default=ints([1, 1]))
    has_dilations = True

    def interpret(self, x):
        layout = image_layout(self.layout.value)
        kernel, strides, dilations, pads, out_hw = self._geometry()
        # the lowest finite value, not -inf: a window that holds only padding (dilation can
        # skip every pixel) gives it, and -inf in x never beats it, as in ONNX Runtime
        lowest = np.finfo(x.dtype).min
        xp = _pad(_array_to_nchw(x, layout), pads, out_hw, kernel, strides, dilations, fill=lowest)
        y = _windows(xp, kernel, strides, dilations, out_hw).max(axis=(2, 3))
        return _array_from_nchw(y, layout)


@nn.op
class AvgPool2DOp(_Pool2DOp):
    """2-D average pooling (ONNX AveragePool).

        %y = nn.avg_pool2d %x attributes {count_include_pad = 1 : i64, kernel_shape = array<i64: 2, 2>, strides = array<i64: 2, 2>} : (tensor<1x8x6x6xf32>) -> tensor<1x8x3x3xf32>

    Each window's sum is divided by the number of input pixels in it, or with
    `count_include_pad = 1` by the number of input and `pads` pixels in it (never counting the
    extra pixels that `ceil_mode` reaches past the end padding).
    """

    name = "nn.avg_pool2d"
    count_include_pad = Attr(IntegerAttr, default=integer(0))

    def interpret(self, x):
        layout = image_layout(self.layout.value)
        kernel, strides, dilations, pads, out_hw = self._geometry()
        x = _array_to_nchw(x, layout)
        sums = _windows(_pad(x, pads, out_hw, kernel, strides, dilations, fill=0),
                        kernel, strides, dilations, out_hw).sum(axis=(2, 3))
        ones = np.ones((1, 1) + x.shape[2:], x.dtype)
        counted = _pad(ones, pads, out_hw, kernel, strides, dilations,
                       fill=self.count_include_pad.value, tail_fill=0)
        counts = _windows(counted, kernel, strides, dilations, out_hw).sum(axis=(2, 3))
        return _array_from_nchw(sums / counts, layout).astype(x.dtype, copy=False)


class _GlobalPoolOp(NnOp):
    x = Operand(float_tensor)
    y = Result(float_tensor)
    layout = Attr(StringAttr, default=string("NCHW"))

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        (x,) = operand_types
        layout = _layout(cls, properties)
        _check_image("input", x, layout)
        n, c, _, _ = _nchw(x.shape, layout)
        return [RankedTensorType(_from_nchw((n, c, 1, 1), layout), x.element_type)]

    def fold(self, x):
        """pool(x) -> x when H and W are already 1."""
        return self.x if self.x.type == self.y.type else None

    def _axes(self):
        layout = image_layout(self.layout.value)
        return tuple(i for i, (a, b) in enumerate(layout.axes) if a in "HW")


@nn.op
class GlobalAvgPoolOp(_GlobalPoolOp):
    """The mean over H and W (ONNX GlobalAveragePool); H and W stay as 1.

        %y = nn.global_avg_pool %x : (tensor<1x512x7x7xf32>) -> tensor<1x512x1x1xf32>
    """

    name = "nn.global_avg_pool"

    def interpret(self, x):
        return x.mean(axis=self._axes(), keepdims=True, dtype=np.float64).astype(x.dtype)


@nn.op
class GlobalMaxPoolOp(_GlobalPoolOp):
    """The max over H and W (ONNX GlobalMaxPool); H and W stay as 1.

        %y = nn.global_max_pool %x attributes {layout = "NHWC"} : (tensor<1x7x7x512xf32>) -> tensor<1x1x1x512xf32>
    """

    name = "nn.global_max_pool"

    def interpret(self, x):
        return x.max(axis=self._axes(), keepdims=True)
