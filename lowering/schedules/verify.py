"""The schedule verifier: a `sched.schedule` program checked against its target (and, when
known, its kernel's loop nest) before TVM sees it. Every problem is one `ScheduleError` at the
op's line and column, never a TVM traceback.

It walks the program once, keeping for each handle what is known of it:
  1. A handle that a primitive consumed (the loop a split or fuse replaced, the block an inline
     removed, the loops of a block that compute_at moved, the reduction loops rfactor moved into
     its new block) may not be used again.
  2. Loops from `get_loops` of a block whose nest is still the compute's have the compute's
     extents and kinds (spatial / reduce); splits and fuses carry them on. A primitive that
     reshapes a nest (compute_at, cache_write, decompose_reduction, ...) makes that block's
     later loops unknown here, and compute_at those of the block it moves into too (the two
     share loops then, as meta-schedule's schedules use them); `lowering/tvm_adapter.py`
     repeats the extent checks with TVM's real loops while it applies the program
     (`check_split`, `check_bind`), so nothing is lost.
  3. Target rules: the program names its target; bind only on a GPU target, with its thread
     tags and its threads-per-block limit; no vectorize or parallel of a reduction loop.
  4. TVM 0.27 computes a wrong result for rfactor followed by compute_at of the rfactor block
     when the rfactored loop comes from a split that does not divide its extent (a row sum of
     1000 ones split by 128 gives 1024: tests/test_schedule_verifier.py shows it): refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lamina.compiler.errors import LaminaError
from lamina.compiler.ir import Operation, Value

SPATIAL, REDUCE = "spatial", "reduce"


class ScheduleError(LaminaError):
    """A schedule that does not fit its kernel or target."""


@dataclass
class LoopInfo:
    """What the compute says of one loop: its name, extent and kind."""

    name: str
    extent: int
    kind: str


@dataclass
class KernelInfo:
    """A kernel's blocks (TE computes, in order) and each one's loop nest before scheduling;
    made by `tvm_adapter.kernel_info`."""

    blocks: dict[str, list[LoopInfo]] = field(default_factory=dict)


def _name(value: Value) -> str:
    return f"%{value.name_hint}" if value.name_hint else "a handle"


def error(op: Operation, message: str, hint: str | None = None) -> ScheduleError:
    return ScheduleError(f"'{op.name}' {message}", pos=op.source_pos, hint=hint)


def _where(op: Operation) -> str:
    return f"at {op.source_pos.line}:{op.source_pos.col}" if op.source_pos else f"by '{op.name}'"


# ---------------------------------------------------------------------------------------------
# checks shared with the adapter, which runs them again on TVM's real loops


def check_split(op, extent: int | None, factors: list[int], exact: bool) -> None:
    if any(f < 1 for f in factors):
        raise error(op, f"has a factor below 1 ({factors})")
    if exact and extent is not None:
        product = 1
        for f in factors:
            product *= f
        if product < extent:
            raise error(op, f"factors {' x '.join(map(str, factors))} = {product} do not cover the loop's "
                            f"extent {extent}", "make the product at least the extent (a larger one is legal: "
                                                "the kernel then tests a bound), or drop `exact` to infer the outer loop")


def check_bind(op, target, tag: str, extent: int | None) -> None:
    if not target.thread_tags:
        raise error(op, f"binds a loop to {tag}, but target '{target.name}' has no GPU threads",
                    "on a CPU target use sched.parallel and sched.vectorize")
    if tag not in target.thread_tags:
        raise error(op, f"binds to '{tag}', which target '{target.name}' does not have",
                    f"thread tags: {', '.join(target.thread_tags)}")
    if tag.startswith("threadIdx") and extent is not None and extent > target.max_threads_per_block:
        raise error(op, f"binds {tag} to a loop of {extent} iterations, over target '{target.name}''s limit of "
                        f"{target.max_threads_per_block} threads per block", "split the loop first")


def check_loop_kind(op, kind: str | None) -> None:
    """No vectorize, parallel or blockIdx binding of a reduction loop. Binding one to threadIdx
    is a GPU's cross-thread reduction (TVM lowers it to a tree in shared memory or warp
    shuffles): allowed."""
    if kind == REDUCE and op.name == "sched.bind" and op.thread.value.startswith("threadIdx"):
        return
    if kind == REDUCE and op.name in ("sched.vectorize", "sched.parallel", "sched.bind"):
        verb = {"sched.vectorize": "vectorize", "sched.parallel": "parallelize", "sched.bind": "bind"}[op.name]
        done = "vectorized" if verb == "vectorize" else "run in parallel"
        raise error(op, f"would {verb} a reduction loop",
                    f"only data-parallel loops can be {done}"
                    + ("; a block's threads (threadIdx) can share a reduction" if verb == "bind" else
                       "; rfactor the reduction first"))


def check_target(program, target) -> None:
    if program.target_name != target.name:
        raise error(program, f"@{program.kernel} was written for target '{program.target_name}', not '{target.name}'",
                    f"emit the schedules again with --target {target.name}, or build for {program.target_name}")


# ---------------------------------------------------------------------------------------------


@dataclass
class _Loop:
    extent: int | None
    kind: str | None
    owner: str | None              # the block whose get_loops gave it (moved by compute_at: invalid)
    uneven_split: bool = False     # comes from a split that does not divide its loop


class _Walk:
    def __init__(self, program, target, kernel: KernelInfo | None):
        self.program, self.target, self.kernel = program, target, kernel
        self.consumed: dict[Value, Operation] = {}
        self.loops: dict[Value, _Loop] = {}
        self.block_of: dict[Value, str] = {}   # block handle -> its TVM name (when known)
        self.reshaped: set[str] = set()        # blocks whose loop nest is no longer the compute's
        self.knobs: dict[Value, int] = {}
        self.uneven_rfactor: set[str] = set()  # blocks (and their rfactor blocks) at risk of TVM's bug

    def use(self, op, value):
        if value in self.consumed:
            by = self.consumed[value]
            raise error(op, f"uses {_name(value)}, which '{by.name}' {_where(by)} consumed",
                        "take a fresh handle (sched.get_loops / sched.get_block) after that primitive")

    def run(self):
        check_target(self.program, self.target)
        for op in self.program.block:
            for v in op.operands:
                self.use(op, v)
            getattr(self, "op_" + op.name.split(".")[1], self.other)(op)

    def consume(self, op, *values):
        for v in values:
            self.consumed[v] = op

    def reshape(self, op, block_value):
        """`block_value`'s loops change: the handles to its loops from before are invalid."""
        name = self.block_of.get(block_value)
        if name is None:
            return
        self.reshaped.add(name)
        for v, loop in self.loops.items():
            if loop.owner == name and v not in self.consumed:
                self.consumed[v] = op

    # -- the ops

    def op_knob(self, op):
        self.knobs[op.result] = op.decision

    def op_get_block(self, op):
        name = op.block_name.value
        if self.kernel is not None and name not in self.kernel.blocks and not any(
                name.startswith(b) for b in self.kernel.blocks):
            raise error(op, f"names block @{name}, which the kernel does not have",
                        f"its blocks: {', '.join('@' + b for b in self.kernel.blocks)}")
        self.block_of[op.result] = name

    def op_get_loops(self, op):
        name = self.block_of.get(op.target)
        nest = None
        if self.kernel is not None and name in self.kernel.blocks and name not in self.reshaped:
            nest = self.kernel.blocks[name]
            if len(nest) != len(op.results):
                raise error(op, f"names {len(op.results)} loops, but block @{name} has {len(nest)}",
                            f"its loops: {', '.join(l.name for l in nest)}")
        for i, r in enumerate(op.results):
            info = nest[i] if nest else None
            self.loops[r] = _Loop(info.extent if info else None, info.kind if info else None, name)

    def op_split(self, op):
        loop = self.loops.get(op.loop, _Loop(None, None, None))
        factors = [self.knobs.get(f) for f in op.factors]
        if all(f is not None for f in factors):
            check_split(op, loop.extent, factors, bool(op.exact))
        product = 1
        for f in factors:
            product = product * f if f is not None and product is not None else None
        uneven = loop.uneven_split or (loop.extent is not None and product is not None and (
            loop.extent % product != 0 if not op.exact else product != loop.extent))
        extents = [None] * len(op.results)
        if loop.extent is not None and product is not None:
            inner = factors if op.exact else [-(-loop.extent // product), *factors]
            extents = inner
        for r, e in zip(op.results, extents):
            self.loops[r] = _Loop(e, loop.kind, loop.owner, uneven)
        self.consume(op, op.loop)
        if loop.owner:  # its nest has more loops now: a later get_loops is not the compute's
            self.reshaped.add(loop.owner)

    def op_fuse(self, op):
        parts = [self.loops.get(v, _Loop(None, None, None)) for v in op.loops]
        extent = 1
        for p in parts:
            extent = extent * p.extent if extent is not None and p.extent is not None else None
        kinds = {p.kind for p in parts}
        kind = REDUCE if REDUCE in kinds else (SPATIAL if kinds == {SPATIAL} else None)
        self.loops[op.result] = _Loop(extent, kind, parts[0].owner, any(p.uneven_split for p in parts))
        self.consume(op, *op.loops)
        if parts and parts[0].owner:
            self.reshaped.add(parts[0].owner)

    def op_add_unit_loop(self, op):
        name = self.block_of.get(op.block)
        self.loops[op.result] = _Loop(1, SPATIAL, name)
        if name is not None:
            self.reshape(op, op.block)

    def op_bind(self, op):
        loop = self.loops.get(op.loop, _Loop(None, None, None))
        check_bind(op, self.target, op.thread.value, loop.extent)
        check_loop_kind(op, loop.kind)

    def op_parallel(self, op):
        check_loop_kind(op, self.loops.get(op.loop, _Loop(None, None, None)).kind)

    op_vectorize = op_parallel

    def op_compute_inline(self, op):
        self.consume(op, op.block)
        self.reshape(op, op.block)

    op_reverse_compute_inline = op_compute_inline

    def op_compute_at(self, op):
        name = self.block_of.get(op.block)
        if name is not None and name in self.uneven_rfactor:
            raise error(op, f"moves @{name}, made by rfactor of a loop from a split that does not divide its "
                            "extent: TVM 0.27 drops the bound test there and sums past the end",
                        "split the reduction by a factor that divides its extent")
        self.reshape(op, op.block)
        host = self.loops.get(op.loop, _Loop(None, None, None)).owner
        if host is not None:  # the two blocks share these loops now: a split or fuse through one reshapes both
            self.reshaped.add(host)

    op_reverse_compute_at = op_compute_at

    def op_cache_write(self, op):
        base = self.block_of.get(op.block)
        if base is not None:
            self.block_of[op.result] = f"{base}.{op.scope.value}"
            self.reshaped.add(self.block_of[op.result])

    op_cache_read = op_cache_write

    def op_decompose_reduction(self, op):
        base = self.block_of.get(op.block)
        if base is not None:
            self.block_of[op.result] = base + "_init"
            self.reshaped.add(base + "_init")
        self.reshape(op, op.block)

    def op_rfactor(self, op):
        loop = self.loops.get(op.loop, _Loop(None, None, None))
        name = loop.owner or "rfactor"
        self.block_of[op.result] = name + "_rf"
        self.reshaped.add(name + "_rf")
        if loop.uneven_split:
            self.uneven_rfactor.update({name, name + "_rf"})
        if loop.owner:  # the block keeps its spatial loops and the factored one; its other reduction loops go
            self.reshaped.add(loop.owner)
            for v, other in self.loops.items():
                if other.owner == loop.owner and other.kind == REDUCE and v is not op.loop and v not in self.consumed:
                    self.consumed[v] = op

    def op_merge_axes(self, op):
        if op.target.value == "iters":  # the block's loops are rebuilt
            self.reshape(op, op.block)

    def other(self, op):
        pass


def verify_schedule(program, target, kernel: KernelInfo | None = None) -> None:
    """Raise the first ScheduleError of `program` (a sched.schedule op) for `target` (a
    lowering.targets.Target) and, when given, the kernel's unscheduled loop nests."""
    from lamina.compiler.verifier import verify

    verify(program)
    _Walk(program, target, kernel).run()
