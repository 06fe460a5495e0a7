"""Normalizations (batch, layer, instance, local response) and the softmaxes.

All of them compute in the input's element type except layer_norm's statistics, which ONNX
computes in f32 (`stash_type = 1`); the references below use float64 internally for the
statistics and cast back, which agrees with ONNX Runtime to f32 rounding.
"""

from __future__ import annotations

import numpy as np

from lamina.compiler.attributes import FloatAttr, IntegerAttr, StringAttr
from lamina.compiler.opdef import Attr, Operand, Result, VarOperand

from .base import (NnOp, ShapeError, _shape_str, broadcasts_to, float_tensor, integer, nn,
                   normalize_axis, option, real, string)
from .layout import NCHW, image_layout, transform


def _same_element_type(x, **others) -> None:
    for name, t in others.items():
        if t.element_type != x.element_type:
            raise ShapeError(f"input is {x.element_type} but {name} is {t.element_type}; they must match")


def _per_channel(x, **vectors) -> None:
    """Each of `vectors` is a [C] tensor for x's channel axis 1."""
    if x.rank < 2:
        raise ShapeError(f"input must have a channel axis (rank 2 or more), but has rank {x.rank}")
    _same_element_type(x, **vectors)
    c = x.shape[1]
    for name, t in vectors.items():
        if t.rank != 1 or (c is not None and t.shape[0] not in (c, None)):
            raise ShapeError(f"{name} must have shape [{'?' if c is None else c}] (the input's "
                             f"channels), but has shape {_shape_str(t.shape)}")


def _channel_vector(v: np.ndarray, rank: int) -> np.ndarray:
    """[C] -> [C, 1, ..., 1], to broadcast along axis 1 of a rank-`rank` tensor."""
    return v.reshape((-1,) + (1,) * (rank - 2))


@nn.op
class BatchNormOp(NnOp):
    """Inference-mode batch normalization (ONNX BatchNormalization) along channel axis 1:
    y = (x - mean) / sqrt(var + epsilon) * scale + bias.

        %y = nn.batch_norm %x, %scale, %bias, %mean, %var : (tensor<1x64x56x56xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<1x64x56x56xf32>

    With `layout` "NHWC" or "NCHW{c}c" (like conv2d's) x is a 4-D image in that layout
    ([N, H, W, C], [N, C/c, H, W, c]) and the channel of element [n, h, w, ch] is ch, of
    [n, cb, h, w, ci] is cb * c + ci; scale, bias, mean and var stay [C] vectors in every layout
    (the kernel reads them by channel, so convert-layout changes no constant). The default
    "NCHW" takes any rank >= 2 with channels on axis 1, as ONNX does.
    """

    name = "nn.batch_norm"
    x = Operand(float_tensor)
    scale = Operand(float_tensor)
    bias = Operand(float_tensor)
    mean = Operand(float_tensor)
    var = Operand(float_tensor)
    y = Result(float_tensor)
    epsilon = Attr(FloatAttr, default=real(1e-5))
    layout = Attr(StringAttr, default=string("NCHW"))

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        x, scale, bias, mean, var = operand_types
        layout = image_layout(option(cls, properties, "layout"))
        if layout == NCHW:
            _per_channel(x, scale=scale, bias=bias, mean=mean, var=var)
            return [x]
        if x.rank != layout.rank:
            raise ShapeError(f"input must be a {layout.rank}-D tensor ({layout.axis_names()}), "
                             f"but has rank {x.rank}")
        c = layout.sizes(x.shape)["C"]
        _same_element_type(x, scale=scale, bias=bias, mean=mean, var=var)
        for name, t in dict(scale=scale, bias=bias, mean=mean, var=var).items():
            if t.rank != 1 or (c is not None and t.shape[0] not in (c, None)):
                raise ShapeError(f"{name} must have shape [{'?' if c is None else c}] (the input's "
                                 f"channels), but has shape {_shape_str(t.shape)}")
        return [x]

    def interpret(self, x, scale, bias, mean, var):
        layout = image_layout(self.layout.value)
        if layout != NCHW:
            nchw = self._normalize(transform(x, layout, NCHW), scale, bias, mean, var)
            return transform(nchw, NCHW, layout)
        return self._normalize(x, scale, bias, mean, var)

    def _normalize(self, x, scale, bias, mean, var):
        scale, bias, mean, var = (_channel_vector(v, x.ndim) for v in (scale, bias, mean, var))
        y = (x - mean) / np.sqrt(var + np.float32(self.epsilon.value).astype(x.dtype)) * scale + bias
        return y.astype(x.dtype, copy=False)


@nn.op
class LayerNormOp(NnOp):
    """Layer normalization (ONNX LayerNormalization) over the axes [axis, rank):
    y = (x - mean) / sqrt(variance + epsilon) * scale + bias.

        %y = nn.layer_norm %x, %scale, %bias attributes {axis = -1 : i64} : (tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>

    scale and the optional bias broadcast to x (usually they have x's shape from `axis` on).
    """

    name = "nn.layer_norm"
    x = Operand(float_tensor)
    scale = Operand(float_tensor)
    bias = VarOperand(float_tensor, doc="none, or one tensor that broadcasts to x")
    y = Result(float_tensor)
    axis = Attr(IntegerAttr, default=integer(-1))
    epsilon = Attr(FloatAttr, default=real(1e-5))

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        x, scale, *bias = operand_types
        if len(bias) > 1:
            raise ShapeError(f"takes at most one bias, but got {len(bias)}")
        normalize_axis(option(cls, properties, "axis"), x.rank)
        named = {"scale": scale, **({"bias": bias[0]} if bias else {})}
        _same_element_type(x, **named)
        for name, t in named.items():
            if not broadcasts_to(t.shape, x.shape):
                raise ShapeError(f"{name} {_shape_str(t.shape)} does not broadcast to the input "
                                 f"{_shape_str(x.shape)}")
        return [x]

    def interpret(self, x, scale, *bias):
        axes = tuple(range(normalize_axis(self.axis.value, x.ndim), x.ndim))
        x64 = x.astype(np.float64)
        mean = x64.mean(axis=axes, keepdims=True)
        var = ((x64 - mean) ** 2).mean(axis=axes, keepdims=True)
        y = (x64 - mean) / np.sqrt(var + self.epsilon.value) * scale
        if bias:
            y = y + bias[0]
        return y.astype(x.dtype)


