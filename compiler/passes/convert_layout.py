"""convert-layout: run the image ops of a graph in another data layout, NHWC or NCHW{c}c, with
layout transforms only where the graph has to change layout.

    convert-layout{to=NHWC}            channels innermost
    convert-layout{to=NCHWc c=8}       channels in blocks of 8, the block innermost (NCHW8c);
                                       `to=NCHW8c` says the same

    %y = nn.conv2d %x, %w : (tensor<1x16x8x8xf32>, tensor<16x16x3x3xf32>) -> tensor<1x16x6x6xf32>
    %r = nn.relu %y ...
    %z = nn.conv2d %r, %w2 ...
->  (to=NCHWc c=8)
    %0 = nn.layout_transform %x {src = "NCHW", dst = "NCHW8c"} : ... -> tensor<1x2x8x8x8xf32>
    %w8 = nn.constant <w packed to OIHW8i8o> : () -> tensor<2x2x3x3x8x8xf32>
    %1 = nn.conv2d %0, %w8 {layout = "NCHW8c", weight_layout = "OIHW8i8o"} ...
    %2 = nn.relu %1 ...
    %3 = nn.conv2d %2, %w2_8 {layout = "NCHW8c", ...} ...
    %z = nn.layout_transform %3 {src = "NCHW8c", dst = "NCHW"} ...

The idea is TVM's ConvertLayout (Relay/Relax) and AlterOpLayout (conv2d_NCHWc with packed
weights), and ONNX Runtime's NHWC transformer and transpose optimizer (push transposes through
layout-agnostic ops, cancel inverse pairs).

The algorithm, over each function's body in order:
  1. Anchors: an NCHW `nn.conv2d` is converted (a layout_transform of its input, unless that
     input is converted already; its OIHW weight transformed to the packed form the target's
     kernel reads, "OIHW{c}i{c}o" for group 1 and "OIHW{c}o" for depthwise in NCHW{c}c; OIHW
     kept in NHWC, where the CPU build packs it itself).
  2. Followers: pools, global pools and batch_norm are converted when their input is already in
     the target layout (converting a lone pool would only add two transforms); so are
     layout-agnostic ops: elementwise ops (unary, binary, where, sum, clip, ...) with a converted
     operand, whose other operands are transformed too (a constant [1, C, 1, 1] bias becomes
     [1, C/c, 1, 1, c] or [1, 1, 1, C] once fold runs; lower-rank operands are first reshaped to
     4-D), and concat when every operand can be (along C in NCHW{c}c: every C a multiple of c).
  3. An op cannot be converted (reshape, flatten, softmax, gemm, resize, ...) or a value leaves
     the function: the converted value is transformed back to NCHW once, and those uses read
     that. The NCHW originals of converted ops are erased.
  4. The new transforms and reshapes of constants (weights, biases) are folded into constants,
     and pairs of transforms that undo each other cancel (the op's canonicalization patterns).

NCHW{c}c needs C divisible by c: a conv, pool or norm whose channels (input or output) are not a
multiple of c stays NCHW with transforms around it (ResNet's first conv, 3 channels, does), so
only the rest of the graph changes. Ops already in a layout other than NCHW are left as they are.

Statistics: `ops converted`, `transforms inserted`, `constants folded`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..attributes import DenseElementsAttr
from ..errors import PassError
from ..ir import Operation, Value
from ..opdef import ConstantLike, Elementwise
from ..types import RankedTensorType
from .pass_base import Pass, register_pass


@register_pass
@dataclass(frozen=True)
class ConvertLayoutPass(Pass):
    """Convert conv2d, pools, batch_norm and the layout-agnostic ops around them from NCHW to
    NHWC or NCHW{c}c, with layout transforms only at the boundaries."""

    name = "convert-layout"
    summary = "run conv/pool/norm ops in NHWC or NCHW{c}c (to=NHWC | to=NCHWc c=8): transforms only at the edges"

    to: str = "NHWC"
    c: int = 8

    def target(self) -> str:
        """The target layout's name: "NHWC" or "NCHW{c}c"."""
        from lamina.dialects.nn.layout import blocked_channels

        to = self.to.strip().rstrip(",")  # `{to=NCHWc, c=8}` as the issue writes it
        if to == "NHWC":
            return to
        if to == "NCHWc":
            if self.c < 1:
                raise PassError(f"convert-layout: c must be a positive block size, not {self.c}")
            return f"NCHW{self.c}c"
        if blocked_channels(to) is not None:
            return to
        raise PassError(f"convert-layout: unknown target layout '{self.to}'",
                        hint="use to=NHWC, or to=NCHWc with c=<block size> (to=NCHW8c also works)")

    def run(self, module: Operation) -> None:
        from lamina.compiler.rewrite import apply_patterns_greedily
        from lamina.dialects.nn.layout import LayoutTransformOp

        target = self.target()
        for fn in [op for op in module.walk() if op.name == "func.func" and op.regions]:
            for block in fn.regions[0].blocks:
                _Converter(block, target, self.statistics).run()
            apply_patterns_greedily(fn, LayoutTransformOp.canonicalization_patterns, fold=False,
                                    stats=self.statistics)


