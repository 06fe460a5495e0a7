"""Static memory planning: every intermediate tensor of a compiled model gets a fixed place in ONE
arena, decided at compile time, so a call allocates nothing.

The algorithm, in three steps:

1. **Liveness.** The executor runs its kernels as numbered steps 0..n-1. Each kernel output is a
   buffer, live from the step that writes it (`first`) to the last step that reads it (`last`);
   a model output stays live to the end (step n, after the last kernel, when the executor copies
   the outputs out); an output nobody reads lives at its own step only. Model inputs and constants
   are not in the arena: inputs have buffers of their own, constants are held by their kernels.
2. **In place** (`in_place_operand`). An elementwise kernel may write its output over an
   operand's buffer when that is safe; the two buffers then form one *slot* that lives from the
   operand's first step to the output's last. See `in_place_operand` for the exact rule.
3. **Placement: greedy by size, best fit.** Slots are placed largest first; each goes into the
   smallest gap, between slots already placed whose live ranges overlap its own, that holds it,
   else just above the highest of them. Offsets and sizes are rounded up to 64 bytes (TVM's
   kernels want 64-byte aligned data). This is TensorFlow Lite's greedy-by-size planner (Pisarchyk
   & Lee, "Efficient Memory Management for Deep Neural Net Inference", 2020); ONNX Runtime and
   MNN plan their arenas the same way in spirit (liveness, then reuse of freed blocks).

**Free concats** (`plan_concats`, before the steps are planned). A standalone `nn.concat` whose
inputs are contiguous slices of its output costs nothing: each producer writes its slice of the
concat's output directly and the concat never runs (TVM's and ONNX Runtime's memory planners do
the same). Its output is then a buffer of its own whose live range runs from the first producer's
step to its last reader, and each input is a *view*: a buffer with no place of its own, at a
fixed byte offset inside it (`view_of`, `view_offset`). A concat of concats nests (a view of a
view). The rule and the reasons a concat is copied instead are in `plan_concats`.

Guarantees (tests/test_memory_plan.py checks them on random problems and random nn graphs): two
buffers whose live ranges overlap never overlap in the arena (except an in-place pair, which
shares one slot by design and hands it over at one step, and a view, which lies inside the
buffer it is a view of, disjoint from its sibling views, and lives as long as that buffer), and
`max live bytes at any step <= arena_bytes <= naive_bytes` (a view's bytes are its buffer's:
neither counts it again).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lamina.compiler.ir import Operation, Value
from lamina.compiler.opdef import Elementwise

ALIGN = 64


def round_up(n: int, align: int = ALIGN) -> int:
    return -(-n // align) * align


@dataclass
class Buffer:
    """One intermediate tensor: `nbytes` live from step `first` (its writer) through step `last`
    (its last reader), at `offset` in the arena once planned. `in_place_of` is the index of the
    buffer whose memory it took (an operand that died at this buffer's step), or None."""

    name: str
    nbytes: int
    first: int
    last: int
    offset: int = 0
    in_place_of: int | None = None
    detail: str = ""  # for the report: the op, shape and dtype
    view_of: int | None = None  # a view (a free concat's input): the buffer it is a slice of
    view_offset: int = 0        # ... and its byte offset inside that buffer

    @property
    def is_view(self) -> bool:
        return self.view_of is not None

    def live_at(self, step: int) -> bool:
        return self.first <= step <= self.last

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass
class MemoryPlan:
    """Where each intermediate buffer lives in the arena. `arena_bytes` is the peak (the arena's
    size); `naive_bytes` is what one 64-byte-aligned allocation per buffer would take in total."""

    buffers: list[Buffer]
    num_steps: int
    arena_bytes: int
    concats: list["ConcatPlan"] = field(default_factory=list)  # each standalone nn.concat: free or copied
    naive_bytes: int = field(init=False)

    def __post_init__(self):
        self.naive_bytes = sum(round_up(b.nbytes) for b in self.buffers if not b.is_view)

    @property
    def ratio(self) -> float:
        return self.arena_bytes / self.naive_bytes if self.naive_bytes else 1.0

    def live_bytes(self, step: int) -> int:
        """Bytes that must be distinct at `step`: each live buffer, but an in-place output only
        once with the operand it took over (they share a slot)."""
        total = 0
        for b in self.buffers:
            if not b.live_at(step) or b.is_view:  # a view's bytes are its buffer's
                continue
            donor = self.buffers[b.in_place_of] if b.in_place_of is not None else None
            if donor is not None and donor.live_at(step):
                continue
            total += b.nbytes
        return total

    @property
    def peak_live_bytes(self) -> int:
        """The lower bound of any plan: the most bytes live at one step."""
        return max((self.live_bytes(s) for s in range(self.num_steps + 1)), default=0)

    @property
    def free_concats(self) -> list["ConcatPlan"]:
        return [c for c in self.concats if c.free]

    def summary(self) -> str:
        views = sum(b.is_view for b in self.buffers)
        concats = (f"; concats: {len(self.free_concats)} free, {len(self.concats) - len(self.free_concats)} copied"
                   if self.concats else "")
        return (f"memory plan: peak {self.arena_bytes} bytes planned vs naive {self.naive_bytes} bytes "
                f"({_human(self.arena_bytes)} vs {_human(self.naive_bytes)}, ratio {self.ratio:.3f}); "
                f"{len(self.buffers) - views} buffers over {self.num_steps} steps, "
                f"{sum(b.in_place_of is not None for b in self.buffers)} in place, "
                f"{views} views, lower bound {self.peak_live_bytes} bytes live at once{concats}")

    def report(self, buffers: bool = True) -> str:
        """One line per buffer (offset, size, live steps, in place of which, view of which)
        unless `buffers=False`, then one line per standalone concat (free, or copied and why),
        then the summary."""
        lines = []
        if buffers:
            width = max((len(b.name) for b in self.buffers), default=0)
            for b in sorted(self.buffers, key=lambda b: (b.first, b.name)):
                end = "end" if b.last >= self.num_steps else str(b.last)
                shared = f"  in place of {self.buffers[b.in_place_of].name}" if b.in_place_of is not None else ""
                if b.is_view:
                    shared += f"  view of {self.buffers[b.view_of].name} at +{b.view_offset}"
                lines.append(f"  {b.name:<{width}}  @{b.offset:>10}  {b.nbytes:>10} B  steps {b.first}..{end}"
                             f"  {b.detail}{shared}".rstrip())
        lines.extend(c.line() for c in self.concats)
        lines.append(self.summary())
        return "\n".join(lines)

    __str__ = report


def _human(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return str(n)


# ---------------------------------------------------------------------------------------------
# placement


def plan_buffers(buffers: list[Buffer], num_steps: int, in_place: dict[int, int] | None = None,
                 views: dict[int, tuple[int, int]] | None = None, align: int = ALIGN) -> MemoryPlan:
    """Place `buffers` (their first/last steps set) in one arena; `in_place` maps a buffer's index
    to the index of the operand buffer it may take over (see `in_place_operand`). A pair is only
    honoured when the operand dies where the output is born, has the same size, is not already
    given away and neither is a view; others are dropped silently (the output just gets its own
    place).

    `views` maps a buffer's index to (the index of the buffer it is a slice of, its byte offset
    there): a free concat's input inside the concat's output. Unlike in-place requests these are
    promises the caller already relies on (it runs no copy), so a malformed one raises ValueError:
    the offset must be a multiple of `align`, the view inside its buffer and disjoint from its sibling
    views, and no buffer a view of itself. A view gets no place of its own: its offset is its
    buffer's plus `view_offset`; the buffer it is a slice of (its root, up the chain) is made
    live from the first step of any view in it to the last, and each view lives to its root's
    last step (its bytes are read as part of the root)."""
    in_place = dict(in_place or {})
    _set_views(buffers, dict(views or {}), align)
    slot_of = list(range(len(buffers)))  # buffer -> the buffer heading its slot
    taken = set()
    for taker in sorted(in_place, key=lambda i: buffers[i].first):
        donor = in_place[taker]
        b, d = buffers[taker], buffers[donor]
        if donor in taken or d.last != b.first or d.first >= b.first or d.nbytes != b.nbytes:
            continue
        if b.is_view or d.is_view or donor == taker:
            continue
        taken.add(donor)
        b.in_place_of = donor
        slot_of[taker] = slot_of[donor]
    slots: dict[int, list[int]] = {}
    for i, head in enumerate(slot_of):
        if not buffers[i].is_view:
            slots.setdefault(head, []).append(i)

    # a slot: (size, first, last, members); zero-byte buffers need no place
    ranges = []
    for members in slots.values():
        size = round_up(max(buffers[i].nbytes for i in members), align)
        if size:
            first, last = min(buffers[i].first for i in members), max(buffers[i].last for i in members)
            ranges.append((size, first, last, members))
    ranges.sort(key=lambda r: (-r[0], r[1], r[3][0]))

    placed: list[tuple[int, int, int, int]] = []  # (offset, size, first, last)
    arena = 0
    for size, first, last, members in ranges:
        offset = _best_fit(placed, size, first, last)
        placed.append((offset, size, first, last))
        arena = max(arena, offset + size)
        for i in members:
            buffers[i].offset = offset
    for i, b in enumerate(buffers):
        if b.is_view:
            b.offset = _root_offset(buffers, i)
    return MemoryPlan(buffers, num_steps, arena)


def _root_of(buffers: list[Buffer], i: int) -> int:
    seen = set()
    while buffers[i].view_of is not None:
        if i in seen:
            raise ValueError(f"buffer {buffers[i].name} is a view of itself (a cycle of views)")
        seen.add(i)
        i = buffers[i].view_of
    return i


def _root_offset(buffers: list[Buffer], i: int) -> int:
    offset = 0
    while buffers[i].view_of is not None:
        offset += buffers[i].view_offset
        i = buffers[i].view_of
    return buffers[i].offset + offset


def _set_views(buffers: list[Buffer], views: dict[int, tuple[int, int]], align: int = ALIGN) -> None:
    """Record and check `views` (see `plan_buffers`), and extend the live ranges."""
    children: dict[int, list[int]] = {}
    for i, (parent, offset) in views.items():
        b, p = buffers[i], buffers[parent]
        if offset % align or offset < 0 or offset + b.nbytes > p.nbytes:
            raise ValueError(f"view {b.name} at +{offset} ({b.nbytes} bytes) is not a {align}-byte aligned slice "
                             f"of {p.name} ({p.nbytes} bytes)")
        b.view_of, b.view_offset = parent, offset
        children.setdefault(parent, []).append(i)
    for parent, kids in children.items():
        spans = sorted((buffers[k].view_offset, buffers[k].view_offset + buffers[k].nbytes) for k in kids
                       if buffers[k].nbytes)
        for (_, end), (start, _) in zip(spans, spans[1:]):
            if start < end:
                raise ValueError(f"views of {buffers[parent].name} overlap")
    for i in views:
        _root_of(buffers, i)  # no cycles
    # every buffer a view is in (up to its root) lives while the view's producer writes it
    for i in views:
        b, j = buffers[i], i
        while buffers[j].view_of is not None:
            j = buffers[j].view_of
            buffers[j].first = min(buffers[j].first, b.first)
            buffers[j].last = max(buffers[j].last, b.last)
    for i in views:
        buffers[i].last = buffers[_root_of(buffers, i)].last


def _best_fit(placed, size: int, first: int, last: int) -> int:
    """The offset of the smallest gap between the placed slots live at the same time that holds
    `size` bytes, else the top of the highest of them."""
    busy = sorted((o, o + s) for o, s, f, l in placed if f <= last and first <= l)
    best, best_gap, top = None, None, 0
    for start, end in busy:
        gap = start - top
        if gap >= size and (best_gap is None or gap < best_gap):
            best, best_gap = top, gap
        top = max(top, end)
    return best if best is not None else top


# ---------------------------------------------------------------------------------------------
# from the executor's steps


def in_place_operand(op: Operation, result_index: int = 0) -> list[int]:
    """Operand indices whose buffer `op`'s result may overwrite: the kernel reads each element of
    that operand only to compute the output element at the same index, and nothing after.

    The rule (conservative on purpose):
    - the op has exactly one result (a multi-output kernel may compute one output in a loop nest
      before another reads the operand);
    - it is a single op with the Elementwise trait, or an `nn.fused` group all of whose ops
      (except the `nn.yield` terminator) are Elementwise, in which every op that reads the
      operand's block argument has the result's shape;
    - the operand has the result's shape (a broadcast operand is read at other indices);
    - the byte sizes agree (checked when placing: f32 -> bool comparisons do not qualify).
    The caller (`plan_steps`) adds: the operand is a buffer of the arena (not an input or a
    constant) and this step is its last use (not a model output, not read later).
    Why this is safe for TVM's kernels: each loop iteration loads in[i] and then stores out[i],
    and no other iteration reads in[i]; vectorised or parallel loops keep that (ONNX Runtime's
    allocation planner reuses an input buffer for elementwise ops under the same conditions)."""
    if len(op.results) != 1:
        return []
    shape = tuple(getattr(op.results[result_index].type, "shape", ()) or ())
    candidates = [i for i, v in enumerate(op.operands) if tuple(getattr(v.type, "shape", ()) or ()) == shape]
    if not candidates:
        return []
    if not op.regions:
        return candidates if op.has_trait(Elementwise) else []
    if op.name != "nn.fused" or len(op.regions) != 1 or len(op.regions[0].blocks) != 1:
        return []
    block = op.regions[0].blocks[0]
    inner = [o for o in block if o.name != "nn.yield"]
    if not all(o.has_trait(Elementwise) and not o.regions for o in inner):
        return []
    keep = []
    for i in candidates:
        if i >= len(block.args):
            return []
        readers = block.args[i].users
        if all(tuple(getattr(r.results[0].type, "shape", ())) == shape for r in readers if r.results):
            keep.append(i)
    return keep


def nbytes_of(value: Value) -> int:
    t = value.type
    return int(np.prod(t.shape, dtype=np.int64)) * np.dtype(t.element_type.numpy_dtype).itemsize


def _label(value: Value) -> str:
    if value.name_hint:
        return f"%{value.name_hint}"
    owner = getattr(value, "op", None)
    return f"the result of {owner.name}" if owner is not None else "an input"


def _type_text(value: Value) -> str:
    return f"{'x'.join(str(d) for d in value.type.shape) or 'scalar'} {value.type.element_type}"


@dataclass
class ConcatPlan:
    """What the planner decided for one standalone `nn.concat`: `free` (its inputs are views of
    its output, written there by their producers; the concat does not run) or copied (a kernel
    of its own), with the `reason`. `offsets`: each input's byte offset inside the output."""

    op: Operation
    free: bool
    reason: str = ""
    offsets: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return _label(self.op.results[0])

    def line(self) -> str:
        """One line of the memory report."""
        y = self.op.results[0]
        if self.free:
            inputs = ", ".join(f"{_label(v)} at +{o}" for v, o in zip(self.op.operands, self.offsets))
            return f"  concat {self.name} ({_type_text(y)}): free, its producers write {inputs}"
        return f"  concat {self.name} ({_type_text(y)}): copied, {self.reason}"


def plan_concats(ops: list[Operation], outputs: list[Value], can_view=None, align: int = ALIGN) -> list[ConcatPlan]:
    """Which standalone `nn.concat`s among `ops` (the kernels, in run order) can be free. One is
    free when
    - each input is a result of one of `ops` (a kernel's, or another concat's: a concat of
      concats nests): not a model input, a constant or a value computed at compile time;
    - each input is read by this concat only, once, and is not a model output (the concat's own
      output may be one);
    - each input is a contiguous slice of the output: every dimension before the axis is 1
      (NCHW with N=1 on axis 1, any axis-0 concat, NCHW{c}c with N=1 on axis 1);
    - each input's byte offset in the output is a multiple of 64: TVM refuses a DLPack view that
      is not 64-byte aligned (`FromDLPack: Data is not aligned to 64 bytes`), so such a concat
      is copied, as before (a kernel with the offset as a parameter would be the alternative);
    - `can_view(dtype)`, when given, says TVM can share memory of that dtype (bfloat16 it cannot);
    - `align`: the alignment views need (64 for TVM's CPU tensors; an OpenCL sub-buffer needs
      the device's `mem_base_addr_align`, lowering/targets.py `buffer_align`).
    A copied concat's `reason` names the first input that failed and why."""
    produced = {id(r) for op in ops for r in op.results}
    returned = {id(v) for v in outputs}
    plans = []
    for op in ops:
        if op.name != "nn.concat" or len(op.results) != 1:
            continue
        plans.append(_plan_concat(op, produced, returned, can_view, align))
    return plans


def _plan_concat(op: Operation, produced: set, returned: set, can_view, align: int = ALIGN) -> ConcatPlan:
    y = op.results[0]
    shape = tuple(getattr(y.type, "shape", ()) or ())

    def copied(reason: str) -> ConcatPlan:
        return ConcatPlan(op, False, reason)

    if not shape or any(d is None for d in shape) or any(
            d is None for v in op.operands for d in getattr(v.type, "shape", (None,))):
        return copied("its shape is not static")
    axis_attr = op.axis
    axis = int(getattr(axis_attr, "value", axis_attr))
    axis = axis % len(shape)
    dtype = np.dtype(y.type.element_type.numpy_dtype)
    if any(d != 1 for d in shape[:axis]):
        return copied(f"the inputs are not contiguous slices of the output (dimensions "
                      f"{'x'.join(map(str, shape[:axis]))} before axis {axis}, not all 1)")
    if can_view is not None and not can_view(dtype):
        return copied(f"TVM cannot share {dtype.name} memory (DLPack)")
    inner = int(np.prod(shape[axis + 1:], dtype=np.int64)) * dtype.itemsize
    offsets, at = [], 0
    for v in op.operands:
        offsets.append(at)
        at += int(v.type.shape[axis]) * inner
    for v, offset in zip(op.operands, offsets):
        name = _label(v)
        if id(v) not in produced:
            what = "a model input" if getattr(v, "op", None) is None else "a constant or computed at compile time"
            return copied(f"input {name} is {what}")
        if id(v) in returned:
            return copied(f"input {name} is a model output")
        readers = [u.operation for u in v.uses]
        if len(readers) > 1 and all(r is op for r in readers):
            return copied(f"input {name} is read twice by it")
        if len(readers) != 1:
            others = sorted({r.name for r in readers if r is not op})
            return copied(f"input {name} has other users ({', '.join(others)})")
        if offset % align and nbytes_of(v):
            need = "TVM needs 64-byte aligned views" if align == ALIGN else "the device's sub-buffer alignment"
            return copied(f"input {name} would start at byte {offset} of the output, not a multiple of "
                          f"{align} ({need})")
    return ConcatPlan(op, True, "", offsets)


def plan_steps(step_ops: list[Operation], outputs: list[Value], in_place: bool = True,
               concats: list[ConcatPlan] = (), align: int = ALIGN) -> tuple[MemoryPlan, dict]:
    """Plan the results of `step_ops` (the executor's kernels, in the order they run);
    `outputs` are the function's results (live to the end). `concats` (from `plan_concats`):
    the free ones are not steps; their outputs get buffers of their own and their inputs are
    views of those. Returns the plan and a map from each planned value to its buffer's index."""
    index: dict[Value, int] = {}
    buffers: list[Buffer] = []
    for step, op in enumerate(step_ops):
        for r in op.results:
            index[r] = len(buffers)
            name = f"%{r.name_hint}" if r.name_hint else f"%{step}#{r.index}" if len(op.results) > 1 else f"%{step}"
            buffers.append(Buffer(name, nbytes_of(r), step, step, detail=f"{op.name} {_type_text(r)}"))
    num_steps = len(step_ops)
    free = [c for c in concats if c.free]
    for k, c in enumerate(free):
        y = c.op.results[0]
        if y in index:
            raise ValueError(f"concat {c.name} is free but also a step")
        index[y] = len(buffers)
        name = f"%{y.name_hint}" if y.name_hint else f"%concat{k}"
        # first/last: set from its views and its readers below
        buffers.append(Buffer(name, nbytes_of(y), num_steps, -1, detail=f"nn.concat {_type_text(y)} (free)"))
    views: dict[int, tuple[int, int]] = {}
    for c in free:
        for v, offset in zip(c.op.operands, c.offsets):
            if v not in index:
                raise ValueError(f"an input of the free concat {c.name} is not computed by a step")
            views[index[v]] = (index[c.op.results[0]], offset)
    for step, op in enumerate(step_ops):
        for v in op.operands:
            if v in index:
                b = buffers[index[v]]
                b.last = max(b.last, step)
    for v in outputs:
        if v in index:
            buffers[index[v]].last = num_steps
    pairs: dict[int, int] = {}
    if in_place:
        for step, op in enumerate(step_ops):
            if not op.results or index[op.results[0]] in views:
                continue  # a view is written where its concat's output lives, never in place
            for i in in_place_operand(op):
                v = op.operands[i]
                if v in index and buffers[index[v]].last == step and index[v] not in views:
                    pairs[index[op.results[0]]] = index[v]
                    break
    plan = plan_buffers(buffers, num_steps, pairs, views, align)
    plan.concats = list(concats)
    return plan, index
