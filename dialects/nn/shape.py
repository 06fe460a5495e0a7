"""Shape and data movement: ops that rearrange, select or repeat elements without arithmetic.

    nn.reshape nn.flatten nn.transpose nn.squeeze nn.unsqueeze nn.channel_shuffle nn.concat
    nn.split nn.slice nn.gather nn.expand nn.pad nn.tile nn.constant_of_shape nn.shape

Every size they need is an attribute (front-ends resolve ONNX's shape inputs at import), except
`nn.constant_of_shape`, whose result shape is data. A dynamic dim (`?`, None here) stays dynamic
in the result wherever the op cannot compute it. Ops that can leave their operand unchanged fold
to it (a reshape to the same type, an identity transpose, zero pads, ...).
"""

from __future__ import annotations

import numpy as np

from lamina.compiler.attributes import DenseArrayAttr, DenseElementsAttr, FloatAttr, IntegerAttr, StringAttr
from lamina.compiler.opdef import Attr, Operand, Result, TypeConstraint, VarOperand, VarResult
from lamina.compiler.types import RankedTensorType, f32, i32, i64

from .base import (NnOp, ShapeError, broadcast_shapes, integer, nn, normalize_axis, py, real,
                   string, tensor_type, with_shape)

index_tensor = TypeConstraint("a tensor of i32 or i64", lambda t: isinstance(t, RankedTensorType)
                              and t.element_type in (i32, i64))
shape_tensor = TypeConstraint("a 1-D tensor of i64", lambda t: isinstance(t, RankedTensorType)
                              and t.rank == 1 and t.element_type == i64)


def distinct_axes(axes, rank: int) -> list[int]:
    """`axes` made non-negative; ShapeError for an axis out of [-rank, rank) or named twice."""
    for a in axes:
        if not -rank <= a < rank:
            raise ShapeError(f"axis {a} is out of range for rank {rank}")
    normalized = [a % rank for a in axes]
    if len(set(normalized)) != len(normalized):
        raise ShapeError(f"axes {list(axes)} name the same axis twice")
    return normalized


def product(dims):
    """The number of elements of `dims`, or None when one of them is dynamic."""
    if any(d is None for d in dims):
        return None
    return int(np.prod(dims, dtype=np.int64))


def _shape_str(shape) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _is_static_identity(op) -> bool:
    """The result type is the operand's and fully static (so the op moved nothing)."""
    return op.x.type == op.y.type and op.x.type.has_static_shape


# ---------------------------------------------------------------------------------------------
# Same elements, another shape


@nn.op
class ReshapeOp(NnOp):
    """The same elements in row-major order, in a new shape (at most one -1, for a dynamic input).

        %y = nn.reshape %x attributes {shape = array<i64: 3, 2>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
    """

    name = "nn.reshape"
    x = Operand(tensor_type)
    y = Result(tensor_type)
    shape = Attr(DenseArrayAttr)

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        (x,) = operand_types
        shape = list(py(properties["shape"]))
        if any(d < -1 for d in shape) or shape.count(-1) > 1:
            raise ShapeError(f"shape {shape} has a negative size; only one -1 (the rest) is allowed")
        total, known = product(x.shape), product([d for d in shape if d != -1])
        if -1 in shape:
            if total is not None and (known == 0 or total % known):
                raise ShapeError(f"cannot reshape {_shape_str(x.shape)} ({total} elements) to {shape}")
            shape[shape.index(-1)] = None if total is None else total // known
        elif total is not None and total != known:
            raise ShapeError(f"cannot reshape {_shape_str(x.shape)} ({total} elements) to {shape} "
                             f"({known} elements)")
        return [with_shape(x, shape)]

    def interpret(self, x):
        return np.reshape(x, py(self.shape)).copy()

    def fold(self, x):
        if self.x.type == self.y.type:  # reshape(x) to x's own shape -> x
            return self.x
        return None