# ---------------------------------------------------------------------------------------------
# One function body


class _Converter:
    """Converts one block: `converted` maps an original NCHW value to the same tensor in the
    target layout."""

    def __init__(self, block, target: str, statistics):
        from lamina.dialects.nn.layout import Layout, blocked_channels

        self.block = block
        self.target = target
        self.layout = Layout.parse(target)
        self.c = blocked_channels(target) or 1
        self.stats = statistics
        self.converted: dict[Value, Value] = {}
        self.transformed: dict[tuple, Value] = {}   # (value, src, dst) -> its transform
        self.originals: list[Operation] = []        # NCHW ops that have a converted twin
        self.inserted: list[Operation] = []         # transforms and reshapes this pass made

    def run(self) -> None:
        for op in list(self.block):
            for rule in RULES:
                if rule.applies(op, self):
                    new = rule.convert(op, self)
                    if new is None:
                        continue
                    self.block.insert_before(new, op)
                    for old, result in zip(op.results, new.results):
                        result.name_hint = old.name_hint
                        self.converted[old] = result
                    self.originals.append(op)
                    self.stats["ops converted"] += 1
                    break
        self._transform_back()
        for op in reversed(self.originals):
            op.erase()
        self._fold_constants()

    # -- what rules ask ------------------------------------------------------------------------

    def is_converted(self, value: Value) -> bool:
        return value in self.converted

    def channels_fit(self, channels) -> bool:
        """Whether a tensor of `channels` channels can be in the target layout (a multiple of c)."""
        return channels is not None and channels % self.c == 0

    def target_shape(self, nchw_shape) -> tuple | None:
        """The shape of an NCHW tensor (or broadcast operand) in the target layout, or None."""
        from lamina.dialects.nn.base import ShapeError

        try:
            return self.layout.shape(dict(zip("NCHW", nchw_shape)), strict=False)
        except ShapeError:
            return None

    def operand(self, value: Value, anchor: Operation) -> Value:
        """`value` (NCHW, rank <= 4) in the target layout: its converted twin, or a transform
        (after a reshape to 4-D for a lower-rank broadcast operand) inserted before `anchor`."""
        if value in self.converted:
            return self.converted[value]
        if value.type.rank < 4:
            value = self._reshape_to_4d(value, anchor)
        return self.transform(value, "NCHW", self.target, anchor)

    def transform(self, value: Value, src: str, dst: str, anchor: Operation) -> Value:
        """A layout_transform of `value` inserted before `anchor`, shared by every user."""
        from lamina.dialects.nn.layout import layout_transform

        key = (value, src, dst)
        if key not in self.transformed:
            op = layout_transform(value, src, dst, location=anchor.location)
            self.block.insert_before(op, anchor)
            self.inserted.append(op)
            self.transformed[key] = op.results[0]
            self.stats["transforms inserted"] += 1
        return self.transformed[key]

    def _reshape_to_4d(self, value: Value, anchor: Operation) -> Value:
        from lamina.dialects.nn.base import ints
        from lamina.dialects.nn.shape import ReshapeOp

        key = (value, "reshape", 4)
        if key not in self.transformed:
            shape = (1,) * (4 - value.type.rank) + tuple(value.type.shape)
            op = ReshapeOp.build(value, shape=ints(shape), location=anchor.location)
            self.block.insert_before(op, anchor)
            self.inserted.append(op)
            self.transformed[key] = op.results[0]
        return self.transformed[key]

    # -- steps 3 and 4 ---------------------------------------------------------------------------

    def _transform_back(self) -> None:
        """Uses of an original value by ops that were not converted (and by func.return) read
        one transform of its twin back to NCHW."""
        originals = set(map(id, self.originals))
        for op in self.originals:
            for old in op.results:
                outside = [u for u in old.uses if id(u.operation) not in originals]
                if not outside:
                    continue
                twin = self.converted[old]
                back = self.transform(twin, self.target, "NCHW", op)
                old.replace_uses_where(back, lambda use: id(use.operation) not in originals)

    def _fold_constants(self) -> None:
        """Transforms and reshapes of constants -> constants (weights packed once); constants
        left without users are erased."""
        from lamina.dialects.nn.base import ConstantOp
        from lamina.runtime.interpreter import Interpreter

        for op in self.inserted:
            if op.parent is None:
                continue
            sources = [getattr(v, "op", None) for v in op.operands]
            if not all(s is not None and s.has_trait(ConstantLike) for s in sources):
                continue
            args = [np.asarray(s.interpret()) for s in sources]
            (out,) = Interpreter.run_op(op, args)
            t = op.results[0].type
            const = ConstantOp(result_types=[t], properties={"value": DenseElementsAttr(t, np.asarray(out))},
                               location=op.location)
            self.block.insert_before(const, op)
            op.results[0].replace_all_uses_with(const.results[0])
            op.erase()
            self.stats["constants folded"] += 1
            for s in sources:
                if s.parent is not None and not any(r.uses for r in s.results):
                    s.erase()


