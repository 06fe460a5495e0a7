"""fuse: group nn ops into kernels, as TVM's FuseOps does, each group an `nn.fused` region op.

    %c = nn.conv2d %x, %w, %b ...            %r = nn.fused %x, %w, %b attributes {sources = [...]} : ... {
    %r = nn.relu %c ...               ->     ^bb0(%x: ..., %w: ..., %b: ...):
                                               %c = nn.conv2d %x, %w, %b ...
                                               %r = nn.relu %c ...
                                               nn.yield %r : ...
                                             }

Each group lowers to ONE kernel (lowering/build.py), so the values inside it never go to memory:
fewer kernels, fewer passes over memory. The idea and the rules are TVM's FuseOps
(src/relax/transform/fuse_ops.cc): every op has a pattern (`OP_PATTERNS`, `op_pattern`), ordered
from cheapest to fuse to not fusable at all:

    elementwise  <  broadcast  <  injective  <  reduction  <  out-elementwise-fusable  <  opaque
    relu, add of     add of a      reshape,      reduce_*,      conv2d, matmul, gemm      shape, split,
    equal shapes     bias          transpose,    softmax,       (the anchors)             anything unknown
                                   concat, pad   pools, norms

and a group is one of three shapes:

  - a chain: elementwise, broadcast and injective ops only (inlined into one loop nest);
  - an anchor (conv2d, matmul, gemm) with its epilogue: elementwise and broadcast ops after it
    whose results have the anchor's output shape (bias, batch_norm, scale, residual add, relu,
    clip, gelu, ...), computed in the anchor's register block before it is written back. Nothing
    is fused INTO an anchor (an elementwise producer would be recomputed for every use of an
    input element), except a prologue of pure index remaps (`PROLOGUE_OPS`: channel_shuffle,
    slice) on its data operand: they cost only index arithmetic on each read, and save a copy
    kernel (a ShuffleNet unit's shuffle is read by its depthwise conv's padding, which copies
    anyway; so is the slice widen-conv-columns leaves);
  - a reduction with its elementwise, broadcast and injective producers (the reduction is the
    group's last op: TVM fuses nothing after a reduction either), but not a concat that alone
    reads its inputs before a pool (`WINDOW_POOLS`: it is free on its own).

With the option `depthwise-pointwise` (the CPU target's -O3 pipeline, presets.py) there is a
fourth: a depthwise conv group (its prologue and epilogue) as the producer of a 1x1 conv group,
its result read by nothing else (`depthwise_pointwise_fits`). The kernel computes the depthwise
rows each 1x1 output row reads just before it, in cache (schedules/fused_conv.py), so the
depthwise output, the largest tensor of a MobileNetV2 block, never goes to memory. With the
option `pointwise-depthwise` (the same pipeline) a fifth, the other way round: a 1x1 conv group
as the producer of a depthwise conv group with stride 2, its result read by nothing else
(`pointwise_depthwise_fits`). That kernel computes the 1x1 rows each task of depthwise rows
reads, channels innermost, so that the stride is an address step (no columns dealt into phases)
and the 1x1 output, the largest tensor of a MobileNetV2 downsampling block, never goes to memory.
With both options a sixth: a 1x1 conv group as the producer of a stride-1 depthwise conv group
fused with its 1x1 consumer (`expansion_fits`): MobileNetV2's whole inverted residual block, whose
kernel computes each chunk of rows through the three convs in cache. With the option
`concat-pointwise` (the same pipeline) a seventh: conv groups of one input, each keeping its size,
whose results a channel concat alone reads, with that concat, as the producers of the 1x1 conv
group that alone reads the concat (`concat_pointwise_fits`): SqueezeNet's fire module and the next
module's squeeze conv, whose kernel computes each task's rows of the branches and of the concat
in cache, so that the concat, the module's largest tensor, never goes to memory. (Otherwise that
concat is its own group, free: its producers write their slices of its buffer.)

The algorithm:
  1. Walk the ops of each function body in order. Ops that are never grouped stay as they are:
     constants, ops whose operands are all known before the model runs (the executor evaluates
     those once, at compile time), ops with dynamic shapes, with several results, or opaque.
  2. Each other op starts a group of its own, with the op as its root (its only result is the
     group's result). Then, until nothing changes, a producer group merges into it when
       a. every user of the producer's root is already in the group (so a value used outside a
          group is always a group's result: one result per group), and
       b. the merged group is still one of the three shapes above.
     Producer groups are tried in the order of the operands that read them; two anchors never
     meet in one group, so in `add(conv_a, conv_b)` the first operand's conv gets the add.
  3. Each group of two or more ops becomes an `nn.fused` op in place of its root: the values it
     reads from outside are its operands (and its block's arguments inside, named as outside),
     its ops are moved inside in their order, and `nn.yield` returns the root's result.
     `sources` lists the ops' source (ONNX node) names from their name locations; the group's
     location is its root's. A group of one op stays a plain op (the executor builds it as a kernel of its own all the same).

Merging only ever moves a producer group into its consumers' group, and a producer group's values
are all read inside the merged group (step 2a), so no path leaves a group and comes back: groups
never form a cycle, and each group's inputs are defined before its root.

Statistics: `groups` (nn.fused ops made), `ops fused` (ops moved into them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from ..ir import Block, Operation, Region, Value
from ..opdef import ConstantLike, Elementwise
from ..types import RankedTensorType
from .pass_base import Pass, register_pass
from .widen_columns import VECTOR_LANES


class Pattern(IntEnum):
    """How an op's output reads its inputs, which decides what it fuses with (TVM's OpPatternKind)."""

    ELEMENTWISE = 0   # out[i] = f(in[i]), every operand of the output's shape
    BROADCAST = 1     # out[i] = f(in[broadcast(i)]): elementwise with a smaller operand (bias)
    INJECTIVE = 2     # each output element reads one input element somewhere (reshape, transpose)
    REDUCTION = 3     # output elements combine many input elements (reduce_sum, softmax, pools)
    OUT_ELEMENTWISE_FUSABLE = 4  # an anchor: a reduction that takes an elementwise epilogue (conv, matmul)
    OPAQUE = 8        # never grouped


# The pattern of each nn op by name. Ops with the Elementwise trait that are not listed here are
# elementwise; `op_pattern` calls an elementwise op "broadcast" when an operand is smaller than
# its result. Ops not listed and not elementwise are opaque.
OP_PATTERNS: dict[str, Pattern] = {
    "nn.batch_norm": Pattern.BROADCAST,  # inference: per-channel scale and shift
    **dict.fromkeys(["nn.reshape", "nn.flatten", "nn.squeeze", "nn.unsqueeze", "nn.transpose",
                     "nn.expand", "nn.concat", "nn.slice", "nn.gather", "nn.tile", "nn.pad",
                     "nn.resize", "nn.depth_to_space", "nn.space_to_depth", "nn.layout_transform"],
                    Pattern.INJECTIVE),
    "nn.channel_shuffle": Pattern.INJECTIVE,
    **dict.fromkeys(["nn.reduce_sum", "nn.reduce_mean", "nn.reduce_max", "nn.reduce_min",
                     "nn.reduce_prod", "nn.softmax", "nn.log_softmax", "nn.layer_norm",
                     "nn.instance_norm", "nn.lrn", "nn.max_pool2d", "nn.avg_pool2d",
                     "nn.global_avg_pool", "nn.global_max_pool"], Pattern.REDUCTION),
    **dict.fromkeys(["nn.conv2d", "nn.matmul", "nn.gemm"], Pattern.OUT_ELEMENTWISE_FUSABLE),
    # shape glue the executor evaluates at compile time, and the groups themselves
    **dict.fromkeys(["nn.constant", "nn.shape", "nn.constant_of_shape", "nn.fused", "nn.yield"],
                    Pattern.OPAQUE),
}


def op_pattern(op: Operation) -> Pattern:
    """The fusion pattern of `op` (see `OP_PATTERNS`); ops with several results are opaque."""
    if len(op.results) != 1:
        return Pattern.OPAQUE
    pattern = OP_PATTERNS.get(op.name)
    if pattern is None:
        if not (op.name.startswith("nn.") and op.has_trait(Elementwise)):
            return Pattern.OPAQUE
        pattern = Pattern.ELEMENTWISE
    if pattern == Pattern.ELEMENTWISE and any(_shape(v) != _shape(op.results[0]) for v in op.operands):
        return Pattern.BROADCAST
    return pattern


def _shape(value: Value):
    return getattr(value.type, "shape", None)


def _static(value: Value) -> bool:
    return isinstance(value.type, RankedTensorType) and value.type.has_static_shape


@dataclass(eq=False)
class _Group:
    root: Operation
    ops: list[Operation] = field(default_factory=list)


# Injective ops that only move elements (no arithmetic on values): an anchor may read its data
# operand through them (see the module docstring).
PROLOGUE_OPS = {"nn.channel_shuffle", "nn.slice"}


def _prologue(anchor: Operation, members: set[int]) -> list[Operation] | None:
    """The group's ops that the anchor's data operand (operand 0) is computed by, or None when
    an op in the group computes another operand of the anchor or is not a `PROLOGUE_OPS` op."""
    if any(isinstance(v.owner, Operation) and id(v.owner) in members for v in anchor.operands[1:]):
        return None
    prologue, todo = [], [anchor.operands[0]]
    while todo:
        owner = todo.pop().owner
        if not (isinstance(owner, Operation) and id(owner) in members):
            continue
        if owner.name not in PROLOGUE_OPS:
            return None
        prologue.append(owner)
        todo.extend(owner.operands)
    return prologue


# Ops that divide by an operand (its index). TVM's simplifier rewrites x - x to 0.0 and then
# refuses to build y / 0.0 ("Divide by zero"), so a divisor computed inside the group would stop
# the kernel from building (found by check_pass -O3 --compile: div(y, sub(x, x))). A divisor that
# is a group input is a buffer read, which the simplifier cannot fold.
DIVISORS = {"nn.div": 1, "nn.reciprocal": 0}


# Pools a concat is not fused into when it alone reads its inputs (`_concat_alone`): left out,
# the concat is free (its producers write their slices of its buffer: runtime/memory_plan.py) and
# the pool reads one tensor, dealt into column phases when strided (schedules/pool.py), where the
# fused kernel chose between the concat's inputs at every read, in a loop LLVM left scalar.
# In the model, 2 threads: Inception v1's concat + 3x3/2 max pool to 480x14x14 0.158 -> 0.035 ms,
# to 832x7x7 0.042 -> 0.017; SqueezeNet's to 256x13x13 0.063 -> 0.038, to 128x27x27 0.057 -> 0.056.
WINDOW_POOLS = {"nn.max_pool2d", "nn.avg_pool2d"}


def _concat_alone(concat: Operation) -> bool:
    """Whether the memory plan would make `concat` free on its own (runtime/memory_plan.py
    `plan_concats`: each input an op's result that it alone reads, a contiguous slice of the
    output at an offset TVM can view)."""
    from lamina.runtime.memory_plan import plan_concats

    producers = [v.owner for v in concat.operands if isinstance(v.owner, Operation)]
    return next(plan for plan in plan_concats([*producers, concat], []) if plan.op is concat).free


def group_is_valid(ops: list[Operation], root: Operation, depthwise_pointwise: bool = False,
                   pointwise_depthwise: bool = False, concat_pointwise: bool = False) -> bool:
    """Whether `ops` (with result `root`) is one of the group shapes of the module docstring
    (the fourth with `depthwise_pointwise`, the fifth with `pointwise_depthwise`, the sixth with
    both, the seventh with `concat_pointwise`), and no op in it divides by a value computed in it
    (`DIVISORS`)."""
    members = {id(op) for op in ops}
    for op in ops:
        if op.name in DIVISORS:
            divisor = op.operands[DIVISORS[op.name]].owner
            if isinstance(divisor, Operation) and id(divisor) in members:
                return False
    patterns = {id(op): op_pattern(op) for op in ops}
    anchors = [op for op in ops if patterns[id(op)] == Pattern.OUT_ELEMENTWISE_FUSABLE]
    reductions = [op for op in ops if patterns[id(op)] == Pattern.REDUCTION]
    if concat_pointwise and anchors and not reductions and any(op.name == "nn.concat" for op in ops):
        return _branches_into_pointwise_valid(ops, root, anchors)  # the seventh shape
    if len(anchors) == 2 and not reductions:  # the fourth and fifth shapes
        return ((depthwise_pointwise and _pair_valid(ops, root, anchors, depthwise_pointwise_fits))
                or (pointwise_depthwise and _pair_valid(ops, root, anchors, pointwise_depthwise_fits)))
    if len(anchors) == 3 and not reductions and depthwise_pointwise and pointwise_depthwise:
        # the sixth: a 1x1 conv group before a depthwise conv group of the fourth shape
        return _pair_valid(ops, root, anchors, expansion_fits,
                           lambda rest: group_is_valid(rest, root, depthwise_pointwise=True))
    if len(anchors) + len(reductions) > 1:
        return False
    if anchors:  # the anchor, a prologue of index remaps on its data operand, and its epilogue
        (anchor,) = anchors
        prologue = _prologue(anchor, members)
        if prologue is None:
            return False  # nothing else is fused into an anchor
        inside = {id(op) for op in prologue} | {id(anchor)}
        if any(id(use.operation) not in inside for op in prologue for r in op.results for use in r.uses):
            return False  # a remapped value read by the epilogue too
        shape = _shape(anchor.results[0])
        return all(patterns[id(op)] <= Pattern.BROADCAST and _shape(op.results[0]) == shape
                   for op in ops if id(op) not in inside)
    if reductions:  # the reduction and its producers
        if root.name in WINDOW_POOLS and any(op.name == "nn.concat" and _concat_alone(op) for op in ops):
            return False
        return reductions[0] is root and all(
            patterns[id(op)] <= Pattern.INJECTIVE for op in ops if op is not root)
    return all(patterns[id(op)] <= Pattern.INJECTIVE for op in ops)


# The largest 1x1 weight (output x input channels) a depthwise-pointwise kernel takes: it runs
# output rows outermost, so each row reads the whole weight again. 2 threads, the two kernels
# against one (a prototype of schedules/fused_conv.py, caches flushed before each call):
# MobileNetV2's 144 -> 24 at 56x56 0.44 -> 0.26 ms, 192 -> 32 at 28x28 0.18 -> 0.12, 384 -> 64 at
# 14x14 0.12 -> 0.10, 576 -> 96 (55K) 0.19 -> 0.15, but 960 -> 160 at 7x7 (154K) 0.19 -> 0.21.
DEPTHWISE_POINTWISE_MAX_WEIGHTS = 64 * 1024
# Rows of whole vectors fuse too, though alone the 1x1 conv's column block (schedules/cpu.py) is
# faster than the fused kernel's channel block: in the model the depthwise output it reads comes
# from memory. MobileNetV2's 32-channel 3x3 at 112x112, then 32 -> 16, in the model, 2 threads,
# one process, two kernels against one (three runs): 0.247 -> 0.205, 0.247 -> 0.205, 0.330 ->
# 0.254 ms. Caches flushed before each call (input and output from memory too) that pair ran
# 0.568 -> 0.612 ms, and others gained there: 64 -> 64 at 32x32 0.239 -> 0.208, 96 -> 24 at 64x64
# 0.680 -> 0.634, 128 -> 32 at 48x48 0.483 -> 0.463.


def _conv_geometry(conv: Operation):
    """(x shape, weight shape, y shape, group, strides, pads, dilations) of an NCHW/OIHW conv2d
    with static 4-D shapes, else (another op too) None."""
    from lamina.dialects.nn.base import py

    if conv.name != "nn.conv2d":
        return None
    types = [v.type for v in (conv.operands[0], conv.operands[1], conv.results[0])]
    if not all(isinstance(t, RankedTensorType) and t.has_static_shape and t.rank == 4 for t in types):
        return None
    if (py(conv.layout), py(conv.weight_layout)) != ("NCHW", "OIHW"):
        return None
    return (*(list(t.shape) for t in types), py(conv.group), list(py(conv.strides)), list(py(conv.pads)),
            list(py(conv.dilations)))


def depthwise_pointwise_fits(depthwise: Operation, pointwise: Operation) -> bool:
    """Whether a depthwise conv (one input channel per group, as many outputs, a window larger
    than 1x1, stride and dilation 1) and the 1x1 conv (group 1, no stride or padding) that
    reads it go into one kernel: not when the 1x1 conv's weight is large
    (DEPTHWISE_POINTWISE_MAX_WEIGHTS)."""
    d, p = _conv_geometry(depthwise), _conv_geometry(pointwise)
    return (_is_depthwise(d, 1) and _is_pointwise(p)
            and p[1][0] * p[1][1] <= DEPTHWISE_POINTWISE_MAX_WEIGHTS)


def _is_pointwise(geometry) -> bool:
    """Whether a `_conv_geometry` is a 1x1 conv's: group 1, no stride, padding or dilation."""
    if geometry is None:
        return False
    _, w, _, group, strides, pads, dilations = geometry
    return group == 1 and w[2:] == [1, 1] and strides == [1, 1] and pads == [0, 0, 0, 0] and dilations == [1, 1]


