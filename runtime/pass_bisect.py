"""Which pass, and which pattern application inside it, breaks a model's outputs: LLVM's
opt-bisect for lamina (`lamina bisect`, `lamina.bisect`).

    result = bisect(module, "-O3", [x])             # or a pipeline string: "canonicalize,cse"
    print(result.report())                          # names the pass, the pattern and the op
    result.found, result.pass_name, result.pattern  # ... and the IR before and after

The algorithm:
  1. Reference outputs: the unoptimized module, run the way every step is run (compiled for the
     target, or in the numpy interpreter with `interpret=True`; fusion and layout bugs only show
     compiled).
  2. Run the pipeline one pass at a time on a copy of the module, counting the pass's pattern
     applications and folds (`counting_applications` in compiler/rewrite.py). After each pass
     that changed the IR, run the module and compare every output with the reference
     (runtime/compare.py's check: max|ours - ref| <= atol + rtol * max|ref|). A pass that left
     the IR as it was is not run again: its outputs are the previous step's.
  3. The first pass whose outputs leave tolerance (or whose IR fails to verify, compile or run)
     is the bad pass. If it made N > 0 applications, binary-search the smallest n in 1..N for
     which the pass stopped after n applications (on the module as it was before the pass)
     breaks the outputs: about log2(N) more runs, each a compile whose unchanged kernels come
     from the kernel cache.
  4. Run the pass once more, stopped after n, watching application n: the IR of the ops it
     read and wrote (the op, its operands' producers, its results' users), before and after.

Like every bisection, the search assumes that once an application breaks the outputs, later ones
do not repair them; it finds an n whose first n-1 applications keep the outputs and n does not.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from lamina.compiler.attributes import DenseElementsAttr
from lamina.compiler.errors import LaminaError
from lamina.compiler.ir import Operation
from lamina.compiler.passes import PassManager, parse_pipeline
from lamina.compiler.passes.pass_base import Pass
from lamina.compiler.printer import print_ir
from lamina.compiler.rewrite import ApplicationCounter, counting_applications
from lamina.compiler.symbols import SymbolTable

from .compare import Difference, difference
from .inputs import function_inputs

ELIDE = 16  # constants with more elements print as dense_resource<__elided__> in before/after IR


@dataclass
class Step:
    """One pass of the pipeline as bisect ran it: its applications, and how its outputs compared."""

    index: int                 # 1-based position in the pipeline
    name: str                  # the pass as a pipeline element, options included
    applications: int          # pattern applications and folds it made (0: not a rewrite pass)
    changed: bool              # whether it changed the IR (else it was not run again)
    differences: list[Difference] = field(default_factory=list)
    error: str | None = None   # the IR did not verify, compile or run

    @property
    def ok(self) -> bool:
        return self.error is None and all(d.ok for d in self.differences)

    def line(self, total: int) -> str:
        counted = f"{self.applications} application{'s' * (self.applications != 1)}"
        if not self.changed:
            verdict = "IR unchanged"
        elif self.error is not None:
            verdict = f"FAILED: {self.error}"
        else:
            verdict = f"outputs {'ok' if self.ok else 'MISMATCH'} (max abs diff {_max_abs(self.differences):.3e})"
        return f"pass {self.index}/{total} {self.name}: {counted}, {verdict}"


@dataclass
class BisectResult:
    """What `bisect` found. `found` is False when no step moves the outputs out of tolerance;
    else the bad pass (`pass_index`, 1-based, and `pass_name`) and, when it is a rewrite pass,
    the application that broke the outputs (`application` of `applications`, 1-based, in the
    order the driver made them), its `pattern` ("fold" for a fold) and the op it rewrote
    (`op_name` at `location`), the IR of the ops it rewrote `before` and `after` it, and the
    outputs' `differences` after it (or the `error` when the IR failed to verify, compile or run).
    A rewrite pass whose applications are not to blame (convert-layout's conversion before its
    rewrites) is named without an application, with a `note` saying so."""

    pipeline: list[str]
    mode: str                                # "interpreter", or the target compiled for
    rtol: float
    atol: float
    steps: list[Step]
    runs: int                                # runs of the model after a step (compiles, when compiled)
    pass_index: int | None = None
    application: int | None = None
    applications: int = 0
    search_runs: int = 0                     # runs the binary search over applications took
    pattern: str | None = None
    op_name: str | None = None
    location: str | None = None
    before: str = ""
    after: str = ""
    differences: list[Difference] = field(default_factory=list)
    error: str | None = None
    note: str | None = None

    @property
    def found(self) -> bool:
        return self.pass_index is not None

    @property
    def pass_name(self) -> str | None:
        return self.pipeline[self.pass_index - 1] if self.found else None

    @property
    def max_diff(self) -> float:
        """The largest absolute difference of any output after the bad step (0.0 if none)."""
        return _max_abs(self.differences)

    def header(self) -> str:
        how = ("in the reference interpreter" if self.mode == "interpreter"
               else f"compiled for {self.mode}")
        return (f"bisect: {len(self.pipeline)} passes, each step run {how} and compared with the "
                f"unoptimized model (rtol {self.rtol:g}, atol {self.atol:g})")

    def report(self, steps: bool = True) -> str:
        """What was found; with `steps=False` without the header and the line of each pass
        (which `bisect`'s `progress` has shown already)."""
        lines = ([self.header()] + ["  " + s.line(len(self.pipeline)) for s in self.steps]) if steps else []
        if not self.found:
            lines.append(f"no step moves the outputs out of tolerance ({len(self.steps)} passes checked, "
                         f"{self.runs} runs)")
            return "\n".join(lines) + "\n"
        where = f"pass {self.pass_index}/{len(self.pipeline)} {self.pass_name}"
        if self.application is None:
            lines.append(f"first bad step: {where}")
        else:
            at = "" if self.location in (None, "loc(unknown)") else f" at {self.location}"
            lines.append(f"first bad step: {where}, application {self.application} of {self.applications}: "
                         f"{self.pattern} rewrote {self.op_name}{at}")
            lines.append(f"  (binary search over the pass's {self.applications} applications: "
                         f"{self.search_runs} runs; {self.runs} runs in all)")
        if self.note:
            lines.append(f"  note: {self.note}")
        if self.error is not None:
            lines.append(f"  the IR after it fails: {self.error}")
        lines += ["  " + d.line() for d in self.differences]
        if self.application is not None:
            lines += ["the ops it rewrote, before:", _indent(self.before), "after:", _indent(self.after)]
        return "\n".join(lines) + "\n"


def bisect(module: Operation, pipeline: str, inputs, interpret: bool = False, rtol: float = 1e-4,
           atol: float = 1e-5, target: str = "llvm", threads: int | None = None,
           progress: Callable[[str], None] | None = None) -> BisectResult:
    """Find the first pass of `pipeline` (a pipeline string, or "-O0".."-O3"), and inside a
    rewrite pass the first pattern application or fold, after which `module`'s outputs on
    `inputs` (arrays in @main's order, or a dict by input name) leave tolerance against the
    unoptimized module. `module` is not changed. `progress` gets the header and a line per pass
    as it is checked (`report(steps=False)` then gives the rest)."""
    passes = parse_pipeline(_resolve(pipeline))
    names = [p.pipeline_text() for p in passes]
    current = module.clone()
    PassManager([]).run(current)  # verify the input, so that a broken input is not blamed on a pass
    runner = _Runner(_ordered(current, inputs), interpret, target, threads, rtol, atol)
    runner.reference = runner(current)
    result = BisectResult(names, "interpreter" if interpret else target, rtol, atol, [], 0)
    if progress is not None:
        progress(result.header())
    fingerprint = _fingerprint(current)
    for index, p in enumerate(passes, 1):
        before = current.clone()
        step = Step(index, names[index - 1], 0, True)
        result.steps.append(step)
        with counting_applications() as counter:
            step.error = _run_pass(p, current)
        step.applications = counter.count
        if step.error is None:
            now = _fingerprint(current)
            step.changed = now != fingerprint
            fingerprint = now
            if step.changed:
                step.error, step.differences = runner.check(current)
        if progress is not None:
            progress("  " + step.line(len(passes)))
        if step.ok:
            continue
        result.pass_index, result.applications = index, step.applications
        result.differences, result.error = step.differences, step.error
        if step.applications:
            _search(result, p, before, runner)
        break
    result.runs = runner.runs
    return result


# ---------------------------------------------------------------------------------------------
# The steps


def _search(result: BisectResult, p: Pass, before: Operation, runner: "_Runner") -> None:
    """Binary-search the first application of pass `p` (run on `before`) that breaks the outputs;
    fill in `result` with it and the IR around it."""
    verdicts: dict[int, tuple[str | None, list[Difference]]] = {}

    def bad(n: int) -> bool:
        module = before.clone()
        with counting_applications(n):
            error = _run_pass(p, module)
        verdicts[n] = (error, []) if error is not None else runner.check(module)
        error, diffs = verdicts[n]
        return error is not None or not all(d.ok for d in diffs)

    runs = runner.runs
    lo, hi = 0, result.applications  # n = lo keeps the outputs, n = hi does not (each checked when needed)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if bad(mid):
            hi = mid
        else:
            lo = mid
    rest = None  # the work of the pass around its applications (convert-layout converts, then rewrites)
    if hi not in verdicts and not bad(hi):
        rest = f"the pass's {result.applications} applications keep the outputs; the rest of the pass breaks them"
    elif lo == 0 and bad(0):
        rest = f"the pass breaks the outputs before any of its {result.applications} applications"
    result.search_runs = runner.runs - runs
    if rest is not None:
        result.note = rest
        return
    result.application = hi
    result.error, result.differences = verdicts[hi]
    module = before.clone()
    watch = _Watch(hi, module)
    with counting_applications(counter=watch):
        _run_pass(p, module)
    if len(watch.applications) < hi:  # (a pass that does not repeat itself on the same IR)
        result.note = f"the pass made only {len(watch.applications)} applications when run again"
        return
    applied = watch.applications[hi - 1]
    result.pattern, result.op_name, result.location = applied.pattern, applied.op.name, applied.location
    result.before, result.after = watch.before, watch.after


def _run_pass(p: Pass, module: Operation) -> str | None:
    """Run one pass (verifying the IR after it) on `module`; the error's message if it fails."""
    try:
        PassManager([p]).run(module)
    except LaminaError as e:
        return e.message
    return None


class _Runner:
    """Runs a module on the inputs: compiled for the target (kernels come from the kernel cache
    when unchanged), or in the interpreter; compares the outputs with `reference`. Counts its runs."""

    def __init__(self, inputs: list, interpret: bool, target: str, threads: int | None, rtol: float,
                 atol: float):
        self.inputs, self.interpret, self.target, self.threads = inputs, interpret, target, threads
        self.rtol, self.atol = rtol, atol
        self.reference: list[np.ndarray] = []
        self.runs = 0

    def __call__(self, module: Operation) -> list[np.ndarray]:
        self.runs += 1
        if self.interpret:
            from .interpreter import interpret

            return interpret(module, *self.inputs)
        from .executor import compile as compile_model

        return compile_model(module.clone(), target=self.target, threads=self.threads)(*self.inputs)

    def check(self, module: Operation) -> tuple[str | None, list[Difference]]:
        """(error or None, each output's difference from the reference)."""
        try:
            outputs = self(module)
        except LaminaError as e:
            return e.message, []
        if len(outputs) != len(self.reference):
            return f"@main returns {len(outputs)} values, the unoptimized one {len(self.reference)}", []
        return None, [difference(f"#{i}", ours, ref, self.rtol, self.atol)
                      for i, (ours, ref) in enumerate(zip(outputs, self.reference))]


def _resolve(pipeline: str) -> str:
    """A pipeline string, with "-O<n>" standing for that level's pipeline."""
    if pipeline.startswith("-O"):
        from lamina.compiler.passes.presets import pipeline_for

        try:
            return pipeline_for(int(pipeline[2:]))
        except ValueError:
            raise LaminaError(f"unknown optimization level {pipeline}", hint="use -O0, -O1, -O2 or -O3") from None
    return pipeline


def _ordered(module: Operation, inputs) -> list:
    """The inputs in @main's order (from a dict by input name, or a sequence as it is)."""
    if not isinstance(inputs, dict):
        return list(inputs)
    main = SymbolTable(module).lookup("main")
    if main is None:
        raise LaminaError("the module has no function @main to run")
    return function_inputs(main, inputs, None, hint="give every input of @main a value")


def _fingerprint(module: Operation) -> str:
    """A hash of the IR: its text with large constants elided, and the constants' bytes."""
    digest = hashlib.sha256(print_ir(module, elide_threshold=64, print_locations=False).encode())
    for op in module.walk():
        for attr in (*op.properties.values(), *op.attributes.values()):
            if isinstance(attr, DenseElementsAttr) and attr.array.size > 64:
                digest.update(np.ascontiguousarray(attr.array).tobytes())
    return digest.hexdigest()


def _max_abs(differences: Sequence[Difference]) -> float:
    return max((d.max_abs for d in differences), default=0.0)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines()) if text else "    (none)"


