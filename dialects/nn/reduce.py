"""Reductions: `nn.reduce_sum`, `nn.reduce_mean`, `nn.reduce_max`, `nn.reduce_min`,
`nn.reduce_prod`.

All five share one shape rule (`ReduceOp`): reduce `x` over `axes` (negative axes count from the
end; no axes means every axis) and keep each reduced axis as size 1 when `keepdims` is 1. They
differ only in their numpy function.
"""

from __future__ import annotations

import numpy as np

from lamina.compiler.attributes import DenseArrayAttr, IntegerAttr
from lamina.compiler.opdef import Attr, Operand, Result

from .base import NnOp, ShapeError, integer, ints, nn, py, tensor_type, with_shape
from .shape import distinct_axes


def reduced_axes(axes, rank: int) -> tuple[int, ...]:
    """`axes` made non-negative and sorted; all axes when empty. Raises ShapeError for an axis
    out of range or named twice."""
    return tuple(sorted(distinct_axes(axes, rank))) if axes else tuple(range(rank))


class ReduceOp(NnOp):
    """`y = f(x)` over `axes`; subclasses set `name` and implement `compute` with numpy."""

    x = Operand(tensor_type)
    y = Result(tensor_type)
    axes = Attr(DenseArrayAttr, default=ints(()), doc="axes to reduce; none means all")
    keepdims = Attr(IntegerAttr, default=integer(1), doc="1 keeps reduced axes as size 1")

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        (x,) = operand_types
        axes = reduced_axes(py(properties.get("axes"), ()), x.rank)
        keepdims = py(properties.get("keepdims"), 1)
        if keepdims not in (0, 1):
            raise ShapeError(f"keepdims is {keepdims}; it must be 0 or 1")
        if keepdims:
            shape = [1 if i in axes else d for i, d in enumerate(x.shape)]
        else:
            shape = [d for i, d in enumerate(x.shape) if i not in axes]
        return [with_shape(x, shape)]

    def compute(self, x, axis: tuple, keepdims: bool):
        raise NotImplementedError

    def interpret(self, x):
        axis = reduced_axes(py(self.axes), x.ndim)
        with np.errstate(all="ignore"):
            out = self.compute(x, axis=axis, keepdims=bool(py(self.keepdims)))
        return np.asarray(out).astype(self.y.type.element_type.numpy_dtype, copy=False)

    def fold(self, x):
        axes = reduced_axes(py(self.axes), self.x.type.rank)
        if self.x.type == self.y.type and all(self.x.type.shape[a] == 1 for a in axes):
            return self.x  # reducing only axes of size 1 and keeping them -> x
        return None


def _extreme(dtype: np.dtype, largest: bool):
    """The identity of min (largest) or max (smallest) in `dtype`: what an empty set reduces to."""
    if dtype == np.bool_:
        return largest
    if np.issubdtype(dtype, np.integer):
        return np.iinfo(dtype).max if largest else np.iinfo(dtype).min
    return np.inf if largest else -np.inf


@nn.op
class ReduceSumOp(ReduceOp):
    """Sum over `axes`.

        %y = nn.reduce_sum %x attributes {axes = array<i64: 1>, keepdims = 0 : i64} : (tensor<2x3xf32>) -> tensor<2xf32>
    """

    name = "nn.reduce_sum"

    def compute(self, x, axis, keepdims):
        return np.sum(x, axis=axis, keepdims=keepdims, dtype=x.dtype)


@nn.op
class ReduceMeanOp(ReduceOp):
    """Arithmetic mean over `axes`.

        %y = nn.reduce_mean %x attributes {axes = array<i64: -1>} : (tensor<2x3xf32>) -> tensor<2x1xf32>
    """

    name = "nn.reduce_mean"

    def compute(self, x, axis, keepdims):  # sum / count: the mean of nothing is 0 / 0
        count = int(np.prod([x.shape[a] for a in axis], dtype=np.int64))
        return np.sum(x, axis=axis, keepdims=keepdims, dtype=np.float64) / count


@nn.op
class ReduceMaxOp(ReduceOp):
    """Maximum over `axes` (of nothing: -inf, or the dtype's smallest value).

        %y = nn.reduce_max %x : (tensor<2x3xf32>) -> tensor<1x1xf32>
    """

    name = "nn.reduce_max"

    def compute(self, x, axis, keepdims):
        return np.max(x, axis=axis, keepdims=keepdims, initial=_extreme(x.dtype, largest=False))


@nn.op
class ReduceMinOp(ReduceOp):
    """Minimum over `axes` (of nothing: +inf, or the dtype's largest value).

        %y = nn.reduce_min %x attributes {axes = array<i64: 0>} : (tensor<2x3xf32>) -> tensor<1x3xf32>
    """

    name = "nn.reduce_min"

    def compute(self, x, axis, keepdims):
        return np.min(x, axis=axis, keepdims=keepdims, initial=_extreme(x.dtype, largest=True))


@nn.op
class ReduceProdOp(ReduceOp):
    """Product over `axes`.

        %y = nn.reduce_prod %x attributes {axes = array<i64: 0, 1>, keepdims = 0 : i64} : (tensor<2x3xf32>) -> tensor<f32>
    """

    name = "nn.reduce_prod"

    def compute(self, x, axis, keepdims):
        return np.prod(x, axis=axis, keepdims=keepdims, dtype=x.dtype)
