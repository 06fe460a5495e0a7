"""cse: common subexpression elimination — one op for each computation, the others reuse it.

Two ops compute the same thing when they are pure (or constant-like), have no regions or
successors, and agree on name, operands (the same values), attributes, properties and result
types. The later one is then replaced by the earlier one, if the earlier one dominates it.

Two loads (ops whose only effect is MemRead) that agree the same way read the same value only if
nothing could write memory between them: they merge only within one block, with no op between
that writes or frees memory or may do anything (`opdef.memory_effects`), counting the ops nested
in a region op between them. Ops that allocate are never merged: each call gives new memory.

The algorithm:
  1. Walk each region with a table of the ops seen so far, keyed by what they compute.
  2. In a block, visit ops in order. For a candidate op, look its key up in the table and in
     the tables of the enclosing scopes: if found, make the op's users read the earlier op's
     results and erase it; else add it to the current table.
  3. A nested region starts a child table that sees its parents' entries (ops defined before
     the region's op dominate everything in it). An isolated-from-above op starts a fresh one.
  4. Loads have their own table, per block, that is emptied by every op that may write: a
     nested region starts with an empty one (a loop's body may see a store of the previous
     iteration), and no load merges across a block boundary.
  5. In a region with several blocks, the entry block's table is the parent of each other
     block's table: the entry block dominates the others, while sibling blocks do not see each
     other (the same simplified dominance the verifier uses).
"""

from __future__ import annotations

from collections import ChainMap
from dataclasses import dataclass

from ..ir import Operation, Region
from ..opdef import (ConstantLike, IsolatedFromAbove, MemFree, MemRead, MemWrite, Pure,
                     memory_effects)
from .pass_base import Pass, register_pass


@register_pass
@dataclass(frozen=True)
class CSEPass(Pass):
    """Merge ops that compute the same value from the same operands."""

    name = "cse"
    summary = "eliminate common subexpressions: merge equal pure ops"

    def run(self, module: Operation) -> None:
        for region in module.regions:
            self._region(region, ChainMap())

    def _region(self, region: Region, known: ChainMap) -> None:
        if not region.blocks:
            return
        entry_known = known.new_child()
        self._block_ops(region.blocks[0], entry_known)
        for block in region.blocks[1:]:
            self._block_ops(block, entry_known.new_child())

    def _block_ops(self, block, known: ChainMap) -> None:
        loads: dict = {}  # the loads seen since the last op that may write memory
        for op in block:  # iterating a block is safe against erasing the current op
            key = cse_key(op)
            table = loads if key is not None and is_load(op) else known
            if key is not None and key in table:
                self._merge(op, table[key])
                continue
            if key is not None:
                table[key] = op
            for region in op.regions:
                self._region(region, ChainMap() if op.has_trait(IsolatedFromAbove) else known)
            if may_write(op):
                loads.clear()

    def _merge(self, op: Operation, earlier: Operation) -> None:
        for old, new in zip(op.results, earlier.results):
            old.replace_all_uses_with(new)
        op.erase()
        self.statistics[f"{op.name} merged"] += 1


def is_load(op: Operation) -> bool:
    """An op whose only effect is to read memory (memref.load)."""
    return memory_effects(op) == {MemRead}


def may_write(op: Operation) -> bool:
    """Could `op` (or an op in its regions) change what a load reads? Unknown effects may."""
    effects = memory_effects(op)
    return effects is None or bool(effects & {MemWrite, MemFree})


def cse_key(op: Operation):
    """What the op computes, as a hashable key; None for ops cse must leave alone."""
    if not (op.has_trait(Pure) or op.has_trait(ConstantLike) or is_load(op)):
        return None
    if op.regions or op.successors or not op.results:
        return None
    key = (op.name, tuple(map(id, op.operands)), tuple(sorted(op.attributes.items())),
           tuple(sorted(op.properties.items())), op.result_types)
    try:
        hash(key)
    except TypeError:  # an attribute that cannot be hashed: never merged, never wrong
        return None
    return key
