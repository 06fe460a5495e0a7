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

Guarantees (tests/test_memory_plan.py checks them on random problems and random nn graphs): two
buffers whose live ranges overlap never overlap in the arena (except an in-place pair, which
shares one slot by design and hands it over at one step), and
`max live bytes at any step <= arena_bytes <= naive_bytes`.
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
    naive_bytes: int = field(init=False)

    def __post_init__(self):
        self.naive_bytes = sum(round_up(b.nbytes) for b in self.buffers)

    @property
    def ratio(self) -> float:
        return self.arena_bytes / self.naive_bytes if self.naive_bytes else 1.0

    def live_bytes(self, step: int) -> int:
        """Bytes that must be distinct at `step`: each live buffer, but an in-place output only
        once with the operand it took over (they share a slot)."""
        total = 0
        for b in self.buffers:
            if not b.live_at(step):
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

    def summary(self) -> str:
        return (f"memory plan: peak {self.arena_bytes} bytes planned vs naive {self.naive_bytes} bytes "
                f"({_human(self.arena_bytes)} vs {_human(self.naive_bytes)}, ratio {self.ratio:.3f}); "
                f"{len(self.buffers)} buffers over {self.num_steps} steps, "
                f"{sum(b.in_place_of is not None for b in self.buffers)} in place, "
                f"lower bound {self.peak_live_bytes} bytes live at once")

    def report(self, buffers: bool = True) -> str:
        """One line per buffer (offset, size, live steps, in place of which), then the summary."""
        lines = []
        if buffers:
            width = max((len(b.name) for b in self.buffers), default=0)
            for b in sorted(self.buffers, key=lambda b: (b.first, b.name)):
                end = "end" if b.last >= self.num_steps else str(b.last)
                shared = f"  in place of {self.buffers[b.in_place_of].name}" if b.in_place_of is not None else ""
                lines.append(f"  {b.name:<{width}}  @{b.offset:>10}  {b.nbytes:>10} B  steps {b.first}..{end}"
                             f"  {b.detail}{shared}".rstrip())
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


def plan_buffers(buffers: list[Buffer], num_steps: int, in_place: dict[int, int] | None = None) -> MemoryPlan:
    """Place `buffers` (their first/last steps set) in one arena; `in_place` maps a buffer's index
    to the index of the operand buffer it may take over (see `in_place_operand`). A pair is only
    honoured when the operand dies where the output is born, has the same size and is not already
    given away; others are dropped silently (the output just gets its own place)."""
    in_place = dict(in_place or {})
    slot_of = list(range(len(buffers)))  # buffer -> the buffer heading its slot
    taken = set()
    for taker in sorted(in_place, key=lambda i: buffers[i].first):
        donor = in_place[taker]
        b, d = buffers[taker], buffers[donor]
        if donor in taken or d.last != b.first or d.first >= b.first or d.nbytes != b.nbytes:
            continue
        taken.add(donor)
        b.in_place_of = donor
        slot_of[taker] = slot_of[donor]
    slots: dict[int, list[int]] = {}
    for i, head in enumerate(slot_of):
        slots.setdefault(head, []).append(i)

    # a slot: (size, first, last, members); zero-byte buffers need no place
    ranges = []
    for members in slots.values():
        size = round_up(max(buffers[i].nbytes for i in members))
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
    return MemoryPlan(buffers, num_steps, arena)


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


def plan_steps(step_ops: list[Operation], outputs: list[Value], in_place: bool = True) -> tuple[MemoryPlan, dict]:
    """Plan the results of `step_ops` (the executor's kernels, in the order they run);
    `outputs` are the function's results (live to the end). Returns the plan and a map from each
    planned value to its buffer's index."""
    index: dict[Value, int] = {}
    buffers: list[Buffer] = []
    for step, op in enumerate(step_ops):
        for r in op.results:
            index[r] = len(buffers)
            shape = "x".join(str(d) for d in r.type.shape) or "scalar"
            name = f"%{r.name_hint}" if r.name_hint else f"%{step}#{r.index}" if len(op.results) > 1 else f"%{step}"
            buffers.append(Buffer(name, nbytes_of(r), step, step, detail=f"{op.name} {shape} {r.type.element_type}"))
    for step, op in enumerate(step_ops):
        for v in op.operands:
            if v in index:
                b = buffers[index[v]]
                b.last = max(b.last, step)
    for v in outputs:
        if v in index:
            buffers[index[v]].last = len(step_ops)
    pairs: dict[int, int] = {}
    if in_place:
        for step, op in enumerate(step_ops):
            for i in in_place_operand(op):
                v = op.operands[i]
                if v in index and buffers[index[v]].last == step:
                    pairs[index[op.results[0]]] = index[v]
                    break
    return plan_buffers(buffers, len(step_ops), pairs), index
