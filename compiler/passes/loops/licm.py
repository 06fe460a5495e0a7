"""loop-invariant-code-motion: move computations that are the same in every iteration out of
the loop (MLIR's pass of the same name).

    scf.for %j = %c0 to %c8 step %c1 {               %s = arith.mulf %x, %y : f32
      %s = arith.mulf %x, %y : f32         -->       %i1 = arith.addi %i, %c1 : index
      %i1 = arith.addi %i, %c1 : index               scf.for %j = %c0 to %c8 step %c1 {
      ...                                              ...

The algorithm, for each scf.for from the innermost out (so an op leaves a nest level by level):
  1. Walk the body's ops in order (not the terminator, not ops with regions).
  2. An op is invariant when every operand is defined outside the loop (ops hoisted before it
     count as outside now).
  3. Hoist an invariant op (move it just before the loop) when it is
       - pure (arith, math, index arithmetic, constants), except integer division and remainder,
         which may trap on a zero divisor: those, like loads, only from a loop known to run;
       - a load (memref.load), when the loop contains no op that writes or frees memory or may do
         anything (no memref.store, memref.copy, call, ...), anywhere in it, and the loop is known
         to run at least once (constant bounds): a load may be out of bounds when the loop would
         not have run.
Not hoisted: ops with regions (an scf.if or an inner loop stays, even when invariant), ops under
an scf.if of the body, stores, allocations.
"""

from __future__ import annotations

from dataclasses import dataclass

from lamina.compiler.ir import Operation
from lamina.compiler.opdef import MemRead, Pure, Terminator, memory_effects

from ..pass_base import Pass, register_pass
from .common import body_of, defined_outside, is_for, may_write_memory, trip_count

MAY_TRAP = {"arith.divsi", "arith.divui", "arith.remsi", "arith.remui", "arith.floordivsi", "arith.ceildivsi"}


@register_pass
@dataclass(frozen=True)
class LoopInvariantCodeMotionPass(Pass):
    """Hoist loop-invariant pure ops, and loads from loops that do not write memory."""

    name = "loop-invariant-code-motion"
    summary = "hoist loop-invariant pure ops (and loads from loops without stores) out of scf.for"

    def run(self, module: Operation) -> None:
        for loop in [op for op in module.walk(order="post") if is_for(op)]:
            self._hoist(loop)

    def _hoist(self, loop: Operation) -> None:
        runs = (trip_count(loop) or 0) > 0
        loads_ok = None  # computed on the first load: does the loop write memory?
        for op in body_of(loop).ops:
            if op.regions or op.has_trait(Terminator):
                continue
            if not all(defined_outside(v, loop) for v in op.operands):
                continue
            if op.has_trait(Pure):
                if op.name in MAY_TRAP and not runs:
                    continue
            elif memory_effects(op) == {MemRead}:
                if loads_ok is None:
                    loads_ok = runs and not may_write_memory(loop)
                if not loads_ok:
                    continue
            else:
                continue
            op.detach()
            loop.parent.insert_before(op, loop)
            self.statistics[f"{op.name} hoisted"] += 1