# ---------------------------------------------------------------------------------------------
# The rules: which op converts, and its twin in the target layout


def _static4(t) -> bool:
    return isinstance(t, RankedTensorType) and t.rank == 4 and t.has_static_shape


def _new(op: Operation, operands, props: dict) -> Operation | None:
    """op's class on `operands` with `props` (its properties updated), result types inferred;
    None when they do not infer."""
    from lamina.dialects.nn.base import ShapeError

    properties = {**op.properties, **props}
    try:
        types = type(op).infer_result_types([v.type for v in operands], properties)
    except (ShapeError, KeyError, ValueError):
        return None
    if types is None:
        return None
    return type(op)(operands=list(operands), result_types=types, properties=properties,
                    attributes=dict(op.attributes), location=op.location)


def _layout_is_nchw(op) -> bool:
    attr = op.properties.get("layout")
    return attr is None or attr.value == "NCHW"


class ConvertConv2D:
    """conv2d(x, w) {layout = NCHW} -> conv2d(transform(x), transform(w)) {layout = T,
    weight_layout = W}

    The anchor of the conversion. In NCHW{c}c a group-1 weight becomes OIHW{c}i{c}o (blocks of c
    input and c output channels, TVM's conv2d_NCHWc kernel layout) and a depthwise one
    OIHW{c}o; other groups keep OIHW. In NHWC the weight stays OIHW (the CPU build packs it).
    From TVM (ConvertLayout, AlterOpLayout)."""

    def applies(self, op, conv) -> bool:
        if op.name != "nn.conv2d" or not _layout_is_nchw(op):
            return False
        if op.weight_layout.value != "OIHW":
            return False
        if not (_static4(op.x.type) and _static4(op.y.type) and op.w.type.has_static_shape):
            return False
        return conv.channels_fit(op.x.type.shape[1]) and conv.channels_fit(op.y.type.shape[1])

    def convert(self, op, conv):
        from lamina.dialects.nn.base import string

        c, group = op.x.type.shape[1], op.group.value
        o, per_group = op.w.type.shape[:2]
        weight_layout = "OIHW"
        if conv.target != "NHWC":
            if group == 1:
                weight_layout = f"OIHW{conv.c}i{conv.c}o"
            elif per_group == 1 and group == c == o:
                weight_layout = f"OIHW{conv.c}o"
        x = conv.operand(op.x, op)
        w = op.w if weight_layout == "OIHW" else conv.transform(op.w, "OIHW", weight_layout, op)
        props = {"layout": string(conv.target)}
        if weight_layout != "OIHW":
            props["weight_layout"] = string(weight_layout)
        return _new(op, [x, w, *op.bias], props)


