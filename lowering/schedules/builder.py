"""Write a schedule as IR while it is applied: what schedule generators use.

A generator calls `b.split(loop, [b.knob("mb", 8)])` and the builder appends the op to its
`sched.schedule` program and applies it at once to the kernel's TVM schedule (through
lowering/tvm_adapter.py's `ScheduleState`, the same code that applies a schedule file), so the
generator can ask about the loops it made (`b.extent(loop)`) and decide the next step. The result
is the program; applying it afresh to the kernel gives the same TVMScript (tests check it).

Knob ops go at the top of the program, in the order the generator asked for them, so a reader
sees a kernel's decisions first.

Most knobs are numbers the program uses (split factors): changing one in the program text gives
another valid program of the same structure. A *choice* (`b.choice("loop_order", 1, (1, 2))`)
is a decision the generator itself branches on (a loop order, how many loops run in parallel):
it is a knob op too, so the program says what was chosen, but another value means another
program, written by running the generator again with `decisions` (what tuning and
`KernelExperiment.with_knobs` do: `regenerate`). A builder made with `decisions` takes every
knob's value from them where they name it.
"""

from __future__ import annotations

import re

from lamina.dialects import sched

from .. import tvm_adapter


class DecisionError(ValueError):
    """A choice given a value it does not offer: a generator re-raises it rather than falling
    back to another generator, so the user learns why."""