@nn.op
class InstanceNormOp(NnOp):
    """Instance normalization (ONNX InstanceNormalization): each (n, c) image normalized over
    its spatial axes, then y = normalized * scale[c] + bias[c].

        %y = nn.instance_norm %x, %scale, %bias : (tensor<1x8x16x16xf32>, tensor<8xf32>, tensor<8xf32>) -> tensor<1x8x16x16xf32>
    """

    name = "nn.instance_norm"
    x = Operand(float_tensor)
    scale = Operand(float_tensor)
    bias = Operand(float_tensor)
    y = Result(float_tensor)
    epsilon = Attr(FloatAttr, default=real(1e-5))

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        x, scale, bias = operand_types
        if x.rank < 3:
            raise ShapeError(f"input must be [N, C, D1, ...] (rank 3 or more), but has rank {x.rank}")
        _per_channel(x, scale=scale, bias=bias)
        return [x]

    def interpret(self, x, scale, bias):
        axes = tuple(range(2, x.ndim))
        x64 = x.astype(np.float64)
        mean = x64.mean(axis=axes, keepdims=True)
        var = ((x64 - mean) ** 2).mean(axis=axes, keepdims=True)
        y = (x64 - mean) / np.sqrt(var + self.epsilon.value)
        y = y * _channel_vector(scale, x.ndim) + _channel_vector(bias, x.ndim)
        return y.astype(x.dtype)


@nn.op
class LRNOp(NnOp):
    """Local response normalization across channels (ONNX LRN, as in AlexNet):
    y = x / (bias + alpha / size * square_sum) ** beta, where square_sum at channel c sums x**2
    over channels [c - floor((size - 1) / 2), c + ceil((size - 1) / 2)] within [0, C).

        %y = nn.lrn %x attributes {size = 5 : i64} : (tensor<1x96x55x55xf32>) -> tensor<1x96x55x55xf32>
    """

    name = "nn.lrn"
    x = Operand(float_tensor)
    y = Result(float_tensor)
    size = Attr(IntegerAttr)
    alpha = Attr(FloatAttr, default=real(1e-4))
    beta = Attr(FloatAttr, default=real(0.75))
    bias = Attr(FloatAttr, default=real(1.0))

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        (x,) = operand_types
        if x.rank < 3:
            raise ShapeError(f"input must be [N, C, D1, ...] (rank 3 or more), but has rank {x.rank}")
        size = option(cls, properties, "size")
        if size < 1:
            raise ShapeError(f"size must be positive, but is {size}")
        return [x]

    def interpret(self, x):
        size, c = self.size.value, x.shape[1]
        before, after = (size - 1) // 2, size // 2  # floor and ceil of (size - 1) / 2
        squares = x.astype(np.float64) ** 2
        square_sum = np.zeros_like(squares)
        for k in range(c):
            square_sum[:, k] = squares[:, max(0, k - before):min(c, k + after + 1)].sum(axis=1)
        scale = self.bias.value + self.alpha.value / size * square_sum
        return (x / scale ** self.beta.value).astype(x.dtype)


class _SoftmaxOp(NnOp):
    x = Operand(float_tensor)
    y = Result(float_tensor)
    axis = Attr(IntegerAttr, default=integer(-1))

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        (x,) = operand_types
        if x.rank == 0:
            raise ShapeError("input must have rank 1 or more, but is a scalar")
        normalize_axis(option(cls, properties, "axis"), x.rank)
        return [x]

    def _shifted(self, x):
        """(x - max(x), its axis): subtracting the max keeps exp from overflowing."""
        axis = normalize_axis(self.axis.value, x.ndim)
        return x - x.max(axis=axis, keepdims=True), axis


@nn.op
class SoftmaxOp(_SoftmaxOp):
    """Softmax along one axis (ONNX Softmax, opset 13 and later): exp(x) / sum(exp(x)).

        %y = nn.softmax %x attributes {axis = 1 : i64} : (tensor<1x1000xf32>) -> tensor<1x1000xf32>
    """

    name = "nn.softmax"

    def interpret(self, x):
        shifted, axis = self._shifted(x)
        e = np.exp(shifted)
        return (e / e.sum(axis=axis, keepdims=True)).astype(x.dtype, copy=False)


@nn.op
class LogSoftmaxOp(_SoftmaxOp):
    """Log of softmax along one axis (ONNX LogSoftmax, opset 13 and later):
    x - max - log(sum(exp(x - max))).

        %y = nn.log_softmax %x : (tensor<4x10xf32>) -> tensor<4x10xf32>
    """

    name = "nn.log_softmax"

    def interpret(self, x):
        shifted, axis = self._shifted(x)
        return (shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))).astype(x.dtype, copy=False)