def _is_depthwise(geometry, stride: int) -> bool:
    """Whether a `_conv_geometry` is a depthwise conv's with `stride`: one input channel per group,
    as many outputs, a window larger than 1x1, no dilation."""
    if geometry is None:
        return False
    x, w, y, group, strides, _, dilations = geometry
    return (1 < group == x[1] == y[1] and w[1] == 1 and w[2] * w[3] > 1 and strides == [stride] * 2
            and dilations == [1, 1])


def _expands_into(pointwise: Operation, depthwise: Operation, stride: int):
    """The depthwise conv's output shape when a 1x1 conv's output, its channels in whole vectors,
    is the input of a depthwise conv with `stride` (the kernels' register blocks are vectors of
    channels: schedules/fused_conv.py), else None."""
    p, d = _conv_geometry(pointwise), _conv_geometry(depthwise)
    if not (_is_pointwise(p) and _is_depthwise(d, stride)) or p[2] != d[0] or p[2][1] % VECTOR_LANES:
        return None
    return d[2]


def _pair_valid(ops: list[Operation], root: Operation, anchors: list[Operation], fits, rest_valid=None) -> bool:
    """Whether `ops` (with result `root`) is, for two of its `anchors`, the group of the producer
    (the ops that compute the consumer's data operand), read by the consumer only, followed by the
    valid group of the consumer (`rest_valid(rest)`, else `group_is_valid`), and
    `fits(producer, consumer)`."""
    return any(_producer_then_consumer(ops, root, producer, consumer, fits, rest_valid)
               for producer in anchors for consumer in anchors if producer is not consumer)