@nn.op
class FlattenOp(NnOp):
    """A 2-D view: dims before `axis` multiply into rows, the rest into columns.

        %y = nn.flatten %x attributes {axis = 2 : i64} : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
    """

    name = "nn.flatten"
    x = Operand(tensor_type)
    y = Result(tensor_type)
    axis = Attr(IntegerAttr, default=integer(1))

    @staticmethod
    def split_at(properties, rank: int) -> int:
        axis = py(properties.get("axis"), 1)
        if not -rank <= axis <= rank:
            raise ShapeError(f"axis {axis} is out of range for rank {rank} (flatten takes {-rank} to {rank})")
        return axis + rank if axis < 0 else axis

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        (x,) = operand_types
        axis = cls.split_at(properties, x.rank)
        return [with_shape(x, (product(x.shape[:axis]), product(x.shape[axis:])))]

    def interpret(self, x):
        axis = self.split_at(self.properties, x.ndim)
        return x.reshape(product(x.shape[:axis]), product(x.shape[axis:])).copy()

    def fold(self, x):
        if self.x.type == self.y.type:  # flatten of a 2-D tensor at axis 1 -> x
            return self.x
        return None


@nn.op
class TransposeOp(NnOp):
    """Permute the dims: result dim i is operand dim `perm[i]` (default: reversed).

        %y = nn.transpose %x attributes {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
    """

    name = "nn.transpose"
    x = Operand(tensor_type)
    y = Result(tensor_type)
    perm = Attr(DenseArrayAttr, optional=True, doc="default: the dims reversed")

    @staticmethod
    def permutation(properties, rank: int) -> list[int]:
        perm = list(py(properties.get("perm"), range(rank - 1, -1, -1)))
        if sorted(perm) != list(range(rank)):
            raise ShapeError(f"perm {perm} is not a permutation of the {rank} dims 0..{rank - 1}")
        return perm

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        (x,) = operand_types
        return [with_shape(x, [x.shape[p] for p in cls.permutation(properties, x.rank)])]

    def interpret(self, x):
        return np.transpose(x, self.permutation(self.properties, x.ndim)).copy()

    def fold(self, x):
        perm = self.permutation(self.properties, self.x.type.rank)
        if perm == sorted(perm):  # transpose(x) with the identity permutation -> x
            return self.x
        return None


@nn.op
class SqueezeOp(NnOp):
    """Remove size-1 dims: those in `axes`, or every one when `axes` is empty.

        %y = nn.squeeze %x attributes {axes = array<i64: 0>} : (tensor<1x3xf32>) -> tensor<3xf32>
    """

    name = "nn.squeeze"
    x = Operand(tensor_type)
    y = Result(tensor_type)
    axes = Attr(DenseArrayAttr)

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        (x,) = operand_types
        axes = py(properties["axes"])
        if not axes:
            if not x.has_static_shape:
                raise ShapeError(f"squeeze without axes needs a static shape, not {_shape_str(x.shape)} "
                                 "(name the axes to remove)")
            return [with_shape(x, [d for d in x.shape if d != 1])]
        axes = distinct_axes(axes, x.rank)
        for a in axes:
            if x.shape[a] not in (1, None):
                raise ShapeError(f"cannot squeeze axis {a} of size {x.shape[a]}; only size-1 axes go")
        return [with_shape(x, [d for i, d in enumerate(x.shape) if i not in axes])]

    def interpret(self, x):
        axes = py(self.axes)
        return np.squeeze(x, axis=tuple(distinct_axes(axes, x.ndim)) if axes else None).copy()

    def fold(self, x):
        if self.x.type == self.y.type:  # squeeze(x) that removes nothing -> x
            return self.x
        return None


@nn.op
class UnsqueezeOp(NnOp):
    """Insert size-1 dims at `axes` (positions in the result).

        %y = nn.unsqueeze %x attributes {axes = array<i64: 0, -1>} : (tensor<3xf32>) -> tensor<1x3x1xf32>
    """

    name = "nn.unsqueeze"
    x = Operand(tensor_type)
    y = Result(tensor_type)
    axes = Attr(DenseArrayAttr)

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        (x,) = operand_types
        axes = py(properties["axes"])
        new = set(distinct_axes(axes, x.rank + len(axes)))
        dims = iter(x.shape)
        return [with_shape(x, [1 if i in new else next(dims) for i in range(x.rank + len(axes))])]

    def interpret(self, x):
        axes = py(self.axes)
        return np.expand_dims(x, tuple(distinct_axes(axes, x.ndim + len(axes)))).copy()

    def fold(self, x):
        if self.x.type == self.y.type:  # unsqueeze(x) with no axes -> x
            return self.x
        return None


