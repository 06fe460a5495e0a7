"""A task's search space: the knobs of its default schedule program, each with the values worth
trying.

A schedule generator writes every decision as a `sched.knob` at the top of the program (tile
sizes, vector widths, unroll blocks, packing blocks), so a candidate schedule is the default
program with some knob decisions changed: the program's structure (which loops are split,
reordered, vectorized, parallel) stays the generator's. That keeps every candidate readable as
a diff of numbers, and is the space TVM's meta-schedule searches too (sampling decisions).

Which values, per knob (the default is always one):
  - a knob that is a split factor: the loop it splits has extent E (read by replaying the default
    program on the kernel; for a knob splitting several loops, the largest). Candidates are the
    powers of two and the divisors of E, up to E: powers of two because vector widths and cache
    lines are, divisors because a factor that divides E needs no bound test in the loop;
  - any other knob (a packing block `pack_*`, which must divide what it blocks: the compute
    refuses it otherwise, and the candidate is dropped): powers of two;
  - never 1 unless the default is 1: a split by 1 leaves a loop of extent 1, which compute-at
    and reverse-compute-at do not recreate in the consumer, so the default program's get_loops
    there names more loops than the block has and the candidate fails to build (48 of 1009
    candidates of a MobileNetV2 run did: wb, hb, vw, cb or pack_ob set to 1); nor E unless the
    default is E, which leaves the outer loop of extent 1 (a row reduction's lanes as many as
    the row: its loop of steps was gone where the program reorders it);
  - then only the MAX_VALUES values nearest the default (by ratio), within a factor of SPREAD
    either way: a generator's default is a good guess, and the space of a conv would otherwise
    be millions of candidates of which most are slow for obvious reasons.
A knob left with one value is not part of the space.

And a candidate whose unrolled block is more than MAX_UNROLL_SPREAD times the default's is
refused before it is built (`unrolled_knobs`: the split factors that size a loop the program
unrolls or vectorizes; their product is the block's straight-line work). Each knob alone stays
within SPREAD, but their product does not: a transformer block's first tuning round drew a
matmul block of mb 128 x nj 16 x nv 64 x ku 4 (512 times the default's 8 x 1 x 32 x 4), and its
8 candidates took 102 s to build, 3 ms each to run.

A *choice* knob (lowering/schedules/builder.py: a loop order, how many loops run in parallel,
whether a small kernel uses the thread pool) is a decision the generator branches on: its values
are the ones the generator offers, and a candidate that changes one is written by running the
generator again with the candidate's decisions (`regenerate`), so the search explores structure
as well as numbers.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

MAX_VALUES = 8
SPREAD = 16
MAX_UNROLL_SPREAD = 8  # the most a candidate's unrolled block may exceed the default's, as a factor


@dataclass
class Knob:
    name: str
    default: int
    values: tuple[int, ...]
    extent: int | None  # the largest extent of a loop it splits, None when it splits none
    choice: bool = False  # the generator branches on it: another value, another program
    # A compute knob (te/conv.py `pack_block`, te/linalg.py `pack_b`: the task's `compute_knobs`)
    # shapes the kernel: another value is another kernel (a weight padded to whole blocks has a
    # block more, `unpad`), which the default program, written for the default's, may not fit. A
    # candidate that changes one is written by the generator, as one that changes a choice: in
    # SqueezeNet's fused fire modules a 3x3 branch packed in blocks of 128 (64 channels, padded)
    # put through the default program failed to build ("compute_at refused": 6 of 120 trials).
    compute: bool = False


@dataclass
class Space:
    """The knobs a task's candidates vary, over its default program."""

    program: object          # the default sched.schedule program
    knobs: list[Knob]
    # assignment -> the program its generator writes with it (for a candidate that changes a choice)
    regenerate: object = None

    @property
    def default(self) -> dict:
        return dict(self.program.knobs())

    @property
    def size(self) -> int:
        return math.prod(len(k.values) for k in self.knobs)

    def sample(self, rng: random.Random) -> dict:
        """A knob assignment drawn uniformly: every program knob, those of the space drawn."""
        out = self.default
        out.update({k.name: rng.choice(k.values) for k in self.knobs})
        return out

    def candidate(self, assignment: dict):
        """The default program with the knob decisions of `assignment` (a clone; names not in
        the program are ignored), or when it changes a choice or a compute knob (`Knob.compute`),
        the program the generator writes with them. Raises tuning.runner.InvalidCandidate when the generator cannot, or when the
        unrolled block is more than MAX_UNROLL_SPREAD times the default's."""
        default = self.default
        unrolled = unrolled_knobs(self.program)
        ratio = math.prod(int(assignment.get(k, default[k])) for k in unrolled) / math.prod(default[k] for k in unrolled)
        if ratio > MAX_UNROLL_SPREAD:
            from .runner import InvalidCandidate

            raise InvalidCandidate(f"an unrolled block {ratio:g} times the default's ({', '.join(sorted(unrolled))}): "
                                   f"more than {MAX_UNROLL_SPREAD}")
        if any((k.choice or k.compute) and assignment.get(k.name, k.default) != default[k.name] for k in self.knobs):
            return self.regenerate(dict(default, **assignment))
        return with_knobs(self.program, assignment)