def _computing(op: Operation, members: set, skip=frozenset()) -> set:
    """The ids of `op` and of the ops among `members` (ids) it is computed from, up to those in
    `skip`: the part of a group that computes a value."""
    found, todo = set(), [op]
    while todo:
        op = todo.pop()
        if isinstance(op, Operation) and id(op) in members and id(op) not in found and id(op) not in skip:
            found.add(id(op))
            todo.extend(v.owner for v in op.operands)
    return found


def _producer_then_consumer(ops: list[Operation], root: Operation, producer: Operation, consumer: Operation,
                            fits, rest_valid) -> bool:
    """`_pair_valid` for one producer and consumer."""
    members = {id(op) for op in ops}
    data = consumer.operands[0].owner
    if not (isinstance(data, Operation) and id(data) in members):
        return False
    inside = _computing(data, members)  # the ops the consumer's data operand is computed by
    if id(producer) not in inside or id(consumer) in inside:
        return False  # not the anchor that reads the producer's group
    if any(id(use.operation) not in inside and use.operation is not consumer
           for op in ops if id(op) in inside for r in op.results for use in r.uses):
        return False  # the producer group's values are read by the consumer only
    first = [op for op in ops if id(op) in inside]
    rest = [op for op in ops if id(op) not in inside]
    rest_valid = rest_valid or (lambda rest: group_is_valid(rest, root))
    return fits(producer, consumer) and group_is_valid(first, data) and rest_valid(rest)