@nn.op
class ChannelShuffleOp(NnOp):
    """Interleave the channels of `groups` groups (ShuffleNet's channel shuffle; NCNN's
    ShuffleChannel): x [N, C, ...] viewed as [N, groups, C / groups, ...], the two group axes
    swapped, and viewed back, so output channel c is input channel
    (c % groups) * (C / groups) + c // groups.

        %y = nn.channel_shuffle %x attributes {groups = 2 : i64} : (tensor<1x8x4x4xf32>) -> tensor<1x8x4x4xf32>
    """

    name = "nn.channel_shuffle"
    x = Operand(tensor_type)
    y = Result(tensor_type)
    groups = Attr(IntegerAttr)

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        (x,) = operand_types
        groups = py(properties["groups"])
        if x.rank < 2:
            raise ShapeError(f"input must have a channel axis (rank 2 or more), but has rank {x.rank}")
        if groups < 1:
            raise ShapeError(f"groups must be positive, but is {groups}")
        c = x.shape[1]
        if c is not None and c % groups:
            raise ShapeError(f"groups {groups} does not divide the input's {c} channels")
        return [x]

    def interpret(self, x):
        n, c, *rest = x.shape
        groups = py(self.groups)
        return x.reshape(n, groups, c // groups, *rest).swapaxes(1, 2).reshape(x.shape).copy()

    def fold(self, x):
        if py(self.groups) == 1 or self.x.type.shape[1] == py(self.groups):
            return self.x  # one group, or groups of one channel: nothing moves
        return None


# ---------------------------------------------------------------------------------------------
# Joining and splitting


@nn.op
class ConcatOp(NnOp):
    """Join operands along `axis`; the other dims must agree.

        %y = nn.concat %x0, %x1 attributes {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2x5xf32>) -> tensor<2x8xf32>
    """

    name = "nn.concat"
    inputs = VarOperand(tensor_type)
    y = Result(tensor_type)
    axis = Attr(IntegerAttr)

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        if not operand_types:
            raise ShapeError("has no operands; it needs at least one")
        first = operand_types[0]
        if first.rank == 0:
            raise ShapeError("cannot concatenate rank-0 tensors (unsqueeze them first)")
        for i, t in enumerate(operand_types[1:], 1):
            if t.rank != first.rank:
                raise ShapeError(f"operand x{i} has rank {t.rank} but x0 has rank {first.rank}; "
                                 "all operands need the same rank")
            if t.element_type != first.element_type:
                raise ShapeError(f"operand x{i} has element type {t.element_type} but x0 has "
                                 f"{first.element_type}; they must match (insert an nn.cast)")
        axis = normalize_axis(py(properties["axis"]), first.rank)
        shape = []
        for dim in range(first.rank):
            dims = [t.shape[dim] for t in operand_types]
            if dim == axis:
                shape.append(None if None in dims else sum(dims))
                continue
            known = sorted({d for d in dims if d is not None})
            if len(known) > 1:
                raise ShapeError(f"operands disagree on dimension {dim} ({' vs '.join(map(str, known))}); "
                                 f"only the concatenation axis {axis} may differ")
            shape.append(known[0] if known else None)
        return [with_shape(first, shape)]

    def interpret(self, *inputs):
        return np.concatenate(inputs, axis=py(self.axis))

    def fold(self, *inputs):
        if len(self.inputs) == 1 and self.inputs[0].type == self.y.type:  # concat(x) -> x
            return self.inputs[0]
        return None


@nn.op
class SplitOp(NnOp):
    """Cut `x` along `axis` into consecutive pieces of the given `sizes`, one result each.

        %y0, %y1 = nn.split %x attributes {axis = 1 : i64, sizes = array<i64: 2, 4>} : (tensor<3x6xf32>) -> (tensor<3x2xf32>, tensor<3x4xf32>)
    """

    name = "nn.split"
    x = Operand(tensor_type)
    outputs = VarResult(tensor_type)
    axis = Attr(IntegerAttr, default=integer(0))
    sizes = Attr(DenseArrayAttr)

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        (x,) = operand_types
        if x.rank == 0:
            raise ShapeError("cannot split a rank-0 tensor")
        axis = normalize_axis(py(properties.get("axis"), 0), x.rank)
        sizes = py(properties["sizes"])
        if not sizes or any(s < 0 for s in sizes):
            raise ShapeError(f"sizes {list(sizes)} must be one or more sizes, none negative")
        if x.shape[axis] is not None and sum(sizes) != x.shape[axis]:
            raise ShapeError(f"sizes {list(sizes)} add up to {sum(sizes)}, but axis {axis} has size "
                             f"{x.shape[axis]}")
        return [with_shape(x, x.shape[:axis] + (s,) + x.shape[axis + 1:]) for s in sizes]

    def interpret(self, x):
        cuts = np.cumsum(py(self.sizes))[:-1]
        return tuple(piece.copy() for piece in np.split(x, cuts, axis=py(self.axis)))

    def fold(self, x):
        if len(self.outputs) == 1 and self.outputs[0].type == self.x.type:  # split(x) in one piece -> x
            return [self.x]
        return None


# ---------------------------------------------------------------------------------------------
# Selecting


def slice_bounds(start: int, end: int, step: int, dim: int) -> tuple[int, int, int]:
    """ONNX Slice on one axis of size `dim`: (first index, end index or -1, element count).

    Negative indices count from the end; then the start is clamped to [0, dim] (to [0, dim - 1]
    for a negative step) and the end to [0, dim] (to [-1, dim - 1]), so -1 means "past the front".
    """
    start, end = start + dim if start < 0 else start, end + dim if end < 0 else end
    if step > 0:
        start, end = min(max(start, 0), dim), min(max(end, 0), dim)
        return start, end, max(0, -(-(end - start) // step))
    start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
    return start, end, max(0, -(-(start - end) // -step))


@nn.op
class SliceOp(NnOp):
    """Elements `starts[i]:ends[i]:steps[i]` along `axes[i]`, with ONNX's clamping.

        %y = nn.slice %x attributes {axes = array<i64: 1>, ends = array<i64: -1>, starts = array<i64: 1>, steps = array<i64: 1>} : (tensor<2x5xf32>) -> tensor<2x3xf32>
    """

    name = "nn.slice"
    x = Operand(tensor_type)
    y = Result(tensor_type)
    starts = Attr(DenseArrayAttr)
    ends = Attr(DenseArrayAttr)
    axes = Attr(DenseArrayAttr)
    steps = Attr(DenseArrayAttr)

    @staticmethod
    def per_axis(properties, rank: int) -> dict[int, tuple[int, int, int]]:
        """axis -> (start, end, step), checked."""
        starts, ends, axes, steps = (py(properties[k]) for k in ("starts", "ends", "axes", "steps"))
        if not len(starts) == len(ends) == len(axes) == len(steps):
            raise ShapeError(f"starts, ends, axes and steps have {len(starts)}, {len(ends)}, {len(axes)} "
                             f"and {len(steps)} values; they need one each per sliced axis")
        if 0 in steps:
            raise ShapeError(f"steps {list(steps)} has a 0; a step moves at least one element")
        return dict(zip(distinct_axes(axes, rank), zip(starts, ends, steps)))

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        (x,) = operand_types
        shape = list(x.shape)
        for axis, (start, end, step) in cls.per_axis(properties, x.rank).items():
            if shape[axis] is not None:
                shape[axis] = slice_bounds(start, end, step, shape[axis])[2]
        return [with_shape(x, shape)]

    def interpret(self, x):
        index = [slice(None)] * x.ndim
        for axis, (start, end, step) in self.per_axis(self.properties, x.ndim).items():
            first, stop, _ = slice_bounds(start, end, step, x.shape[axis])
            index[axis] = slice(first, None if stop < 0 else stop, step)
        return x[tuple(index)].copy()

    def fold(self, x):
        steps = py(self.steps)
        if _is_static_identity(self) and all(s > 0 for s in steps):  # slice of everything -> x
            return self.x
        return None


@nn.op
class GatherOp(NnOp):
    """Pick entries of `x` along `axis` at `indices` (negative ones count from the end).

        %y = nn.gather %x, %indices attributes {axis = 0 : i64} : (tensor<5x3xf32>, tensor<2xi64>) -> tensor<2x3xf32>
    """

    name = "nn.gather"
    x = Operand(tensor_type)
    indices = Operand(index_tensor)
    y = Result(tensor_type)
    axis = Attr(IntegerAttr, default=integer(0))

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        x, indices = operand_types
        if x.rank == 0:
            raise ShapeError("cannot gather from a rank-0 tensor")
        axis = normalize_axis(py(properties.get("axis"), 0), x.rank)
        return [with_shape(x, x.shape[:axis] + indices.shape + x.shape[axis + 1:])]

    def interpret(self, x, indices):
        axis = normalize_axis(py(self.axis), x.ndim)
        indices = np.where(indices < 0, indices + x.shape[axis], indices)
        return np.take(x, indices, axis=axis)


# ---------------------------------------------------------------------------------------------
# Repeating and padding


@nn.op
class ExpandOp(NnOp):
    """Broadcast `x` with `shape` (both ways, as numpy does: a 1 in `shape` keeps x's dim).

        %y = nn.expand %x attributes {shape = array<i64: 2, 1, 4>} : (tensor<3x1xf32>) -> tensor<2x3x4xf32>
    """

    name = "nn.expand"
    x = Operand(tensor_type)
    y = Result(tensor_type)
    shape = Attr(DenseArrayAttr)

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        (x,) = operand_types
        shape = py(properties["shape"])
        if any(d < 0 for d in shape):
            raise ShapeError(f"shape {list(shape)} has a negative size")
        return [with_shape(x, broadcast_shapes(x.shape, shape))]

    def interpret(self, x):
        return np.broadcast_to(x, np.broadcast_shapes(x.shape, py(self.shape))).copy()

    def fold(self, x):
        if self.x.type == self.y.type:  # expand(x) to x's own shape -> x
            return self.x
        return None


PAD_MODES = ("constant", "reflect", "edge")


@nn.op
class PadOp(NnOp):
    """Pad (or, with negative pads, crop) each axis; `pads` is all begins, then all ends.

        %y = nn.pad %x attributes {pads = array<i64: 0, 1, 0, 1>, value = 1.000000e+00 : f32} : (tensor<2x3xf32>) -> tensor<2x5xf32>
    """

    name = "nn.pad"
    x = Operand(tensor_type)
    y = Result(tensor_type)
    pads = Attr(DenseArrayAttr)
    mode = Attr(StringAttr, default=string("constant"))
    value = Attr(FloatAttr, default=real(0.0), doc="the padding value of mode constant")

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        (x,) = operand_types
        pads, mode = py(properties["pads"]), py(properties.get("mode"), "constant")
        if mode not in PAD_MODES:
            raise ShapeError(f'mode is "{mode}"; it must be "constant", "reflect" or "edge"')
        if len(pads) != 2 * x.rank:
            raise ShapeError(f"pads has {len(pads)} values; a rank-{x.rank} tensor needs {2 * x.rank} "
                             "(all begins, then all ends)")
        shape = []
        for axis, (d, begin, end) in enumerate(zip(x.shape, pads[:x.rank], pads[x.rank:])):
            if d is None:
                shape.append(None)
                continue
            if d + begin + end < 0:
                raise ShapeError(f"pads {list(pads)} crop axis {axis} of size {d} below zero")
            if mode == "reflect" and max(begin, end) >= d:
                raise ShapeError(f"reflect pads of axis {axis} must be smaller than its size {d}")
            if mode == "edge" and d == 0 and max(begin, end) > 0:
                raise ShapeError(f"edge padding of axis {axis} needs a nonempty axis")
            shape.append(d + begin + end)
        return [with_shape(x, shape)]

    def interpret(self, x):
        pads, mode = py(self.pads), py(self.mode)
        begins, ends = pads[:x.ndim], pads[x.ndim:]
        widths = [(max(b, 0), max(e, 0)) for b, e in zip(begins, ends)]
        extra = {"constant_values": py(self.value)} if mode == "constant" else {}
        y = np.pad(x, widths, mode=mode, **extra)
        crop = tuple(slice(-min(b, 0), n + min(e, 0)) for n, b, e in zip(y.shape, begins, ends))
        return y[crop].copy()

    def fold(self, x):
        if not any(py(self.pads)):  # pad(x) by zero everywhere -> x
            return self.x
        return None


@nn.op
class TileOp(NnOp):
    """Repeat `x` `repeats[i]` times along each axis i.

        %y = nn.tile %x attributes {repeats = array<i64: 2, 1>} : (tensor<2x3xf32>) -> tensor<4x3xf32>
    """

    name = "nn.tile"
    x = Operand(tensor_type)
    y = Result(tensor_type)
    repeats = Attr(DenseArrayAttr)

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        (x,) = operand_types
        repeats = py(properties["repeats"])
        if len(repeats) != x.rank or any(r < 0 for r in repeats):
            raise ShapeError(f"repeats {list(repeats)} must give one count (0 or more) for each of "
                             f"the {x.rank} dims")
        return [with_shape(x, [None if d is None else d * r for d, r in zip(x.shape, repeats)])]

    def interpret(self, x):
        return np.tile(x, py(self.repeats))

    def fold(self, x):
        if _is_static_identity(self):  # tile(x) once along every axis -> x
            return self.x
        return None


# ---------------------------------------------------------------------------------------------
# Shapes as data


@nn.op
class ConstantOfShapeOp(NnOp):
    """A tensor whose shape is the value of `shape`, filled with `value` (default 0.0 : f32).

        %y = nn.constant_of_shape %shape attributes {value = dense<1> : tensor<1xi32>} : (tensor<2xi64>) -> tensor<2x3xi32>
    """

    name = "nn.constant_of_shape"
    shape = Operand(shape_tensor)
    y = Result(tensor_type)
    value = Attr(DenseElementsAttr, optional=True, doc="one element; default 0.0 : f32")

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        return None  # the dims are data: build with result_types=

    def fill(self) -> np.ndarray:
        """The fill value as a 0-d array of the result's dtype."""
        if self.value is None:
            return np.zeros((), np.float32)
        return self.value.array.reshape(-1)[0]

    def verify(self):
        (length,) = self.shape.type.shape
        if length is None:
            return "shape operand has a dynamic length; the result's rank must be known"
        if length != self.y.type.rank:
            return f"shape operand has {length} elements but the result has rank {self.y.type.rank}"
        if self.value is not None and self.value.array.size != 1:
            return f"value has {self.value.array.size} elements; it needs exactly one"
        element = self.value.type.element_type if self.value is not None else f32
        if element != self.y.type.element_type:
            return f"value has element type {element} but the result has {self.y.type.element_type}"
        return None

    def interpret(self, shape):
        return np.full(tuple(int(d) for d in shape), self.fill(), self.y.type.element_type.numpy_dtype)

    def fold(self, shape):
        if not isinstance(shape, DenseElementsAttr) or tuple(shape.array.tolist()) != self.y.type.shape:
            return None  # shape not constant (or not the result's): nothing to fold
        return DenseElementsAttr(self.y.type, self.interpret(shape.array))


@nn.op
class ShapeOp(NnOp):
    """The dims `start:end` of `x`'s shape, as a 1-D i64 tensor (clamped as in ONNX).

        %y = nn.shape %x attributes {start = 1 : i64} : (tensor<2x3x4xf32>) -> tensor<2xi64>
    """

    name = "nn.shape"
    x = Operand(tensor_type)
    y = Result(shape_tensor)
    start = Attr(IntegerAttr, default=integer(0))
    end = Attr(IntegerAttr, optional=True, doc="default: the rank")

    @staticmethod
    def dims(properties, rank: int) -> slice:
        """The slice of the shape: negative bounds count from the end, then clamp to [0, rank]."""
        start, end = py(properties.get("start"), 0), py(properties.get("end"), rank)
        start, end = (min(max(v + rank if v < 0 else v, 0), rank) for v in (start, end))
        return slice(start, max(start, end))

    @classmethod
    def infer_result_types(cls, operand_types, properties):
        (x,) = operand_types
        return [RankedTensorType((len(x.shape[cls.dims(properties, x.rank)]),), i64)]

    def interpret(self, x):
        return np.array(x.shape[self.dims(self.properties, x.ndim)], np.int64)

    def fold(self, x):
        dims = self.x.type.shape[self.dims(self.properties, self.x.type.rank)]
        if None in dims:
            return None
        return DenseElementsAttr(self.y.type, np.array(dims, np.int64))  # shape of a static tensor

