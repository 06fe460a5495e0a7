"""Pattern rewriting: small named rewrites, applied by a greedy driver to a fixpoint.

A pattern is one class whose docstring is its rule:

    class NegNegIsIdentity(RewritePattern):
        '''negf(negf(x)) -> x'''
        def match_and_rewrite(self, op, rewriter):
            if not isinstance(op, NegFOp): return False          # guard clauses first
            ...
            rewriter.replace_op(op, [inner.operand]); return True

Patterns change the IR only through the `PatternRewriter`, which keeps use lists consistent and
tells the driver what changed, so the driver knows which ops to look at again.

The driver (`apply_patterns_greedily`), step by step:
  1. Put every op under the root on a worklist.
  2. Pop an op. If it is unused and pure, erase it. Else try to fold it (constants in, constant or
     existing value out); else try each pattern in turn until one applies.
  3. When something changed, push the ops it touched (new ops, users of replaced values,
     operands' definers) back on the worklist.
  4. Stop when a sweep changes nothing (a fixpoint). A sweep also ends when it has spent its
     budget of rewrites (ten per op), so patterns that undo each other cannot spin. After
     `max_iterations` sweeps that still change the IR, raise a PassError naming the patterns
     that kept firing: two patterns that undo each other are reported, not looped on forever.

Explaining why a pattern did not fire (MLIR's notifyMatchFailure): after its op-type guard, a
pattern returns `rewriter.fail(op, "weights-constant")` instead of a bare False, naming the
precondition that failed. Inside `with explaining_patterns() as log:` the driver records each
of those as a `MatchFailure` (pattern, op, location, precondition) -- only from the last sweep,
the one that changed nothing, so the log describes the final IR and not states rewritten since.
Outside that block `fail` just returns False: recording costs nothing when nobody asks.

Counting applications (for `lamina bisect`, as LLVM's -opt-bisect-limit): inside
`with counting_applications(limit=N) as counter:` the driver numbers every pattern application
and fold (a fold counts as one; erasing a dead op does not count) in the order it makes them,
across every driver run in the block, records which pattern rewrote which op
(`counter.applications`), and stops once N have been made: the IR is then exactly as it was
after the first N. Without the block the driver pays one context-variable lookup per run.
"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterable

from .attributes import Attribute
from .errors import PassError
from .ir import Operation, Value
from .opdef import ConstantLike, get_dialect, is_trivially_dead


class RewritePattern:
    """Base of rewrite patterns. Override `match_and_rewrite`; return True if it changed the IR.

    `benefit` orders patterns that match the same op (higher first)."""

    benefit: int = 1

    @property
    def name(self) -> str:
        return type(self).__name__

    def match_and_rewrite(self, op: Operation, rewriter: "PatternRewriter") -> bool:
        raise NotImplementedError


@dataclass
class MatchFailure:
    """A pattern matched `op`'s type but precondition `precondition` did not hold there."""

    pattern: str
    op: Operation
    precondition: str

    @property
    def where(self) -> str:
        """The op's source position (file:line:col) and location, as far as they are known."""
        parts = [str(self.op.source_pos)] if self.op.source_pos is not None else []
        loc = str(self.op.location)
        if loc != "loc(unknown)":
            parts.append(loc)
        return " ".join(parts) or "(no location)"


class MatchFailureLog:
    """What `explaining_patterns()` collects: the failures of every driver run inside it."""

    def __init__(self):
        self.failures: list[MatchFailure] = []

    def live(self) -> list[MatchFailure]:
        """The failures on ops still in the IR (a later rewrite may have erased the op)."""
        return [f for f in self.failures if f.op.parent is not None]


_EXPLAIN: ContextVar[MatchFailureLog | None] = ContextVar("lamina_explain_patterns", default=None)


@contextmanager
def explaining_patterns():
    """Record, for every greedy driver run inside the block, where patterns matched an op but a
    named precondition failed (`rewriter.fail`); yields the `MatchFailureLog`."""
    log = MatchFailureLog()
    token = _EXPLAIN.set(log)
    try:
        yield log
    finally:
        _EXPLAIN.reset(token)


@dataclass
class Application:
    """One change the greedy driver made: `pattern` (a pattern's name, or "fold") rewrote `op`.

    `index` counts from 1 over every driver run inside one `counting_applications` block."""

    index: int
    pattern: str
    op: Operation
    location: str