def pointwise_depthwise_fits(pointwise: Operation, depthwise: Operation) -> bool:
    """Whether a 1x1 conv and the depthwise conv with stride 2 that reads it go into one kernel:
    channels in whole vectors (`_expands_into`). A stride-1 depthwise conv goes into the 1x1 conv
    after it instead (`depthwise_pointwise_fits`), and the 1x1 conv before it joins that pair
    (`expansion_fits`)."""
    return _expands_into(pointwise, depthwise, 2) is not None


# Output rows from which a 1x1 conv goes into a stride-1 depthwise conv group with its 1x1
# consumer: the kernel's tasks are chunks of rows, each computing again the two rows of the first
# 1x1 conv it shares with its neighbours, so few rows a task cost too much again.
INVERTED_RESIDUAL_MIN_ROWS = 14


def expansion_fits(pointwise: Operation, depthwise: Operation) -> bool:
    """Whether a 1x1 conv (group 1, no stride or padding) goes into the group of the stride-1
    depthwise conv that reads it, when that conv is fused with its 1x1 consumer
    (`depthwise_pointwise_fits`): one kernel for MobileNetV2's whole inverted residual block
    (schedules/fused_conv.py). Channels in whole vectors, and INVERTED_RESIDUAL_MIN_ROWS rows."""
    out = _expands_into(pointwise, depthwise, 1)
    return out is not None and out[2] >= INVERTED_RESIDUAL_MIN_ROWS