# ---------------------------------------------------------------------------------------------
# The IR around one application


class _Watch(ApplicationCounter):
    """Stops the drivers after application `limit` and keeps the text of the ops around it:
    the op, its operands' producers and its results' users, before the application and after."""

    def __init__(self, limit: int, module: Operation):
        super().__init__(limit)
        self.module = module  # the module the pass runs on
        self.snapshot: dict | None = None  # the ops' texts just before application `limit`
        self.reads: list[Operation] = []  # the op tried last, its producers and users
        self.read_tops: list[Operation | None] = []  # their ancestors at the top of a function
        self.before = self.after = ""

    def before_attempt(self, op: Operation) -> None:
        if self.count != self.limit - 1:
            return
        if self.snapshot is None:  # nothing but the target application changes the IR from here
            self.snapshot = _op_texts(self.module)
        producers = [getattr(v, "op", None) for v in op.operands]
        users = [u for r in op.results for u in r.users]
        self.reads = [o for o in producers if o is not None] + [op] + users
        self.read_tops = [_top(o) for o in self.reads]  # (erased ops have none once applied)

    def applied(self, pattern: str, op: Operation, touched: list[Operation]) -> None:
        super().applied(pattern, op, touched)
        if self.count != self.limit or self.snapshot is None:
            return
        self.before = _texts_of(self.read_tops, self.snapshot)
        self.after = _texts_of([_top(o) for o in self.reads + list(touched)], _op_texts(self.module))


