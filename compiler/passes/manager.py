"""The pass manager: runs passes in order, with the instrumentation students and researchers use.

    pm = PassManager.parse("canonicalize,cse,dce", print_ir_after_change=True, timing=True)
    pm.run(module)

What it can do around each pass, as MLIR's `mlir-opt` flags do:
  - verify the IR after each pass (on by default) and name the pass that broke it;
  - print the IR before or after chosen passes, after all of them, or only after the passes
    that changed it, each dump under MLIR's header
        // -----// IR Dump After Canonicalize (canonicalize) //----- //
  - time each pass and print a table (wall time, share of the total);
  - collect each pass's statistics (pattern name -> times fired) and print them;
  - explain patterns: for each pattern, the places where it matched an op but a named
    precondition failed (`rewriter.fail(op, "weights-constant")` in rewrite.py), and print them.

Reports go to `stream` (stderr by default); the numbers stay on the manager afterwards
(`timings`, `statistics`, `match_failures`) for tests and notebooks.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import IO, Iterable

from ..errors import VerifyError
from ..ir import Operation
from ..printer import print_ir
from ..rewrite import MatchFailure, explaining_patterns
from ..verifier import verify
from .pass_base import Pass
from .pipeline import parse_pipeline

_RULE = "===" + "-" * 73 + "==="


class PassManager:
    """Runs `passes` in order over a module.

    print_ir_before / print_ir_after: names of the passes to print the IR before / after.
    print_ir_after_all: print after every pass.
    print_ir_after_change: print after a pass only if it changed the IR text; on its own it
        applies to every pass, with print_ir_after it narrows those passes to the changing ones.
    generic: print dumps in the generic op form.
    explain_patterns: record where patterns matched an op but a precondition failed
        (`match_failures`) and print `explain_report()` after the run.
    """

    def __init__(self, passes: Iterable[Pass], verify_each: bool = True,
                 print_ir_before: Iterable[str] = (), print_ir_after: Iterable[str] = (),
                 print_ir_after_all: bool = False, print_ir_after_change: bool = False,
                 timing: bool = False, print_statistics: bool = False,
                 stream: IO[str] | None = None, generic: bool = False,
                 explain_patterns: bool = False):
        self.passes = list(passes)
        self.verify_each = verify_each
        self.print_ir_before = set(print_ir_before)
        self.print_ir_after = set(print_ir_after)
        self.print_ir_after_all = print_ir_after_all
        self.print_ir_after_change = print_ir_after_change
        self.timing = timing
        self.print_statistics = print_statistics
        self.stream = stream  # None: sys.stderr at the time of the run (so pytest can capture it)
        self.generic = generic
        self.explain_patterns = explain_patterns
        self.timings: list[tuple[str, float]] = []           # (pass name, seconds), in run order
        self.statistics: list[tuple[Pass, Counter]] = []     # each pass run and what it recorded
        self.match_failures: list[tuple[Pass, list[MatchFailure]]] = []  # with explain_patterns

    @classmethod
    def parse(cls, pipeline: str, **options) -> "PassManager":
        """A manager for a pipeline string (`"canonicalize{fold=false},cse"`)."""
        return cls(parse_pipeline(pipeline), **options)

    @property
    def pipeline_text(self) -> str:
        return ",".join(p.pipeline_text() for p in self.passes)

    # -- running -----------------------------------------------------------------------------------

    def run(self, module: Operation) -> Operation:
        """Run every pass on `module` (changed in place; returned for convenience).

        1. Verify the input, so a broken input is not blamed on the first pass.
        2. For each pass: maybe print the IR before; run it, timed; maybe verify; maybe print
           the IR after (after-change compares the printed text from before the pass).
        3. Print the timing and statistics reports when asked.
        """
        self.timings, self.statistics, self.match_failures = [], [], []
        verify_time = 0.0
        if self.verify_each:
            verify_time += self._timed_verify(module, None)
        for p in self.passes:
            if p.name in self.print_ir_before:
                self._dump("Before", p, module)
            text_before = self._text(module) if self.print_ir_after_change else None
            p.reset_statistics()
            start = time.perf_counter()
            if self.explain_patterns:
                with explaining_patterns() as log:
                    p.run(module)
                self.match_failures.append((p, log.live()))
            else:
                p.run(module)
            self.timings.append((p.name, time.perf_counter() - start))
            self.statistics.append((p, Counter(p.statistics)))
            if self.verify_each:
                verify_time += self._timed_verify(module, p)
            if self._wants_dump_after(p, text_before, module):
                self._dump("After", p, module)
        if self.verify_each:
            self.timings.append(("(verifier)", verify_time))
        if self.timing:
            self._out().write(self.timing_report())
        if self.print_statistics:
            self._out().write(self.statistics_report())
        if self.explain_patterns:
            self._out().write(self.explain_report())
        return module

    def _timed_verify(self, module: Operation, after: Pass | None) -> float:
        start = time.perf_counter()
        try:
            verify(module)
        except VerifyError as e:
            if after is None:
                raise VerifyError(f"the input IR is invalid: {e.message}", e.pos, e.hint, e.notes) from None
            raise VerifyError(f"pass '{after.name}' produced invalid IR: {e.message}", e.pos,
                              e.hint, e.notes) from None
        return time.perf_counter() - start

    # -- printing the IR -------------------------------------------------------------------------

    def _wants_dump_after(self, p: Pass, text_before: str | None, module: Operation) -> bool:
        chosen = self.print_ir_after_all or p.name in self.print_ir_after
        if not self.print_ir_after_change:
            return chosen
        if self.print_ir_after or self.print_ir_after_all:
            if not chosen:
                return False
        return self._text(module) != text_before

    def _text(self, module: Operation) -> str:
        return print_ir(module, generic=self.generic)

    def _dump(self, when: str, p: Pass, module: Operation) -> None:
        header = f"// -----// IR Dump {when} {type(p).display_name()} ({p.name}) //----- //"
        self._out().write(header + "\n" + self._text(module) + "\n")

    def _out(self) -> IO[str]:
        return self.stream if self.stream is not None else sys.stderr

    # -- reports ---------------------------------------------------------------------------------

    def timing_report(self) -> str:
        """MLIR's execution time report: wall time per pass run, its share, and the total."""
        total = sum(seconds for _, seconds in self.timings)
        lines = [_RULE, "... Execution time report ...".center(len(_RULE)).rstrip(), _RULE,
                 f"  Total Execution Time: {total:.4f} seconds", "",
                 "  ----Wall Time----  ----Name----"]
        for name, seconds in self.timings + [("Total", total)]:
            share = 100.0 * seconds / total if total > 0 else 0.0
            lines.append(f"  {seconds:8.4f} ({share:5.1f}%)  {name}")
        return "\n".join(lines) + "\n\n"

    def statistics_report(self) -> str:
        """Each pass run with its counts, largest first (`(S) 3 NegNegIsIdentity`)."""
        lines = [_RULE, "... Pass statistics report ...".center(len(_RULE)).rstrip(), _RULE]
        for p, stats in self.statistics:
            lines.append(f"{type(p).display_name()} ({p.name})")
            if not stats:
                lines.append("  (nothing recorded)")
            for name, count in sorted(stats.items(), key=lambda kv: (-kv[1], kv[0])):
                lines.append(f"  (S) {count:4d} {name}")
        return "\n".join(lines) + "\n\n"

    def explain_report(self) -> str:
        """For each pass run and each pattern, the places where the pattern matched an op but a
        precondition failed, grouped by the precondition's name:

            CombineOps (combine-ops)
              FuseBatchNormIntoConv
                conv-single-use (1):
                  nn.batch_norm at model.mlir:7:10 loc("bn1")
        """
        lines = [_RULE, "... Pattern explanation report ...".center(len(_RULE)).rstrip(), _RULE]
        for p, failures in self.match_failures:
            lines.append(f"{type(p).display_name()} ({p.name})")
            if not failures:
                lines.append("  (no pattern matched an op and then failed a precondition)")
            by_pattern: dict[str, dict[str, list[MatchFailure]]] = {}
            for f in failures:
                by_pattern.setdefault(f.pattern, {}).setdefault(f.precondition, []).append(f)
            for pattern in sorted(by_pattern):
                lines.append(f"  {pattern}")
                for precondition, where in sorted(by_pattern[pattern].items()):
                    lines.append(f"    {precondition} ({len(where)}):")
                    lines += [f"      {f.op.name} at {f.where}" for f in where]
        return "\n".join(lines) + "\n\n"


def run_pipeline(module: Operation, pipeline: str, **options) -> Operation:
    """Parse `pipeline` and run it on `module`; options as `PassManager` takes them."""
    return PassManager.parse(pipeline, **options).run(module)
