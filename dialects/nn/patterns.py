"""Elimination patterns for the nn dialect: rewrites that remove ops which change nothing, or
merge pairs of ops that undo each other, without changing any result.

Each pattern is one class, named for what it does, with its rule `before -> after` as its
docstring and a note of where the idea comes from. Guard clauses come first; every shape guard
makes sure the replacement has exactly the type of what it replaces. After the op-type guard a
pattern that gives up names the precondition that failed (`return rewriter.fail(op, "...")`),
which `--explain-patterns` reports. Importing this module
attaches the patterns to the op classes (`canonicalize` collects them from there).

Eliminations that are folds of a single op live beside the op (dialects/nn/*.py) and are not
repeated here: identity, dropout, a cast to its own type, single-input concat/sum/split, and
slice / expand / pad / tile / transpose / reshape / squeeze / unsqueeze that change nothing.
Unused constants are erased by the greedy driver itself (nn ops are Pure).
"""

from __future__ import annotations

from lamina.compiler.attributes import DenseElementsAttr
from lamina.compiler.rewrite import RewritePattern

from .base import ConstantOp, ShapeError, ints, normalize_axis, py
from .conv import AvgPool2DOp, GlobalAvgPoolOp, GlobalMaxPoolOp, MaxPool2DOp
from .shape import (ConcatOp, FlattenOp, ReshapeOp, SliceOp, SplitOp, SqueezeOp, TransposeOp,
                    UnsqueezeOp, distinct_axes, slice_bounds)


def producer(value, *classes):
    """The op that defines `value` if it is one of `classes`, else None."""
    op = getattr(value, "op", None)
    return op if isinstance(op, classes) else None


def infers(op_class, operand_types, properties, expected) -> bool:
    """Whether `op_class` on these operand types and properties has exactly the result type
    `expected` (the guard every rewrite that builds a new op passes first)."""
    try:
        return op_class.infer_result_types(list(operand_types), dict(properties)) == [expected]
    except (ShapeError, KeyError, ValueError):
        return False


def reshape_target(shape) -> tuple | None:
    """A reshape's `shape` attribute for a result shape: dims as they are, one dynamic dim as -1;
    None when it cannot be said (two dynamic dims, or -1 beside a 0)."""
    if shape.count(None) > 1 or (None in shape and 0 in shape):
        return None
    return tuple(-1 if d is None else d for d in shape)


# ---------------------------------------------------------------------------------------------
# Ops that change nothing


class EliminateUnitPool(RewritePattern):
    """max_pool2d/avg_pool2d(x) {kernel 1x1, strides 1x1, no pads} -> x

    A 1x1 window with stride 1 and no padding picks every pixel once (the average of one pixel
    is the pixel, dilation and ceil_mode change nothing). From NCNN's ncnnoptimize
    (eliminate_pooling1x1)."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, (MaxPool2DOp, AvgPool2DOp)):
            return False
        if tuple(py(op.kernel_shape)) != (1, 1) or tuple(py(op.strides)) != (1, 1):
            return rewriter.fail(op, "unit-window-and-stride")
        if any(py(op.pads)):
            return rewriter.fail(op, "no-pads")
        if op.x.type != op.y.type:
            return rewriter.fail(op, "same-type")
        rewriter.replace_op(op, [op.x])
        return True


# ---------------------------------------------------------------------------------------------
# Reshapes and flattens


class FlattenAfterGlobalPoolToReshape(RewritePattern):
    """flatten(global_avg_pool/global_max_pool(x)) -> reshape(global_pool(x)) {shape = [N, C]}

    After a global pool H and W are 1, so the flatten is a plain reshape to the result shape
    (which then merges with any reshape that follows). From NCNN's ncnnoptimize
    (eliminate_flatten_after_global_pooling, eliminate_reshape_after_global_pooling)."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, FlattenOp):
            return False
        if producer(op.x, GlobalAvgPoolOp, GlobalMaxPoolOp) is None:
            return rewriter.fail(op, "input-from-global-pool")
        shape = reshape_target(op.y.type.shape)
        if shape is None or not infers(ReshapeOp, [op.x.type], {"shape": ints(shape)}, op.y.type):
            return rewriter.fail(op, "result-type")
        rewriter.replace_op(op, ReshapeOp(operands=[op.x], result_types=[op.y.type],
                                          properties={"shape": ints(shape)}, location=op.location))
        return True