# Output rows from which conv branches and their concat go into the 1x1 conv that reads them:
# the kernel's tasks are rows, and SqueezeNet's 13 rows make 13 tasks, one thread's 7 against the
# other's 6, where the branches' kernels alone share their channel blocks evenly. With its three
# 13x13 modules fused too, SqueezeNet ran 3.29 -> 3.37 ms (2 threads, one process).
CONCAT_POINTWISE_MIN_ROWS = 14


def _branch_conv(value: Value) -> Operation | None:
    """The conv a concat operand is computed by, through a chain of elementwise and broadcast ops
    (its epilogue: bias, relu) each read once; None if it is not such a chain."""
    op = value.owner
    while isinstance(op, Operation) and op.name != "nn.conv2d":
        if op_pattern(op) > Pattern.BROADCAST or len(op.results[0].uses) != 1:
            return None
        chained = [v for v in op.operands if _shape(v) == _shape(op.results[0])]
        if len(chained) != 1:
            return None  # (a residual add reads two values of the conv's shape)
        op = chained[0].owner
    if not isinstance(op, Operation) or len(op.results[0].uses) != 1:
        return None
    return op


def concat_pointwise_fits(concat: Operation, pointwise: Operation) -> bool:
    """Whether the conv branches a channel concat joins, and the concat, go into the kernel of the
    1x1 conv (group 1, no stride or padding) that reads it: SqueezeNet's fire module (a 1x1 and
    a 3x3 conv of one input, concatenated) and the next module's squeeze conv, whose kernel
    computes each task's rows of both branches and of the concat in cache (schedules/fused_conv.py
    `concat_pointwise_schedule`), so that the concat, the largest tensor of the module, never goes
    to memory. Each branch a conv with its epilogue, every value read once; the convs dense,
    stride 1, no dilation, output rows as large as their input, their output channels in whole
    vectors, all reading one value computed outside; at least CONCAT_POINTWISE_MIN_ROWS rows."""
    if (concat.name != "nn.concat" or pointwise.operands[0] is not concat.results[0]
            or len(concat.results[0].uses) != 1):
        return False
    from lamina.dialects.nn.base import py

    p = _conv_geometry(pointwise)
    if not _is_pointwise(p) or py(concat.axis) != 1 or p[0][2] < CONCAT_POINTWISE_MIN_ROWS:
        return False
    convs = [_branch_conv(v) for v in concat.operands]
    if len(convs) < 2 or any(c is None for c in convs) or len({id(c.operands[0]) for c in convs}) != 1:
        return False
    for conv in convs:
        g = _conv_geometry(conv)
        if g is None:
            return False
        x, w, y, group, strides, _, dilations = g
        if group != 1 or strides != [1, 1] or dilations != [1, 1] or x[2:] != y[2:] or y[1] % VECTOR_LANES:
            return False
    return True


