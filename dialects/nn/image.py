"""Image resampling and rearrangement in NCHW: resize (nearest and linear), depth_to_space and
space_to_depth (pixel shuffle and its inverse)."""

from __future__ import annotations

import numpy as np

from lamina.compiler.attributes import IntegerAttr, StringAttr
from lamina.compiler.opdef import Attr, Operand, Result
from lamina.compiler.types import RankedTensorType

from .base import NnOp, ShapeError, _shape_str, nn, option, string, tensor_type

RESIZE_MODES = ("nearest", "linear")
COORDINATE_MODES = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def _one_of(cls, properties, name: str, choices) -> str:
    value = option(cls, properties, name)
    if value not in choices:
        listing = ", ".join(f'"{c}"' for c in choices)
        raise ShapeError(f'{name} must be one of {listing}, but is "{value}"')
    return value


def _check_nchw(x: RankedTensorType) -> None:
    if x.rank != 4:
        raise ShapeError(f"input must be a 4-D tensor (N, C, H, W), but has rank {x.rank}")


# ---------------------------------------------------------------------------------------------
# Resize


def source_coordinates(out_size: int, in_size: int, mode: str) -> np.ndarray:
    """Where each output index along one axis reads the input (ONNX's
    coordinate_transformation_mode), in f32 as ONNX Runtime computes it; scale = out / in."""
    x = np.arange(out_size, dtype=np.float32)
    scale = np.float32(out_size) / np.float32(in_size)
    if mode == "half_pixel":
        return (x + np.float32(0.5)) / scale - np.float32(0.5)
    if mode == "pytorch_half_pixel":
        return (x + np.float32(0.5)) / scale - np.float32(0.5) if out_size > 1 else np.zeros_like(x)
    if mode == "align_corners":
        return x * np.float32(in_size - 1) / np.float32(out_size - 1) if out_size > 1 else np.zeros_like(x)
    return x / scale  # asymmetric


def _nearest(coords: np.ndarray, in_size: int, mode: str) -> np.ndarray:
    """The input index nearest to each coordinate (ONNX's nearest_mode), clamped to the input."""
    floor = np.floor(coords)
    tie = coords == floor + 0.5
    if mode == "round_prefer_floor":
        index = np.where(tie, floor, np.round(coords))
    elif mode == "round_prefer_ceil":
        index = np.where(tie, floor + 1, np.round(coords))
    elif mode == "floor":
        index = floor
    else:
        index = np.ceil(coords)
    return np.clip(index, 0, in_size - 1).astype(np.int64)


def _linear(x: np.ndarray, axis: int, coords: np.ndarray) -> np.ndarray:
    """Linear interpolation of `x` along `axis` at `coords` (clamped to the input)."""
    size = x.shape[axis]
    coords = np.clip(coords.astype(np.float64), 0, size - 1)
    low = np.floor(coords).astype(np.int64)
    high = np.minimum(low + 1, size - 1)
    shape = [1] * x.ndim
    shape[axis] = -1
    t = (coords - low).reshape(shape)
    return np.take(x, low, axis=axis) * (1 - t) + np.take(x, high, axis=axis) * t


@nn.op
class ResizeOp(NnOp):
    """Resize H and W of an NCHW image to the result's size (ONNX Resize given `sizes`).

        %y = nn.resize %x attributes {coordinate_transformation_mode = "asymmetric", mode = "nearest", nearest_mode = "floor"} : (tensor<1x256x13x13xf32>) -> tensor<1x256x26x26xf32>

    That example is YOLO's 2x upsample. The scale of an axis is out / in; a front-end that reads
    ONNX `scales` whose product with the input size is not a whole number sets the size it
    computes, so the coordinates use out / in rather than the given scale.
    """

    name = "nn.resize"
    x = Operand(tensor_type)
    y = Result(tensor_type)
    mode = Attr(StringAttr)
    coordinate_transformation_mode = Attr(StringAttr, default=string("half_pixel"))
    nearest_mode = Attr(StringAttr, default=string("round_prefer_floor"))

    @classmethod
    def check(cls, x: RankedTensorType, y: RankedTensorType, properties) -> None:
        """What inference cannot do for resize (the output size is the result type's): raise
        ShapeError when x and y do not fit together or an attribute is unknown."""
        _one_of(cls, properties, "mode", RESIZE_MODES)
        _one_of(cls, properties, "coordinate_transformation_mode", COORDINATE_MODES)
        _one_of(cls, properties, "nearest_mode", NEAREST_MODES)
        _check_nchw(x)
        if y.element_type != x.element_type:
            raise ShapeError(f"input is {x.element_type} but the result is {y.element_type}; they must match")
        if y.rank != 4 or y.shape[:2] != x.shape[:2]:
            raise ShapeError(f"the result {_shape_str(y.shape)} must keep the input's N and C "
                             f"{_shape_str(x.shape[:2])} and resize only H and W")
        if any(d == 0 for d in y.shape[2:] + x.shape[2:]):
            raise ShapeError("cannot resize from or to an empty H or W")

    def verify(self):
        try:
            self.check(self.x.type, self.y.type, dict(self.properties))
        except ShapeError as e:
            return str(e)
        return None

    def fold(self, x):
        """resize(x) -> x when the size does not change (every mode then reads x exactly)."""
        return self.x if self.x.type == self.y.type else None

    def interpret(self, x):
        ctm = self.coordinate_transformation_mode.value
        y = x
        for axis, out_size in ((2, self.y.type.shape[2]), (3, self.y.type.shape[3])):
            coords = source_coordinates(out_size, x.shape[axis], ctm)
            if self.mode.value == "nearest":
                y = np.take(y, _nearest(coords, x.shape[axis], self.nearest_mode.value), axis=axis)
            else:
                y = _linear(y, axis, coords)
        return y.astype(x.dtype, copy=False)