def with_knobs(program, assignment: dict):
    """A clone of `program` whose knob ops have the decisions of `assignment`."""
    from lamina.compiler.attributes import IntegerAttr
    from lamina.compiler.types import i64
    from lamina.dialects.sched import KnobOp

    clone = program.clone()
    for op in clone.block:
        if isinstance(op, KnobOp) and op.knob_name in assignment:
            op.value = IntegerAttr(int(assignment[op.knob_name]), i64)
    return clone


def unrolled_knobs(program) -> set[str]:
    """The knobs that are split factors of a loop `program` unrolls or vectorizes: together they
    size the straight-line block the compiler gets (a register block, an unrolled reduction)."""
    from lamina.dialects.sched import KnobOp, SplitOp, UnrollOp, VectorizeOp

    marked = {op.operands[0] for op in program.block if isinstance(op, (UnrollOp, VectorizeOp))}
    out = set()
    for op in program.block:
        if isinstance(op, SplitOp):
            sized = op.results if op.exact is not None else op.results[1:]  # factor k sizes this loop
            for factor, loop in zip(op.operands[1:], sized):
                if isinstance(factor.owner, KnobOp) and loop in marked:
                    out.add(factor.owner.knob_name)
    return out


def split_extents(program, module, target) -> dict[str, int]:
    """Knob name -> the largest extent of a loop it is a split factor of, found by applying the
    program to the kernel (`module`, unscheduled) op by op and asking TVM each split loop's extent."""
    from lamina.dialects.sched import KnobOp, SplitOp
    from lamina.lowering import tvm_adapter

    state = tvm_adapter.ScheduleState(module, target)
    extents: dict[str, int] = {}
    for op in program.block:
        if isinstance(op, SplitOp):
            extent = state.extent(op.operands[0])
            for factor in op.operands[1:]:
                owner = factor.owner
                if isinstance(owner, KnobOp):
                    extents[owner.knob_name] = max(extents.get(owner.knob_name, 0), int(extent))
        state.apply(op)
    return extents


def _divisors(n: int) -> set[int]:
    out = set()
    for d in range(1, math.isqrt(n) + 1):
        if n % d == 0:
            out.update((d, n // d))
    return out


def knob_values(default: int, extent: int | None) -> tuple[int, ...]:
    """The values tried for a knob (see the module's docstring)."""
    if extent is not None:
        top = max(extent, default)
        values = {1 << p for p in range(top.bit_length()) if (1 << p) <= extent} | _divisors(extent)
    else:
        values = {1 << p for p in range((default * SPREAD).bit_length())}
    values = {v for v in values if default / SPREAD <= v <= default * SPREAD and (v > 1 or default == 1)
              and (extent is None or v < extent or default >= extent)}
    values |= {default}
    near = sorted(values, key=lambda v: (abs(math.log2(v / default)), v))[:MAX_VALUES]
    return tuple(sorted(near))


def task_space(task, target) -> Space:
    """The search space of a task (a tuning.tasks.Task) on `target`."""
    extents = split_extents(task.program, task.module, target)
    choices = task.choices
    knobs = []
    for name, default in task.program.knobs().items():
        extent = extents.get(name)
        values = choices[name] if name in choices else knob_values(default, extent)
        if len(values) > 1:
            knobs.append(Knob(name, default, values, extent, name in choices, name in task.compute_knobs))
    return Space(task.program, knobs, lambda assignment: regenerated(task, target, assignment))


def regenerated(task, target, assignment: dict):
    """The program of `task`'s generator with the decisions of `assignment`; InvalidCandidate
    when the generator or the compute cannot take them."""
    from lamina.compiler.errors import LaminaError
    from lamina.lowering.schedules import regenerate
    from lamina.lowering.te import LoweringError

    from .runner import InvalidCandidate

    try:
        return regenerate(task.name, task.op, target, task.generator, assignment)
    except (LaminaError, LoweringError) as e:
        raise InvalidCandidate(str(e).strip().splitlines()[0][:300]) from None
