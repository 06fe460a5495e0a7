"""widen-conv-columns: compute a short-reduction conv's output rows a whole vector wide, and cut
the extra columns off where the next kernel reads them.

    %c = nn.conv2d %x, %w, %b {pads = [0, 0, 0, 0], strides = [2, 2]} : ... -> tensor<1x64x111x111xf32>
    %r = nn.relu %c : ... -> tensor<1x64x111x111xf32>
    %p = nn.max_pool2d %r ...
  ->
    %c = nn.conv2d %x, %w, %b {pads = [0, 0, 0, 2], strides = [2, 2]} : ... -> tensor<1x64x111x112xf32>
    %r = nn.relu %c : ... -> tensor<1x64x111x112xf32>
    %s = nn.slice %r {axes = [3], starts = [0], ends = [111], steps = [1]} : ... -> tensor<1x64x111x111xf32>
    %p = nn.max_pool2d %s ...

Why: the CPU computes a conv with a short reduction (few multiply-adds per output: a stem over
3 input channels, a 1x1 conv over 16 or 24) a block of whole 16-lane vectors of output columns
at a time (schedules/cpu.py, the column block); rows that are not whole vectors take the channel
block, which then spends most of its time transposing its registers into NCHW. The padding on the
right gives the conv whole vectors (its extra columns read zeros), and the slice is an index
remap that fusion puts into the next kernel (a pool's or an elementwise chain's loop nest, or a
conv's prologue), so nothing is copied. 1 thread, `lamina.kernel`, channel block against the
widened conv: SqueezeNet's stem (3 -> 64, 3x3/2, 111 columns) 0.54 -> 0.41 ms, 16 -> 64 1x1 at
55 columns 0.089 -> 0.068 ms, MobileNetV2's 24 -> 144 1x1 at 56 columns 0.26 -> 0.22 ms; with
32 multiply-adds per output the gain was 7% at 28 -> 32 columns and a loss at 27 -> 32, and with
64 a loss: hence `max-reduction`.

A conv is widened when: it is a dense (group 1) NCHW conv with static shapes whose output rows
are longer than one vector and not whole vectors, with at most `max-reduction` multiply-adds per
output and at most `max-waste` of extra columns; the ops after it up to the next kernel are
elementwise, each the only user of the one before, their other operands constant along the
columns (a bias, a scale); and that next op, the only user, takes the slice into its own kernel
(`ABSORBS_SLICE`: a pool, whose kernel fuses injective producers, or a conv, whose prologue may be
a slice on its data operand: fuse.py). An elementwise op that reads another full-size value (a
residual add) ends the chain unwidened: behind a slice it could no longer be the conv's epilogue.
A value a function returns is never widened.

The pass is in the CPU target's -O3 pipeline (presets.py `pipeline_for(..., target="llvm")`), not
in the target-free one: on a GPU the extra columns are work and nothing gains.

Statistics: `convs widened`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Operation, Value
from ..opdef import Elementwise
from ..types import RankedTensorType
from .pass_base import Pass, register_pass

VECTOR_LANES = 16  # one AVX-512 vector of float32 columns (the CPU's column block)

ABSORBS_SLICE = {"nn.max_pool2d", "nn.avg_pool2d", "nn.global_avg_pool", "nn.global_max_pool", "nn.conv2d"}


@register_pass
@dataclass(frozen=True)
class WidenConvColumnsPass(Pass):
    """Pad a short-reduction conv's output rows to whole vectors; slice in the next kernel."""

    name = "widen-conv-columns"
    summary = "give short-reduction convs whole-vector output rows (CPU column block); slice in the next kernel"

    lanes: int = VECTOR_LANES
    max_reduction: int = 27
    max_waste: float = 0.17

    def run(self, module: Operation) -> None:
        for op in [op for op in module.walk() if op.name == "nn.conv2d"]:
            width = self._widened(op)
            if width is None:
                continue
            chain, consumer = _chain_to_consumer(op.results[0])
            if chain is None or _fused_with_depthwise(op, consumer):
                continue
            _widen(op, chain, consumer, width)
            self.statistics["convs widened"] += 1

    def _widened(self, conv: Operation) -> int | None:
        """The conv's output width rounded up to whole vectors, or None when it is not widened."""
        from lamina.dialects.nn.base import py

        x, w, y = (v.type for v in (conv.operands[0], conv.operands[1], conv.results[0]))
        if not all(isinstance(t, RankedTensorType) and t.has_static_shape and t.rank == 4 for t in (x, w, y)):
            return None
        if (py(conv.layout), py(conv.weight_layout), py(conv.group)) != ("NCHW", "OIHW", 1):
            return None
        _, c, kh, kw = w.shape
        width = y.shape[3]
        wide = -(-width // self.lanes) * self.lanes
        if width <= self.lanes or width == wide or c * kh * kw > self.max_reduction:
            return None
        if (wide - width) / width > self.max_waste:
            return None
        return wide


def _fused_with_depthwise(conv: Operation, consumer: Operation) -> bool:
    """Whether the CPU's fusion puts `conv` into the kernel of the depthwise conv that reads it
    (fuse.py `pointwise_depthwise_fits`, or `expansion_fits` with the 1x1 conv after the
    depthwise conv fused too): that kernel computes only the columns the depthwise conv reads, a
    vector of channels at a time, and a slice between them would stop the fusion."""
    from .fuse import depthwise_pointwise_fits, expansion_fits, pointwise_depthwise_fits

    if pointwise_depthwise_fits(conv, consumer):
        return True
    if not expansion_fits(conv, consumer):
        return False
    _, project = _chain_to_consumer(consumer.results[0])
    return project is not None and depthwise_pointwise_fits(consumer, project)


def _columns_constant(value: Value, shape) -> bool:
    """Whether `value`, broadcast against a result of `shape`, is the same along its columns."""
    t = value.type
    if not isinstance(t, RankedTensorType) or not t.has_static_shape or t.rank > len(shape):
        return False
    return t.rank == 0 or t.shape[-1] == 1


def _chain_to_consumer(value: Value):
    """([elementwise ops after the conv], the op that reads the last of them), or (None, None)."""
    chain = []
    while True:
        users = value.users
        if len(users) != 1 or len(value.uses) != 1:
            return None, None
        user = users[0]
        if user.name in ABSORBS_SLICE:
            if user.operands[0] is not value or any(v is value for v in user.operands[1:]):
                return None, None  # (a conv takes the slice only on its data operand)
            return chain, user
        if not (user.name.startswith("nn.") and user.has_trait(Elementwise) and len(user.results) == 1):
            return None, None
        shape = value.type.shape
        if user.results[0].type.shape != shape:
            return None, None
        if not all(v is value or _columns_constant(v, shape) for v in user.operands):
            return None, None
        chain.append(user)
        value = user.results[0]


def _widen(conv: Operation, chain: list, consumer: Operation, wide: int) -> None:
    from lamina.dialects.nn.base import ints, py
    from lamina.dialects.nn.shape import SliceOp

    width = conv.results[0].type.shape[3]
    pads = list(py(conv.pads))
    pads[3] += (wide - width) * py(conv.strides)[1]
    conv.properties["pads"] = ints(pads)
    for op in [conv, *chain]:
        t = op.results[0].type
        op.results[0].type = RankedTensorType((*t.shape[:3], wide), t.element_type)
    last = (chain[-1] if chain else conv).results[0]
    narrow = RankedTensorType((*last.type.shape[:3], width), last.type.element_type)
    cut = SliceOp(operands=[last], result_types=[narrow], location=conv.location,
                  properties={"axes": ints([3]), "starts": ints([0]), "ends": ints([width]), "steps": ints([1])})
    if last.name_hint:
        cut.results[0].name_hint = f"{last.name_hint}_cols"
    consumer.parent.insert_before(cut, consumer)
    last.replace_uses_where(cut.results[0], lambda use: use.operation is consumer)