class ScheduleBuilder:
    def __init__(self, kernel: str, target, module=None, state=None, decisions: dict | None = None):
        self.target = target
        self.program = sched.ScheduleOp.create(kernel, target.name)
        self.state = state if state is not None else tvm_adapter.ScheduleState(module, target)
        self._knobs: dict[str, object] = {}
        self._n_knobs = 0
        self.decisions = dict(decisions or {})
        self.choices: dict[str, tuple[int, ...]] = {}  # choice knob -> the values it may take
        # the generator whose schedule this is (cpu.py `cpu_schedule` names the one it picked:
        # "matmul_schedule", "conv_schedule", ...); `lamina bench --per-kernel` shows it
        self.generator = ""

    def fork(self) -> "ScheduleBuilder":
        """A copy to try a schedule on (`cpu.py` falls back to the default when one fails)."""
        other = ScheduleBuilder.__new__(ScheduleBuilder)
        other.target = self.target
        other.program = self.program.clone()
        mapping = dict(zip(_values(self.program), _values(other.program)))
        other.state = self.state.copy()
        other.state.values = {mapping.get(k, k): v for k, v in self.state.values.items()}
        other.state.consumed = {mapping.get(k, k): v for k, v in self.state.consumed.items()}
        other._knobs = {k: mapping.get(v, v) for k, v in self._knobs.items()}
        other._n_knobs = self._n_knobs
        other.decisions = self.decisions
        other.choices = dict(self.choices)
        other.generator = self.generator
        return other

    # -- emitting --------------------------------------------------------------------------------

    def _emit(self, op, names=()):
        for r, n in zip(op.results, names):
            r.name_hint = n
        self.program.block.append(op)
        self.state.apply(op)
        return op

    def knob(self, name: str, value: int):
        """The value of knob `name` (made on first use; asking again with another value is a
        generator bug: each knob has one decision); with `decisions`, their value for it."""
        name = knob_name(name)
        value = self.decisions.get(name, value)
        if name in self._knobs:
            existing = self._knobs[name].owner
            if existing.decision != int(value):
                raise ValueError(f"knob {name} asked for as {value} and {existing.decision}")
            return self._knobs[name]
        op = sched.KnobOp.create(name, int(value))
        op.results[0].name_hint = name
        block = self.program.block
        if self._n_knobs < len(block.ops):
            block.insert_before(op, block.ops[self._n_knobs])
        else:
            block.append(op)
        self._n_knobs += 1
        self.state.apply(op)
        self._knobs[name] = op.results[0]
        return op.results[0]

    def choice(self, name: str, default: int, values) -> int:
        """A decision the generator branches on: `default` (or the builder's `decisions` value,
        which must be one of `values`), made a knob of the program. Returns the value."""
        values = tuple(sorted({int(v) for v in values} | {int(default)}))
        name = knob_name(name)
        self.choices[name] = values
        value = int(self.decisions.get(name, default))
        if value not in values:
            raise DecisionError(f"choice {name} is one of {list(values)}, not {value}")
        return int(self.knob(name, value).owner.decision)

    def fixed(self, name: str, value: int):
        """A knob whose value the kernel's compute decides (the tile of a Winograd conv), not a
        decision: the builder's decisions leave it, and tuning does not vary it (a choice of
        one value). Returns its handle."""
        name = knob_name(name)
        self.choices[name] = (int(value),)
        decisions, self.decisions = self.decisions, {k: v for k, v in self.decisions.items() if k != name}
        try:
            return self.knob(name, value)
        finally:
            self.decisions = decisions

    def get_block(self, name: str):
        return self._emit(sched.GetBlockOp.create(name), [_hint(name)]).results[0]

    def get_loops(self, block) -> list:
        count = self.state.sch and len(self.state.sch.get_loops(self.state.values[block]))
        op = sched.GetLoopsOp(operands=[block], result_types=[sched.LOOP] * count)
        self.program.block.append(op)
        self.state.apply(op)
        for r in op.results:
            r.name_hint = _hint(self.state.loop_name(r))
        return list(op.results)

    def split(self, loop, factors: list, exact: bool = False) -> list:
        n = len(factors) + (0 if exact else 1)
        base = loop.name_hint or "l"
        op = sched.SplitOp(operands=[loop, *factors], result_types=[sched.LOOP] * n,
                           properties={"exact": sched.UnitAttr()} if exact else {})
        names = [f"{base}_o", f"{base}_i"] if n == 2 else [f"{base}_{k}" for k in range(n)]
        return list(self._emit(op, names).results)

    def fuse(self, *loops):
        return self._emit(sched.FuseOp(operands=list(loops), result_types=[sched.LOOP]), ["fused"]).results[0]

    def add_unit_loop(self, block):
        return self._emit(sched.AddUnitLoopOp(operands=[block], result_types=[sched.LOOP]), ["unit"]).results[0]

    def reorder(self, *loops) -> None:
        self._emit(sched.ReorderOp(operands=list(loops)))

    def bind(self, loop, thread: str) -> None:
        self._emit(sched.BindOp(operands=[loop], properties={"thread": sched.StringAttr(thread)}))

    def parallel(self, loop) -> None:
        self._emit(sched.ParallelOp(operands=[loop]))

    def vectorize(self, loop) -> None:
        self._emit(sched.VectorizeOp(operands=[loop]))

    def unroll(self, loop) -> None:
        self._emit(sched.UnrollOp(operands=[loop]))

    def annotate(self, handle, key: str, value: int | str):
        """Annotate a loop or block with an integer or a string; returns the op."""
        attr = sched.StringAttr(value) if isinstance(value, str) else sched.IntegerAttr(int(value), sched.i64)
        return self._emit(sched.AnnotateOp(operands=[handle], properties={"key": sched.StringAttr(key),
                                                                         "value": attr}))

    def compute_at(self, block, loop, preserve_unit_loops: bool = False) -> None:
        self._emit(sched.ComputeAtOp(operands=[block, loop], properties=_unit_loops(preserve_unit_loops)))

    def reverse_compute_at(self, block, loop, preserve_unit_loops: bool = False) -> None:
        self._emit(sched.ReverseComputeAtOp(operands=[block, loop], properties=_unit_loops(preserve_unit_loops)))

    def compute_inline(self, block) -> None:
        self._emit(sched.ComputeInlineOp(operands=[block]))

    def reverse_compute_inline(self, block) -> None:
        self._emit(sched.ReverseComputeInlineOp(operands=[block]))

    def _cache(self, cls, block, index: int, scope: str, suffix: str):
        op = cls(operands=[block], result_types=[sched.BLOCK], properties={
            "buffer_index": sched.IntegerAttr(index, sched.i64), "scope": sched.StringAttr(scope)})
        return self._emit(op, [f"{block.name_hint or 'b'}_{suffix}"]).results[0]

    def cache_read(self, block, index: int, scope: str):
        return self._cache(sched.CacheReadOp, block, index, scope, scope)

    def cache_write(self, block, index: int, scope: str):
        return self._cache(sched.CacheWriteOp, block, index, scope, scope)

    def set_scope(self, block, index: int, scope: str) -> None:
        self._emit(sched.SetScopeOp(operands=[block], properties={
            "buffer_index": sched.IntegerAttr(index, sched.i64), "scope": sched.StringAttr(scope)}))

    def decompose_reduction(self, block, loop):
        op = sched.DecomposeReductionOp(operands=[block, loop], result_types=[sched.BLOCK])
        return self._emit(op, [f"{block.name_hint or 'b'}_init"]).results[0]

    def rfactor(self, loop, factor_axis: int):
        op = sched.RFactorOp(operands=[loop], result_types=[sched.BLOCK],
                             properties={"factor_axis": sched.IntegerAttr(factor_axis, sched.i64)})
        return self._emit(op, ["rf"]).results[0]

    def transform_layout(self, block, buffer: str, index: int, axes) -> None:
        self._emit(sched.TransformLayoutOp.create(block, buffer, axes, index))

    def merge_axes(self, block, target: str, first: int, last: int, index: int = 0) -> None:
        self._emit(sched.MergeAxesOp.create(block, target, (first, last), index))

    # -- asking about the kernel (no IR) ---------------------------------------------------------

    def block_names(self) -> list[str]:
        return self.state.block_names()

    def iter_kinds(self, block) -> list[str]:
        return self.state.iter_kinds(block)

    def kinds_of(self, name: str) -> list[str]:
        """The iteration kinds (spatial, reduce) of block `name`, without a handle to it."""
        return self.state.kinds_of(name)

    def extent(self, loop) -> int:
        return self.state.extent(loop)

    def extents(self, loops) -> list[int]:
        return [self.state.extent(l) for l in loops]

    def extent_bounds(self, loops) -> list[int]:
        """Each loop's largest extent (`ScheduleState.extent_bound`): for sizing what a tile may hold."""
        return [self.state.extent_bound(l) for l in loops]

    def loop_count(self, block) -> int:
        return self.state.loop_count(block)

    def reads(self, block) -> list[tuple[str, tuple]]:
        return self.state.reads(block)

    def reads_of(self, name: str) -> list[tuple[str, tuple]]:
        """`reads` of block `name`, without a handle to it (no op in the program)."""
        return self.state.reads_of(name)

    def block_loop_extents(self, name: str) -> list[int]:
        return [int(l.extent) for l in self.state.loops_of(name)]

    def own_loops(self, nest, loops) -> list:
        """The loops of `loops` not shared with block `nest` (a handle)."""
        sch = self.state.sch
        shared = [sch.get(l) for l in sch.get_loops(self.state.values[nest])]
        return [l for l in loops if not any(self.state.sch.get(self.state.values[l]).same_as(x) for x in shared)]

    @property
    def mod(self):
        return self.state.mod


def _unit_loops(preserve: bool) -> dict:
    return {"preserve_unit_loops": sched.UnitAttr()} if preserve else {}


def _values(program):
    out = []
    for op in program.block:
        out.extend(op.results)
    return out


def knob_name(text: str) -> str:
    """A knob name from a generator's words: lower case, `_` for anything else."""
    name = re.sub(r"[^a-z0-9_]", "_", text.lower()).strip("_") or "k"
    return name if name[0].isalpha() else "k_" + name


def _hint(text: str) -> str:
    return re.sub(r"[^\w]", "_", str(text))