# ---------------------------------------------------------------------------------------------
# Moving pixels between depth and space


@nn.op
class DepthToSpaceOp(NnOp):
    """Move blocks of channels into blocksize x blocksize pixel tiles (ONNX DepthToSpace).

        %y = nn.depth_to_space %x attributes {blocksize = 2 : i64, mode = "CRD"} : (tensor<1x12x4x4xf32>) -> tensor<1x3x8x8xf32>

    "DCR" (depth-column-row, the default) reads channel (bh * b + bw) * C' + c for output
    channel c at tile offset (bh, bw); "CRD" (PyTorch's pixel_shuffle) reads c * b * b + bh * b + bw.
    """

    name = "nn.depth_to_space"
    x = Operand(tensor_type)
    y = Result(tensor_type)
    blocksize = Attr(IntegerAttr)
    mode = Attr(StringAttr, default=string("DCR"))

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        (x,) = operand_types
        _check_nchw(x)
        _one_of(cls, properties, "mode", ("DCR", "CRD"))
        b = option(cls, properties, "blocksize")
        if b < 1:
            raise ShapeError(f"blocksize must be positive, but is {b}")
        n, c, h, w = x.shape
        if c is not None and c % (b * b):
            raise ShapeError(f"input has {c} channels, which blocksize {b} cannot split into "
                             f"{b}x{b} tiles ({c} is not a multiple of {b * b})")
        scaled = [None if d is None else d * b for d in (h, w)]
        return [RankedTensorType((n, None if c is None else c // (b * b), *scaled), x.element_type)]

    def fold(self, x):
        """depth_to_space(x, blocksize = 1) -> x"""
        return self.x if self.blocksize.value == 1 else None

    def interpret(self, x):
        b = self.blocksize.value
        n, c, h, w = x.shape
        if self.mode.value == "DCR":
            tiles = x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
        else:
            tiles = x.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
        return tiles.reshape(n, c // (b * b), h * b, w * b)


@nn.op
class SpaceToDepthOp(NnOp):
    """Move each blocksize x blocksize pixel tile into channels (ONNX SpaceToDepth; the inverse
    of depth_to_space in "DCR" mode).

        %y = nn.space_to_depth %x attributes {blocksize = 2 : i64} : (tensor<1x3x8x8xf32>) -> tensor<1x12x4x4xf32>
    """

    name = "nn.space_to_depth"
    x = Operand(tensor_type)
    y = Result(tensor_type)
    blocksize = Attr(IntegerAttr)

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        (x,) = operand_types
        _check_nchw(x)
        b = option(cls, properties, "blocksize")
        if b < 1:
            raise ShapeError(f"blocksize must be positive, but is {b}")
        n, c, h, w = x.shape
        for name, d in (("height", h), ("width", w)):
            if d is not None and d % b:
                raise ShapeError(f"input {name} {d} is not a multiple of blocksize {b}")
        small = [None if d is None else d // b for d in (h, w)]
        return [RankedTensorType((n, None if c is None else c * b * b, *small), x.element_type)]

    def fold(self, x):
        """space_to_depth(x, blocksize = 1) -> x"""
        return self.x if self.blocksize.value == 1 else None

    def interpret(self, x):
        b = self.blocksize.value
        n, c, h, w = x.shape
        tiles = x.reshape(n, c, h // b, b, w // b, b).transpose(0, 3, 5, 1, 2, 4)
        return tiles.reshape(n, c * b * b, h // b, w // b)
