"""dce: dead code elimination — erase ops whose results nobody reads and whose only effects
are reading memory or allocating it (`opdef.is_trivially_dead`): pure ops, unused loads and
allocs, loops that only read. A store, a free, a call, or a loop with a store inside stays.

The algorithm:
  1. Visit each block's ops from last to first, so a user is erased before its definers are
     looked at and a whole dead chain goes in one sweep.
  2. Before looking at an op, clean its regions the same way: their uses of outer values may
     be the only ones, and erasing them can make the outer op dead.
  3. Erase an op that is trivially dead: not a terminator, no result used, memory effects
     (its own, and for RecursiveMemoryEffects ops those of the ops in its regions) at most
     MemRead and MemAlloc.
  4. Repeat while a sweep erased something (graph regions may use a value before its
     definition, so one backward sweep may not see everything).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Block, Operation
from ..opdef import is_trivially_dead
from .pass_base import Pass, register_pass


@register_pass
@dataclass(frozen=True)
class DCEPass(Pass):
    """Erase ops with unused results and no effects beyond reading or allocating memory."""

    name = "dce"
    summary = "erase ops whose results are unused and that do not write memory"

    def run(self, module: Operation) -> None:
        while self._sweep(module):
            pass

    def _sweep(self, op: Operation) -> bool:
        erased = False
        for region in op.regions:
            for block in region.blocks:
                erased |= self._sweep_block(block)
        return erased

    def _sweep_block(self, block: Block) -> bool:
        erased = False
        op = block.last_op
        while op is not None:
            prev = op.prev_op
            erased |= self._sweep(op)
            if is_trivially_dead(op):
                op.erase()
                self.statistics[f"{op.name} erased"] += 1
                erased = True
            op = prev
        return erased
