"""canonicalize: simplify ops with their folds and canonicalization patterns, to a fixpoint.

Each op class lists its own rewrites (`canonicalization_patterns`, beside the op in dialects/)
and may define `fold`; this pass gathers the patterns of every registered op and hands them to
the greedy driver in rewrite.py, which also folds and erases dead pure ops.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ir import Operation
from ..opdef import all_op_classes
from ..rewrite import RewritePattern, apply_patterns_greedily
from .pass_base import Pass, register_pass


@register_pass
@dataclass(frozen=True)
class CanonicalizePass(Pass):
    """Fold and apply every op's canonicalization patterns until nothing changes."""

    name = "canonicalize"
    summary = "fold constants and apply each op's canonicalization patterns to a fixpoint"

    max_iterations: int = 10
    fold: bool = True

    def run(self, module: Operation) -> None:
        apply_patterns_greedily(module, canonicalization_patterns(), fold=self.fold,
                                max_iterations=self.max_iterations, stats=self.statistics)


def canonicalization_patterns() -> list[RewritePattern]:
    """The patterns of every registered op (importing the known dialects)."""
    patterns = [pattern for cls in all_op_classes() for pattern in cls.canonicalization_patterns]
    return list({id(p): p for p in patterns}.values())  # one pattern may serve several ops