def _op_texts(module: Operation) -> dict[int, tuple[Operation, tuple[int, int], str]]:
    """id(op) -> (op, its position, its text) for each op at the top of a function's body,
    printed with the function's value names (large constants elided)."""
    texts = {}
    functions = [op for op in module.walk() if op.name == "func.func" and not op.is_declaration]
    for f, fn in enumerate(functions):
        ops = list(fn.entry)
        lines = print_ir(fn, elide_threshold=ELIDE).splitlines()[1:-1]  # the body, without `func.func ... {` and `}`
        chunks: list[list[str]] = []
        for line in lines:
            body = line[2:]
            if not chunks or (line.startswith("  ") and not body.startswith((" ", "}"))):
                chunks.append([])
            chunks[-1].append(body)
        if len(chunks) != len(ops) or len(fn.regions[0].blocks) != 1:  # a form this cannot split
            chunks = [[str(op)] for op in ops]
        for i, (op, chunk) in enumerate(zip(ops, chunks)):
            texts[id(op)] = (op, (f, i), "\n".join(chunk))
    return texts


def _top(op: Operation) -> Operation | None:
    """The ancestor of `op` (or `op`) at the top of a function's body; None when erased."""
    while op is not None:
        parent = op.parent_op if op.parent is not None else None
        if parent is None:
            return None
        if parent.name == "func.func":
            return op
        op = parent
    return None


def _texts_of(tops: list[Operation | None], texts: dict) -> str:
    """The texts of the ops (at the top of a function's body) that `texts` has, once each, in IR order."""
    found = {}
    for top in tops:
        if top is not None and id(top) in texts and texts[id(top)][0] is top:
            found[id(top)] = texts[id(top)]
    return "\n".join(text for _, _, text in sorted(found.values(), key=lambda entry: entry[1]))