class ApplicationCounter:
    """What `counting_applications()` yields: numbers the pattern applications and folds of
    every greedy driver run inside the block and stops the drivers after `limit` of them (None:
    never). Subclasses may override `before_attempt` and `applied` to look at the IR around one
    application (runtime/pass_bisect.py prints the ops before and after it)."""

    def __init__(self, limit: int | None = None):
        self.limit = limit
        self.count = 0
        self.applications: list[Application] = []

    @property
    def spent(self) -> bool:
        """Whether the drivers must stop: `limit` applications have been made."""
        return self.limit is not None and self.count >= self.limit

    def before_attempt(self, op: Operation) -> None:
        """The driver is about to try to fold or rewrite `op` (the IR is not changed yet)."""

    def applied(self, pattern: str, op: Operation, touched: list[Operation]) -> None:
        """`pattern` (or "fold") has just rewritten `op`; `touched`: the ops it created or
        changed, and the users of the values it replaced (some may be erased since)."""
        self.count += 1
        self.applications.append(Application(self.count, pattern, op, str(op.location)))


_COUNTER: ContextVar[ApplicationCounter | None] = ContextVar("lamina_count_applications", default=None)


@contextmanager
def counting_applications(limit: int | None = None, counter: ApplicationCounter | None = None):
    """Count (and with `limit`, stop after) the pattern applications and folds of every greedy
    driver run inside the block; yields the `ApplicationCounter` (or `counter`, a subclass's)."""
    counter = ApplicationCounter(limit) if counter is None else counter
    token = _COUNTER.set(counter)
    try:
        yield counter
    finally:
        _COUNTER.reset(token)


def active_counter() -> ApplicationCounter | None:
    """The counter of the enclosing `counting_applications` block, if any: a pass that rewrites
    ops one at a time outside the driver (fold-constants) reports its rewrites to it too."""
    return _COUNTER.get()


class PatternRewriter:
    """The only way patterns change IR; it records what changed for the driver."""

    def __init__(self, failures: dict | None = None):
        self.changed: list[Operation] = []  # ops to revisit
        # id -> op of every op erased; holding the op keeps its id from going to a new op
        self.erased: dict[int, Operation] = {}
        self.has_changed = False
        self.failures = failures  # (pattern, id(op)) -> MatchFailure, only when explaining
        self.pattern: RewritePattern | None = None  # set by the driver, only when explaining

    def fail(self, op: Operation, precondition: str) -> bool:
        """Say that the pattern matched `op` but `precondition` (a short kebab-case name) does
        not hold; returns False, so a pattern writes `return rewriter.fail(op, "...")`."""
        if self.failures is not None and self.pattern is not None:
            self.failures[(self.pattern.name, id(op))] = MatchFailure(self.pattern.name, op, precondition)
        return False

    def _touch(self, *ops: Operation) -> None:
        self.has_changed = True
        self.changed.extend(o for o in ops if o is not None)

    def insert_before(self, anchor: Operation, op: Operation) -> Operation:
        anchor.parent.insert_before(op, anchor)
        self._touch(op)
        return op

    def insert_after(self, anchor: Operation, op: Operation) -> Operation:
        anchor.parent.insert_after(op, anchor)
        self._touch(op)
        return op

    def replace_all_uses_with(self, old: Value, new: Value) -> None:
        self._touch(*old.users)
        old.replace_all_uses_with(new)

    def replace_op(self, op: Operation, new_values: Iterable[Value] | Operation) -> None:
        """Replace `op`'s results with `new_values` (or a new op's results, inserting that op
        before `op` if it is not placed yet), then erase `op`."""
        if isinstance(new_values, Operation):
            if new_values.parent is None:
                self.insert_before(op, new_values)
            new_values = new_values.results
        new_values = list(new_values)
        if len(new_values) != len(op.results):
            raise ValueError(f"replacing {op.name} needs {len(op.results)} values, got {len(new_values)}")
        for old, new in zip(op.results, new_values):
            self.replace_all_uses_with(old, new)
        self.erase_op(op)

    def erase_op(self, op: Operation) -> None:
        defs = [v.owner for v in op.operands if isinstance(getattr(v, "owner", None), Operation)]
        self._touch(*defs)  # their results may now be unused
        for inner in op.walk():
            self.erased[id(inner)] = inner
        op.erase()

    @contextmanager
    def modify(self, op: Operation):
        """Change `op` in place (its attributes or operands) inside this context."""
        yield op
        self._touch(op, *[u for r in op.results for u in r.users])