def _branches_into_pointwise_valid(ops: list[Operation], root: Operation, anchors: list[Operation]) -> bool:
    """The seventh shape: a 1x1 conv group (with `root`) whose data operand is a concat in the group
    (`concat_pointwise_fits`), read by that conv alone, and of the concat's branches those in the
    group, each a whole valid conv group (the branches merge one at a time)."""
    members = {id(op) for op in ops}
    consumers = [a for a in anchors if isinstance(a.operands[0].owner, Operation)
                 and id(a.operands[0].owner) in members and a.operands[0].owner.name == "nn.concat"]
    if len(consumers) != 1:
        return False
    (consumer,) = consumers
    concat = consumer.operands[0].owner
    if not concat_pointwise_fits(concat, consumer):
        return False
    covered = {id(concat)}
    for value in concat.operands:
        if not (isinstance(value.owner, Operation) and id(value.owner) in members):
            continue  # a branch not merged yet
        branch = _computing(value.owner, members, skip=covered)
        covered |= branch
        if not group_is_valid([op for op in ops if id(op) in branch], value.owner):
            return False
    rest = [op for op in ops if id(op) not in covered]
    return consumer in rest and group_is_valid(rest, root)


@register_pass
@dataclass(frozen=True)
class FusePass(Pass):
    """Group nn ops into kernels (TVM's FuseOps): chains of elementwise/injective ops, anchors
    (conv2d, matmul, gemm) with their elementwise epilogue, reductions with their producers."""

    name = "fuse"
    summary = "group nn ops into nn.fused kernels (TVM FuseOps: anchors + epilogues, chains, reductions)"

    depthwise_pointwise: bool = False  # also a depthwise conv group into its 1x1 consumer's (CPU)
    pointwise_depthwise: bool = False  # also a 1x1 conv group into its stride-2 depthwise consumer's (CPU)
    concat_pointwise: bool = False  # also conv branches and their concat into the 1x1 conv reading it (CPU)

    def run(self, module: Operation) -> None:
        for op in list(module.walk()):
            if op.name == "func.func" and op.regions and op.regions[0].blocks:
                self._fuse_block(op.regions[0].blocks[0])

    # -- steps -----------------------------------------------------------------------------------

    def _fuse_block(self, block: Block) -> None:
        group_of: dict[int, _Group] = {}  # id(op) -> its group
        known: set[int] = set()           # id(value) of values known before the model runs
        for op in list(block):
            if self._known_before_run(op, known):  # 1.
                known.update(id(r) for r in op.results)
                continue
            if not self._groupable(op):
                continue
            group = _Group(op, [op])  # 2.
            group_of[id(op)] = group
            while self._merge_a_producer(group, group_of, self._options()):
                pass
        for group in {id(g): g for g in group_of.values()}.values():  # 3.
            if len(group.ops) > 1:
                self._materialize(group)

    @staticmethod
    def _known_before_run(op: Operation, known: set) -> bool:
        if op.has_trait(ConstantLike):
            return True
        if op.regions or not op.results:
            return False
        if op.name == "nn.shape":  # folds to a constant for a static input
            return all(_static(v) for v in op.operands)
        return bool(op.operands) and all(id(v) in known for v in op.operands)

    @staticmethod
    def _groupable(op: Operation) -> bool:
        """Not opaque, static shapes, and no empty tensor in or out: an op on no elements is no
        work alone (an EmptyKernel), but inside a group its index arithmetic (a reshape's % 0)
        is still compiled, and TVM's constant folder rejects the division by zero."""
        values = [*op.results, *op.operands]
        return (op_pattern(op) != Pattern.OPAQUE and all(_static(v) for v in values)
                and all(0 not in v.type.shape for v in values))

    def _options(self) -> dict:
        """The group shapes beyond TVM's three this pass makes (`group_is_valid`'s options)."""
        return {"depthwise_pointwise": self.depthwise_pointwise, "pointwise_depthwise": self.pointwise_depthwise,
                "concat_pointwise": self.concat_pointwise}

    @staticmethod
    def _merge_a_producer(group: _Group, group_of: dict, options: dict) -> bool:
        """Merge the first producer group that may join `group` (step 2); whether one did."""
        members = {id(op) for op in group.ops}
        seen: set[int] = set()
        for op in group.ops:
            for v in op.operands:
                producer = group_of.get(id(v.owner)) if isinstance(v.owner, Operation) else None
                if producer is None or producer is group or id(producer) in seen:
                    continue
                seen.add(id(producer))
                users_inside = all(id(use.operation) in members for r in producer.root.results for use in r.uses)
                if not users_inside:
                    continue
                merged = producer.ops + group.ops
                if not group_is_valid(merged, group.root, **options):
                    continue
                group.ops = merged
                for member in producer.ops:
                    group_of[id(member)] = group
                return True
        return False

    def _materialize(self, group: _Group) -> None:
        """Step 3: the group as an nn.fused op in place of its root."""
        from lamina.dialects.nn.fused import FusedOp, YieldOp, source_names, sources_attr

        block = group.root.parent
        order = {id(op): i for i, op in enumerate(block)}
        ops = sorted(group.ops, key=lambda op: order[id(op)])
        members = {id(op) for op in ops}
        inputs: list[Value] = []
        for op in ops:
            for v in op.operands:
                if not (isinstance(v.owner, Operation) and id(v.owner) in members) and v not in inputs:
                    inputs.append(v)
        root = group.root
        body = Block()
        for v in inputs:  # inside, each input is named as it is outside
            body.add_arg(v.type, v.name_hint)
        names = [n for op in ops for n in source_names(op.location)]
        fused = FusedOp(operands=inputs, result_types=[r.type for r in root.results],
                        properties={"sources": sources_attr(names)} if names else {},
                        location=root.location)
        fused.add_region(Region([body]))
        for result, inner in zip(fused.results, root.results):
            result.name_hint = inner.name_hint
        block.insert_before(fused, root)
        for r_out, r_in in zip(fused.results, root.results):
            r_in.replace_uses_where(r_out, lambda use: id(use.operation) not in members)
        mapping = dict(zip(inputs, body.args))
        for op in ops:
            op.detach()
            for i, v in enumerate(op.operands):
                if v in mapping:
                    op.set_operand(i, mapping[v])
            body.append(op)
        body.append(YieldOp(operands=list(root.results)))
        self.statistics["groups"] += 1
        self.statistics["ops fused"] += len(ops)