class MergeConsecutiveReshapes(RewritePattern):
    """reshape(reshape/flatten(x)) -> reshape(x)   (the last reshape's shape is kept)

    Only the last shape matters: a reshape keeps the row-major order of the elements. From ONNX
    Runtime (ReshapeFusion / the consecutive-reshape rule) and MNN (merge consecutive reshapes)."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, ReshapeOp):
            return False
        inner = producer(op.x, ReshapeOp, FlattenOp)
        if inner is None:
            return rewriter.fail(op, "input-from-reshape")
        if not infers(ReshapeOp, [inner.x.type], op.properties, op.y.type):
            return rewriter.fail(op, "result-type")
        with rewriter.modify(op):
            op.set_operand(0, inner.x)
        return True


class FlattenAfterReshapeToReshape(RewritePattern):
    """flatten(reshape/flatten(x)) -> reshape(x) {shape = the flatten's result shape}

    The flatten is the last of the chain, so it decides the shape; a flatten's split point
    depends on its input's shape, so the merged op is a reshape to the flatten's result.
    From ONNX Runtime and MNN (merge consecutive reshapes)."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, FlattenOp):
            return False
        inner = producer(op.x, ReshapeOp, FlattenOp)
        if inner is None:
            return rewriter.fail(op, "input-from-reshape")
        shape = reshape_target(op.y.type.shape)
        if shape is None or not infers(ReshapeOp, [inner.x.type], {"shape": ints(shape)}, op.y.type):
            return rewriter.fail(op, "result-type")
        rewriter.replace_op(op, ReshapeOp(operands=[inner.x], result_types=[op.y.type],
                                          properties={"shape": ints(shape)}, location=op.location))
        return True


# ---------------------------------------------------------------------------------------------
# Inverse pairs


class EliminateSqueezeOfUnsqueeze(RewritePattern):
    """squeeze(unsqueeze(x) {axes = A}) {axes = A} -> x

    Removing the size-1 dims just inserted gives x back. From ONNX Runtime
    (the squeeze/unsqueeze pair in its transpose optimizer) and MNN."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, SqueezeOp):
            return False
        inner = producer(op.x, UnsqueezeOp)
        if inner is None:
            return rewriter.fail(op, "input-from-unsqueeze")
        squeezed, inserted = py(op.axes), py(inner.axes)
        if not squeezed or not inserted:  # squeeze without axes removes every size-1 dim, x's own included
            return rewriter.fail(op, "explicit-axes")
        rank = inner.y.type.rank
        if set(distinct_axes(squeezed, rank)) != set(distinct_axes(inserted, rank)):
            return rewriter.fail(op, "same-axes")
        if inner.x.type != op.y.type:
            return rewriter.fail(op, "result-type")
        rewriter.replace_op(op, [inner.x])
        return True


class EliminateUnsqueezeOfSqueeze(RewritePattern):
    """unsqueeze(squeeze(x) {axes = A}) {axes = A} -> x

    Re-inserting the size-1 dims just removed, at the same places, gives x back (x's dims there
    must be statically 1: a dynamic dim would change the type). From MNN and ONNX Runtime."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, UnsqueezeOp):
            return False
        inner = producer(op.x, SqueezeOp)
        if inner is None:
            return rewriter.fail(op, "input-from-squeeze")
        inserted, squeezed = py(op.axes), py(inner.axes)
        if not squeezed or not inserted:
            return rewriter.fail(op, "explicit-axes")
        if inner.x.type != op.y.type:  # same rank, and x's squeezed dims statically 1
            return rewriter.fail(op, "result-type")
        rank = op.y.type.rank  # squeeze axes index x, unsqueeze axes index the result: both rank
        if set(distinct_axes(squeezed, rank)) != set(distinct_axes(inserted, rank)):
            return rewriter.fail(op, "same-axes")
        rewriter.replace_op(op, [inner.x])
        return True


class MergeConsecutiveTransposes(RewritePattern):
    """transpose(transpose(x) {perm = P}) {perm = Q} -> transpose(x) {perm = [P[q] for q in Q]}
    and, when that is the identity, -> x

    Two permutations compose into one; a pair of inverse permutations cancels. From ONNX
    Runtime (TransposeOptimizer), MNN and NCNN (eliminate/fuse transpose pairs)."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, TransposeOp):
            return False
        inner = producer(op.x, TransposeOp)
        if inner is None:
            return rewriter.fail(op, "input-from-transpose")
        rank = inner.x.type.rank
        first = TransposeOp.permutation(inner.properties, rank)
        second = TransposeOp.permutation(op.properties, rank)
        perm = [first[q] for q in second]
        if perm == list(range(rank)):
            if inner.x.type != op.y.type:
                return rewriter.fail(op, "result-type")
            rewriter.replace_op(op, [inner.x])
            return True
        if not infers(TransposeOp, [inner.x.type], {"perm": ints(perm)}, op.y.type):
            return rewriter.fail(op, "result-type")
        rewriter.replace_op(op, TransposeOp(operands=[inner.x], result_types=[op.y.type],
                                            properties={"perm": ints(perm)}, location=op.location))
        return True


class SliceOfConcatToOperand(RewritePattern):
    """slice(concat(x0, ..., xn) {axis = a}) {axes = [a], exactly xi's range, step 1} -> xi

    A slice that cuts out exactly one operand of a concat undoes it; once every slice does, the
    concat is dead. From ONNX Runtime and MNN (concat followed by slice/split elimination)."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, SliceOp):
            return False
        concat = producer(op.x, ConcatOp)
        if concat is None:
            return rewriter.fail(op, "input-from-concat")
        rank = concat.y.type.rank
        axis = normalize_axis(py(concat.axis), rank)
        try:
            per_axis = SliceOp.per_axis(op.properties, rank)
        except ShapeError:
            return rewriter.fail(op, "valid-slice")
        if set(per_axis) != {axis}:  # the slice must cut only along the concatenation axis
            return rewriter.fail(op, "slices-concat-axis-only")
        start, end, step = per_axis[axis]
        sizes = [t.shape[axis] for t in concat.operand_types]
        if step != 1 or None in sizes:
            return rewriter.fail(op, "unit-step-static-sizes")
        first, stop, _ = slice_bounds(start, end, step, sum(sizes))
        offset = 0
        for value, size in zip(concat.inputs, sizes):
            if (offset, offset + size) == (first, stop) and value.type == op.y.type:
                rewriter.replace_op(op, [value])
                return True
            offset += size
        return rewriter.fail(op, "cuts-exactly-one-operand")


class SplitOfConcatToOperands(RewritePattern):
    """split(concat(x0, ..., xn) {axis = a}) {axis = a, sizes = the xi's sizes} -> x0, ..., xn

    A split into exactly the pieces a concat joined gives them back. From ONNX Runtime and MNN
    (concat followed by split elimination)."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, SplitOp):
            return False
        concat = producer(op.x, ConcatOp)
        if concat is None:
            return rewriter.fail(op, "input-from-concat")
        if len(concat.inputs) != len(op.outputs):
            return rewriter.fail(op, "same-piece-count")
        rank = concat.y.type.rank
        if normalize_axis(py(op.axis), rank) != normalize_axis(py(concat.axis), rank):
            return rewriter.fail(op, "same-axis")
        if [v.type for v in concat.inputs] != [r.type for r in op.outputs]:
            return rewriter.fail(op, "same-pieces")  # sizes differ (or a dynamic size)
        rewriter.replace_op(op, list(concat.inputs))
        return True


# ---------------------------------------------------------------------------------------------
# Constants


class FoldUnsqueezeOfConstant(RewritePattern):
    """unsqueeze(constant c) -> constant (c with the new size-1 dims)

    Only when the constant has no other user, so no weight is stored twice. From ONNX Runtime
    (UnsqueezeElimination) and MNN."""

    def match_and_rewrite(self, op, rewriter):
        if not isinstance(op, UnsqueezeOp):
            return False
        const = producer(op.x, ConstantOp)
        if const is None:
            return rewriter.fail(op, "input-constant")
        if len(const.result.uses) != 1:
            return rewriter.fail(op, "constant-single-use")
        if not op.y.type.has_static_shape:
            return rewriter.fail(op, "static-shape")
        value = DenseElementsAttr(op.y.type, const.value.array.reshape(op.y.type.shape))
        rewriter.replace_op(op, ConstantOp(result_types=[op.y.type], properties={"value": value},
                                           location=op.location))
        return True


def _attach(op_class, *patterns):
    op_class.canonicalization_patterns = tuple(op_class.canonicalization_patterns) + patterns


_attach(MaxPool2DOp, EliminateUnitPool())
_attach(AvgPool2DOp, EliminateUnitPool())
_attach(FlattenOp, FlattenAfterGlobalPoolToReshape(), FlattenAfterReshapeToReshape())
_attach(ReshapeOp, MergeConsecutiveReshapes())
_attach(SqueezeOp, EliminateSqueezeOfUnsqueeze())
_attach(UnsqueezeOp, EliminateUnsqueezeOfSqueeze(), FoldUnsqueezeOfConstant())
_attach(TransposeOp, MergeConsecutiveTransposes())
_attach(SliceOp, SliceOfConcatToOperand())
_attach(SplitOp, SplitOfConcatToOperands())