def fold_op(op: Operation, rewriter: PatternRewriter) -> bool:
    """Try the op's `fold`; replace it by the folded value or a materialized constant."""
    if op.has_trait(ConstantLike) or not hasattr(op, "fold") or not op.results:
        return False
    constants = [constant_value(v) for v in op.operands]
    try:
        folded = op.fold(*constants)
    except (ValueError, TypeError, ArithmeticError, OverflowError):
        return False  # a fold that cannot decide (overflow, odd shapes) leaves the op alone
    if folded is None:
        return False
    folded = folded if isinstance(folded, list) else [folded]
    if len(folded) != len(op.results):
        return False
    dialect = get_dialect(op.name.split(".")[0])
    new_values = []
    for result, item in zip(op.results, folded):
        if isinstance(item, Value):
            if item is result:
                return False
            new_values.append(item)
            continue
        make = dialect.materialize_constant if dialect and dialect.materialize_constant else None
        if make is None:
            make = get_dialect("arith").materialize_constant
        const = make(item, result.type, op.location)
        if const is None:
            return False
        rewriter.insert_before(op, const)
        new_values.append(const.results[0])
    rewriter.replace_op(op, new_values)
    return True


def constant_value(value: Value) -> Attribute | None:
    """The constant a value holds, if it is the result of a constant-like op."""
    owner = getattr(value, "op", None)
    if owner is not None and owner.has_trait(ConstantLike):
        return owner.properties.get("value")
    return None


def apply_patterns_greedily(root: Operation, patterns: Iterable[RewritePattern], *, fold: bool = True,
                            max_iterations: int = 10, stats: Counter | None = None) -> bool:
    """Apply `patterns` (and folds) under `root` until nothing changes. Returns whether anything
    changed; `stats` counts how often each pattern (and "fold", "dead op") fired. Inside
    `counting_applications(limit)` it stops as soon as the block's limit is spent."""
    patterns = sorted(patterns, key=lambda p: -p.benefit)
    stats = Counter() if stats is None else stats
    explain = _EXPLAIN.get()
    counter = _COUNTER.get()  # None unless inside counting_applications (lamina bisect)
    if counter is not None and counter.spent:
        return False
    changed_any = False
    for iteration in range(max_iterations):
        fired: Counter = Counter()
        failures: dict | None = {} if explain is not None else None  # this sweep's, by (pattern, op)
        worklist = [op for op in root.walk(order="post") if op is not root][::-1]  # pop() = first op
        in_list = set(map(id, worklist))
        erased: dict[int, Operation] = {}
        budget = 10 * len(worklist) + 100  # rewrites per sweep; patterns undoing each other spend it
        while worklist and budget > 0:
            op = worklist.pop()
            in_list.discard(id(op))
            if id(op) in erased or op.parent is None:
                continue
            rewriter = PatternRewriter(failures)
            applied = None
            if is_trivially_dead(op):
                rewriter.erase_op(op)
                fired["dead op"] += 1
            else:
                if counter is not None:
                    counter.before_attempt(op)
                if fold and fold_op(op, rewriter):
                    applied = "fold"
                else:
                    for pattern in patterns:
                        rewriter.pattern = pattern
                        if pattern.match_and_rewrite(op, rewriter):
                            applied = pattern.name
                            break
                if applied is not None:
                    fired[applied] += 1
                    if counter is not None:
                        counter.applied(applied, op, rewriter.changed)
            if rewriter.has_changed:
                budget -= 1
                erased |= rewriter.erased
                for touched in rewriter.changed:
                    if id(touched) not in erased and id(touched) not in in_list and touched.parent is not None:
                        worklist.append(touched)
                        in_list.add(id(touched))
            if applied is not None and counter is not None and counter.spent:
                stats.update(fired)  # stop here: the IR is as the first `limit` applications left it
                return True
        stats.update(fired)
        if not fired:
            if explain is not None:  # the sweep that changed nothing saw the final IR
                explain.failures.extend(failures.values())
            return changed_any
        changed_any = True
    names = ", ".join(f"{name} ({n}x)" for name, n in fired.most_common())
    raise PassError(f"rewriting did not converge after {max_iterations} iterations; still firing: {names}",
                    hint="two patterns may undo each other; check their rules, or raise max-iterations")