class ConvertFollower:
    """pool/global_pool/batch_norm(x') {layout = NCHW}, x' converted -> the same op on x' in
    the target layout

    Pools and batch_norm convert when their input already is in the target layout; a batch_norm
    keeps its [C] parameters (its kernel reads them by channel). From TVM (ConvertLayout:
    ops that follow their input's layout)."""

    names = ("nn.max_pool2d", "nn.avg_pool2d", "nn.global_avg_pool", "nn.global_max_pool", "nn.batch_norm")

    def applies(self, op, conv) -> bool:
        if op.name not in self.names or not _layout_is_nchw(op):
            return False
        x = op.operands[0]
        return conv.is_converted(x) and _static4(x.type) and _static4(op.results[0].type)

    def convert(self, op, conv):
        from lamina.dialects.nn.base import string

        return _new(op, [conv.operand(op.operands[0], op), *op.operands[1:]],
                    {"layout": string(conv.target)})


class ConvertElementwise:
    """f(a', b) with a' converted -> f(a', transform(b))   (relu, clip, add, mul, where, ...)

    Elementwise ops do not care about layout once every operand is in the same one: the other
    operands are transformed too (a constant folds; a lower-rank broadcast operand is reshaped
    to 4-D first; a broadcast axis of size 1 stays 1). From ONNX Runtime's transpose optimizer
    (push transposes through elementwise ops) and TVM's ConvertLayout (broadcast ops)."""

    def applies(self, op, conv) -> bool:
        if not op.has_trait(Elementwise) or op.has_trait(ConstantLike) or len(op.results) != 1:
            return False
        if not any(conv.is_converted(v) for v in op.operands):
            return False
        if not _static4(op.results[0].type):
            return False
        for v in op.operands:
            t = v.type
            if not (isinstance(t, RankedTensorType) and t.has_static_shape and t.rank <= 4):
                return False
            if not conv.is_converted(v) and conv.target_shape((1,) * (4 - t.rank) + tuple(t.shape)) is None:
                return False
        return True

    def convert(self, op, conv):
        operands = [conv.operand(v, op) for v in op.operands]
        shape = conv.target_shape(op.results[0].type.shape)
        new = _new(op, operands, {})
        if new is None or new.results[0].type.shape != shape:
            return None  # (an op whose types do not infer this way: left unconverted)
        return new


class ConvertConcat:
    """concat(a', b', ...) {axis} -> concat(...) {axis of that dimension in the target layout}

    Along C in NCHW{c}c every operand must have a multiple of c channels (then the blocks
    concatenate); along N, H or W any 4-D operands do. From TVM (ConvertLayout for concatenate)."""

    def applies(self, op, conv) -> bool:
        from lamina.dialects.nn.base import normalize_axis

        if op.name != "nn.concat" or not any(conv.is_converted(v) for v in op.operands):
            return False
        if not all(_static4(v.type) for v in op.operands) or not _static4(op.results[0].type):
            return False
        axis = normalize_axis(op.axis.value, 4)
        return all(conv.target_shape(v.type.shape) is not None and
                   (axis != 1 or conv.channels_fit(v.type.shape[1])) for v in op.operands)

    def convert(self, op, conv):
        from lamina.dialects.nn.base import integer, normalize_axis

        letter = "NCHW"[normalize_axis(op.axis.value, 4)]
        axis = conv.layout._position(letter, None)
        return _new(op, [conv.operand(v, op) for v in op.operands], {"axis": integer(axis)})


RULES = (ConvertConv2D(), ConvertFollower(), ConvertElementwise(), ConvertConcat())
