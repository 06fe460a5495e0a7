"""Data layouts, and `nn.layout_transform`, the op that moves a tensor from one layout to another.

A layout names the axes of a tensor, outermost first, in TVM's notation: an upper-case letter is a
whole ("primal") axis, and digits followed by the same letter in lower case are a block of that
axis split off as an inner axis. So for an image of N pictures, C channels, H rows, W columns:

    "NCHW"     [N, C, H, W]             ONNX's layout
    "NHWC"     [N, H, W, C]             channels innermost (TensorFlow's, TFLite's)
    "NCHW8c"   [N, C/8, H, W, 8]        channels in blocks of 8, the block innermost (TVM's NCHWc)

and for a convolution weight of O output and I input channels, "OIHW" (ONNX's), or "OIHW8i8o"
[O/8, I/8, KH, KW, 8, 8]: blocks of 8 input and 8 output channels, the output block innermost,
which is how an NCHW8c convolution reads its weights (one vector of 8 output channels per input
channel and kernel offset). Element [n, c, h, w] of an NCHW tensor is element
[n, c // 8, h, w, c % 8] of its NCHW8c form. A letter has at most one block.

Broadcast operands: an axis of size 1 stays size 1 in every axis it is split into, so the bias
[1, 16, 1, 1] of an NCHW add becomes [1, 2, 1, 1, 8] in NCHW8c while a scalar-like [1, 1, 1, 1]
becomes [1, 1, 1, 1, 1], which broadcasts against any NCHW8c tensor as the original did. (A real
tensor of one channel cannot be NCHW8c, so the rule is never ambiguous.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from lamina.compiler.attributes import StringAttr
from lamina.compiler.opdef import Attr, Operand, Result
from lamina.compiler.rewrite import RewritePattern
from lamina.compiler.types import RankedTensorType

from .base import NnOp, ShapeError, nn, option, string, tensor_type

_AXIS = re.compile(r"([A-Z])|([1-9][0-9]*)([a-z])")


@dataclass(frozen=True)
class Layout:
    """A parsed layout: `axes` is one (letter, block) per tensor axis, block None for a primal
    axis and the block size for a split-off inner axis (letter in upper case for both)."""

    text: str
    axes: tuple

    @staticmethod
    def parse(text: str) -> "Layout":
        axes, pos = [], 0
        while pos < len(text):
            m = _AXIS.match(text, pos)
            if m is None:
                raise ShapeError(f'layout "{text}" is not a layout (write axes like "NCHW" or '
                                 f'"NCHW8c": upper-case axes, digits and a lower-case letter for a block)')
            axes.append((m[1], None) if m[1] else (m[3].upper(), int(m[2])))
            pos = m.end()
        primal = [a for a, block in axes if block is None]
        blocks = [a for a, block in axes if block is not None]
        if len(set(primal)) != len(primal) or len(set(blocks)) != len(blocks):
            raise ShapeError(f'layout "{text}" names an axis twice')
        if not set(blocks) <= set(primal):
            raise ShapeError(f'layout "{text}" has a block of an axis it does not have')
        return Layout(text, tuple(axes))

    @property
    def primal(self) -> str:
        """The whole axes, in order: "NCHW" for "NCHW8c"."""
        return "".join(a for a, block in self.axes if block is None)

    def block(self, letter: str) -> int:
        """The block size of `letter` (1 when it is not split)."""
        return next((b for a, b in self.axes if a == letter and b is not None), 1)

    @property
    def rank(self) -> int:
        return len(self.axes)

    def axis_names(self) -> str:
        """"N, C, H, W" or "N, C, H, W, 8c": the axes for a message."""
        return ", ".join(a if b is None else f"{b}{a.lower()}" for a, b in self.axes)

    # -- shapes ------------------------------------------------------------------------------------

    def sizes(self, shape, strict: bool = True) -> dict:
        """Letter -> the whole axis' size, of a tensor of `shape` in this layout (None if dynamic).
        `strict`: a block axis must have its block size (else a size-1 broadcast form is allowed)."""
        if len(shape) != self.rank:
            raise ShapeError(f'a tensor of rank {len(shape)} cannot be in layout "{self.text}" '
                             f"(rank {self.rank})")
        sizes = {}
        for letter in self.primal:
            outer = shape[self._position(letter, None)]
            if not self._is_blocked(letter):
                sizes[letter] = outer
                continue
            b = self.block(letter)
            inner = shape[self._position(letter, b)]
            if inner not in (b, None) and not (not strict and inner == 1 and outer == 1):
                raise ShapeError(f'axis {self._position(letter, b)} of a "{self.text}" tensor must '
                                 f"be {b}, but is {inner}")
            sizes[letter] = None if outer is None or inner is None else outer * inner
        return sizes

    def shape(self, sizes: dict, strict: bool = True) -> tuple:
        """The shape in this layout of a tensor whose whole axes have `sizes` (letter -> size);
        a size-1 axis gives size-1 blocks unless `strict`. ShapeError when a block does not
        divide its axis."""
        out = []
        for letter, b in self.axes:
            size, factor = sizes[letter], self.block(letter)
            if not self._is_blocked(letter):
                out.append(size)
            elif size is None:
                out.append(None if b is None else factor)
            elif size == 1 and not strict:
                out.append(1)
            elif size % factor:
                raise ShapeError(f'a {letter} axis of {size} cannot be in layout "{self.text}": '
                                 f"{factor} does not divide it")
            else:
                out.append(factor if b is not None else size // factor)
        return tuple(out)

    def _is_blocked(self, letter: str) -> bool:
        return any(a == letter and b is not None for a, b in self.axes)

    def _position(self, letter: str, block) -> int:
        return next(i for i, (a, b) in enumerate(self.axes) if a == letter and (b is None) == (block is None))

    # -- arrays ------------------------------------------------------------------------------------

    def to_primal(self, array: np.ndarray) -> np.ndarray:
        """The array with its blocks merged back: axes in the order of `primal`."""
        order, merged = [], []
        for letter in self.primal:
            outer = self._position(letter, None)
            if self._is_blocked(letter):
                inner = self._position(letter, self.block(letter))
                order += [outer, inner]
                merged.append(array.shape[outer] * array.shape[inner])
            else:
                order.append(outer)
                merged.append(array.shape[outer])
        return array.transpose(order).reshape(merged)

    def from_primal(self, array: np.ndarray, primal: str) -> np.ndarray:
        """An array whose axes are the whole axes in the order `primal`, in this layout."""
        split, names = [], []
        for letter, size in zip(primal, array.shape):
            if self._is_blocked(letter):
                b = self.block(letter) if size != 1 else 1
                split += [size // b, b]
                names += [(letter, None), (letter, self.block(letter))]
            else:
                split.append(size)
                names.append((letter, None))
        blocked = array.reshape(split)
        return blocked.transpose([names.index(axis) for axis in self.axes])


NCHW = Layout.parse("NCHW")
OIHW = Layout.parse("OIHW")


def layout_of(text: str, primal: str) -> Layout:
    """`text` parsed, with exactly the whole axes of `primal` (in any order); ShapeError if not."""
    layout = Layout.parse(text)
    if sorted(layout.primal) != sorted(primal):
        raise ShapeError(f'layout "{text}" must have the axes {", ".join(primal)}')
    return layout


def image_layout(text: str) -> Layout:
    """The layout of an image tensor of conv2d, the pools and batch_norm: "NCHW", "NHWC", or
    "NCHW{c}c" (like "NCHW8c")."""
    if text not in ("NCHW", "NHWC") and blocked_channels(text) is None:
        raise ShapeError(f'layout must be "NCHW", "NHWC" or "NCHW{{c}}c" (like "NCHW8c"), but is "{text}"')
    return Layout.parse(text)


def transform(array: np.ndarray, src: Layout, dst: Layout) -> np.ndarray:
    """`array` (in layout `src`) in layout `dst`, as a C-contiguous copy."""
    return np.ascontiguousarray(dst.from_primal(src.to_primal(array), src.primal))


def blocked_channels(text: str) -> int | None:
    """c for an "NCHW{c}c" layout, else None."""
    m = re.fullmatch(r"NCHW([1-9][0-9]*)c", text)
    return int(m[1]) if m else None


# ---------------------------------------------------------------------------------------------
# The op


@nn.op
class LayoutTransformOp(NnOp):
    """The same tensor in another layout (TVM's layout_transform): a transpose, plus a split or a
    merge of channel blocks.

        %y = nn.layout_transform %x attributes {dst = "NCHW8c", src = "NCHW"} : (tensor<1x16x4x4xf32>) -> tensor<1x2x4x4x8xf32>

    src and dst must have the same whole axes. An axis of size 1 stays 1 in every axis it splits
    into (broadcast operands; see the module docstring). On a constant it folds: this is how
    weights get their packed layout once, at compile time.
    """

    name = "nn.layout_transform"
    x = Operand(tensor_type)
    y = Result(tensor_type)
    src = Attr(StringAttr)
    dst = Attr(StringAttr)

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        (x,) = operand_types
        src = Layout.parse(option(cls, properties, "src"))
        dst = layout_of(option(cls, properties, "dst"), src.primal)
        return [RankedTensorType(dst.shape(src.sizes(x.shape, strict=False), strict=False), x.element_type)]

    def layouts(self) -> tuple[Layout, Layout]:
        return Layout.parse(self.src.value), Layout.parse(self.dst.value)

    def interpret(self, x):
        src, dst = self.layouts()
        return transform(x, src, dst)

    def fold(self, x):
        """transform(x) {src = dst} -> x; transform(constant) -> constant."""
        if self.src.value == self.dst.value and self.x.type == self.y.type:
            return self.x
        if x is None or not getattr(self.y.type, "has_static_shape", False):
            return None
        from lamina.compiler.attributes import DenseElementsAttr

        if not isinstance(x, DenseElementsAttr):
            return None
        return DenseElementsAttr(self.y.type, self.interpret(x.array))


def layout_transform(value, src: str, dst: str, location=None) -> LayoutTransformOp:
    """A new (not inserted) nn.layout_transform of `value` from `src` to `dst`."""
    return LayoutTransformOp.build(value, src=string(src), dst=string(dst), location=location)


# ---------------------------------------------------------------------------------------------
# Canonicalization: pairs of transforms


class CancelInverseLayoutTransforms(RewritePattern):
    """layout_transform(layout_transform(x) {src = A, dst = B}) {src = B, dst = A} -> x

    A transform followed by its inverse gives x back. From TVM (SimplifyExpr's
    SimplifyTransposeLayoutTransform / ConvertLayout's cancellation) and ONNX Runtime's transpose
    optimizer (inverse transposes cancel)."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, LayoutTransformOp):
            return False
        inner = getattr(op.x, "op", None)
        if not isinstance(inner, LayoutTransformOp):
            return False
        if (inner.src.value, inner.dst.value) != (op.dst.value, op.src.value):
            return False
        if inner.x.type != op.y.type:
            return False
        rewriter.replace_op(op, [inner.x])
        return True


class MergeConsecutiveLayoutTransforms(RewritePattern):
    """layout_transform(layout_transform(x) {src = A, dst = B}) {src = B, dst = C}
    -> layout_transform(x) {src = A, dst = C}

    Two moves of the same elements are one move (when C is not A; that pair cancels instead).
    From TVM (layout_transform chains fold in ConvertLayout)."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, LayoutTransformOp):
            return False
        inner = getattr(op.x, "op", None)
        if not isinstance(inner, LayoutTransformOp) or inner.dst.value != op.src.value:
            return False
        if inner.src.value == op.dst.value:
            return False
        props = {"src": string(inner.src.value), "dst": string(op.dst.value)}
        try:
            (t,) = LayoutTransformOp.infer_result_types([inner.x.type], props)
        except ShapeError:
            return False
        if t != op.y.type:
            return False
        rewriter.replace_op(op, LayoutTransformOp(operands=[inner.x], result_types=[t],
                                                  properties=props, location=op.location))
        return True


LayoutTransformOp.canonicalization_patterns = (CancelInverseLayoutTransforms(),
                                               MergeConsecutiveLayoutTransforms())
