"""Random loop programs, and `check_loop_pass`: does a loop pass keep the meaning of them all?

    from lamina.compiler.testing_loops import check_loop_pass
    result = check_loop_pass("loop-tile{sizes=2,3}", examples=100)
    assert result, result.report()      # the report holds the smallest failing program

`loop_programs()` draws modules with one function in destination-passing style over small static
memrefs, as `lower-nn-to-loops` writes them:

    func.func @main(%a: memref<RxCxT>, %b: memref<CxT>, %out: memref<RxCxT>, %red: memref<RxT>)

(R, C in 1..6; T is f32 or i32), whose body is a sequence of loop nests, each one of:
  - map: `scf.for %i` over rows, `scf.for %j` over columns (random static lower bound, upper
    bound and step, the step not always dividing the trip count), computing a value from loads and
    storing it into %out[%i, %j]; sometimes one loop only, over one row;
  - reduce: `scf.for %i` over rows around `scf.for %j ... iter_args(%acc = ...)`, then a store of
    the sum (or max) into %red[%i];
  - producer/consumer: a `memref.alloc` temporary written by one nest and read by the next, at the
    same index (a point-wise dependence, which fusion may merge) or at another one.
Values are trees of arith / math ops (addf, mulf, maximumf, tanh, absf, index casts, ... or the
integer ones for i32) over loads with affine indices (%i, min(%i + 1, R - 1), R - 1 - %i,
min(%j * 2, C - 1), constants), constants, the reduction's iter_arg, `arith.select`s and `scf.if`s
with results; some stores sit inside an `scf.if`. Loop-invariant computations (a product of two
constants, a load at a constant index, index arithmetic on an outer loop's variable) are placed in
the innermost loop on purpose, for loop-invariant code motion to find; half the reductions read
such a load, since their inner loop, storing nothing, is where LICM may hoist loads. Every element a program
reads has been written first (the temporaries), so the JIT, which does not fill new buffers with
NaN as the interpreter does, computes the same.

`check_loop_pass(pipeline)` runs the reference interpreter on random inputs before and after the
pipeline and compares every memref argument afterwards (integers exactly, floats with allclose,
NaN equal to NaN); with `jit=True` it also runs the transformed program through the llvmlite JIT
(lamina.lowering.llvm) and compares that too.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import strategies as st

from .testing import CheckResult, _compare, _Mismatch

__all__ = ["loop_programs", "loop_program_texts", "random_memref_inputs", "check_loop_pass", "LoopCheckResult"]


class _Emitter:
    """Writes one function's text: constants at the top, then the nests, with fresh names."""

    def __init__(self, draw, rows: int, cols: int, elem: str):
        self.draw, self.rows, self.cols, self.elem = draw, rows, cols, elem
        self.is_float = elem.startswith("f")
        self.constants: dict[str, str] = {}  # name -> line
        self.lines: list[str] = []
        self.indent = 1
        self.counter = 0

    # -- names and constants -----------------------------------------------------------------

    def fresh(self, prefix: str = "v") -> str:
        self.counter += 1
        return f"%{prefix}{self.counter}"

    def emit(self, line: str) -> None:
        self.lines.append("  " * self.indent + line)

    def index(self, n: int) -> str:
        name = f"%c{n}"
        self.constants.setdefault(name, f"{name} = arith.constant {n} : index")
        return name

    def scalar(self, x) -> str:
        if self.is_float:
            name = f"%cf{len(self.constants)}"
            self.constants[name] = f"{name} = arith.constant {float(x):e} : {self.elem}"
        else:
            name = f"%ci{len(self.constants)}"
            self.constants[name] = f"{name} = arith.constant {int(x)} : {self.elem}"
        return name

    # -- index expressions -----------------------------------------------------------------------

    def index_expr(self, iv: str | None, dim: int, kinds=("iv", "iv", "iv", "next", "reverse", "double", "const")) -> str:
        """An affine index into a dimension of size `dim`, from the loop variable `iv`."""
        kind = self.draw(st.sampled_from(kinds if iv is not None else ["const"]))
        if kind == "iv":
            return iv
        if kind == "const":
            return self.index(self.draw(st.integers(0, dim - 1)))
        if kind == "next":  # min(iv + 1, dim - 1)
            t, u = self.fresh("n"), self.fresh("n")
            self.emit(f"{t} = arith.addi {iv}, {self.index(1)} : index")
            self.emit(f"{u} = arith.minsi {t}, {self.index(dim - 1)} : index")
            return u
        if kind == "reverse":  # dim - 1 - iv
            t = self.fresh("r")
            self.emit(f"{t} = arith.subi {self.index(dim - 1)}, {iv} : index")
            return t
        t, u = self.fresh("d"), self.fresh("d")  # min(iv * 2, dim - 1)
        self.emit(f"{t} = arith.muli {iv}, {self.index(2)} : index")
        self.emit(f"{u} = arith.minsi {t}, {self.index(dim - 1)} : index")
        return u

    # -- values ------------------------------------------------------------------------------------

    def load(self, buffer: str, indices: list[str], shape: str) -> str:
        v = self.fresh()
        self.emit(f"{v} = memref.load {buffer}[{', '.join(indices)}] : {shape}")
        return v

    def leaf(self, ctx: dict) -> str:
        kinds = ["a", "a", "b", "const", "inv", "inv_load", "cast"] + ctx.get("extra_leaves", [])
        kind = ctx.get("force") or self.draw(st.sampled_from(kinds))
        i, j = ctx.get("i"), ctx.get("j")
        if kind == "a":
            return self.load("%a", [self.index_expr(i, self.rows), self.index_expr(j, self.cols)], self.shape2)
        if kind == "b":
            return self.load("%b", [self.index_expr(j, self.cols)], self.shape_b)
        if kind == "const":
            return self.scalar(self.draw(st.integers(-3, 3)) / (2 if self.is_float else 1))
        if kind == "inv":  # invariant arithmetic, on purpose inside the loop
            x, y = self.scalar(self.draw(st.integers(-3, 3))), self.scalar(self.draw(st.integers(-3, 3)))
            v = self.fresh("inv")
            self.emit(f"{v} = arith.{'mulf' if self.is_float else 'muli'} {x}, {y} : {self.elem}")
            return v
        if kind == "inv_load":  # a load at an index that does not change in the innermost loop
            return self.load("%b", [self.index(self.draw(st.integers(0, self.cols - 1)))], self.shape_b)
        if kind == "cast":  # the loop variable as a value
            iv = j or i or self.index(0)
            k = self.fresh("k")
            self.emit(f"{k} = arith.index_cast {iv} : index to i32")
            if not self.is_float:
                return k
            f = self.fresh("f")
            self.emit(f"{f} = arith.sitofp {k} : i32 to f32")
            return f
        if kind == "acc":
            return ctx["acc"]
        if kind == "out":  # read what this nest writes, at the same index (read-modify-write)
            return self.load("%out", [i, j], self.shape2)
        if kind == "out_shifted":  # ... or at another index (a dependence across iterations)
            # (the kinds that make tiling or fusion wrong when a pass ignores the dependence)
            return self.load("%out", [self.index_expr(i, self.rows, ("next", "next", "reverse", "double", "const")),
                                      self.index_expr(j, self.cols, ("iv", "reverse", "const", "next"))], self.shape2)
        if kind == "tmp":
            return self.load(ctx["tmp"], ctx["tmp_index"] or [self.index_expr(i, self.rows),
                                                             self.index_expr(j, self.cols)], self.shape2)
        raise AssertionError(kind)

    def value(self, ctx: dict, depth: int) -> str:
        choices = ["leaf"] if depth <= 0 else ["leaf", "binary", "binary", "unary", "select", "if"]
        kind = self.draw(st.sampled_from(choices))
        if kind == "leaf":
            return self.leaf(ctx)
        t = self.elem
        if kind == "binary":
            x, y = self.value(ctx, depth - 1), self.value(ctx, depth - 1)
            ops = (["addf", "subf", "mulf", "maximumf", "minimumf"] if self.is_float
                   else ["addi", "subi", "muli", "maxsi", "minsi", "xori"])
            v = self.fresh()
            self.emit(f"{v} = arith.{self.draw(st.sampled_from(ops))} {x}, {y} : {t}")
            return v
        if kind == "unary":
            x = self.value(ctx, depth - 1)
            v = self.fresh()
            if self.is_float:
                op = self.draw(st.sampled_from(["arith.negf", "math.absf", "math.tanh", "math.floor"]))
                self.emit(f"{v} = {op} {x} : {t}")
            else:
                self.emit(f"{v} = arith.subi {self.scalar(0)}, {x} : {t}")
            return v
        c = self.condition(ctx, depth)
        if kind == "select":
            x, y = self.value(ctx, depth - 1), self.value(ctx, depth - 1)
            v = self.fresh()
            self.emit(f'{v} = "arith.select"({c}, {x}, {y}) : (i1, {t}, {t}) -> {t}')
            return v
        v = self.fresh()
        self.emit(f"{v} = scf.if {c} -> ({t}) {{")
        self.indent += 1
        x = self.value(ctx, depth - 1)
        self.emit(f"scf.yield {x} : {t}")
        self.indent -= 1
        self.emit("} else {")
        self.indent += 1
        y = self.value(ctx, depth - 1)
        self.emit(f"scf.yield {y} : {t}")
        self.indent -= 1
        self.emit("}")
        return v

    def condition(self, ctx: dict, depth: int) -> str:
        c = self.fresh("cond")
        iv = ctx.get("j") or ctx.get("i")
        if iv is not None and self.draw(st.booleans()):
            bound = self.index(self.draw(st.integers(0, self.cols)))
            self.emit(f"{c} = arith.cmpi slt, {iv}, {bound} : index")
            return c
        x, y = self.value(ctx, depth - 1), self.value(ctx, depth - 1)
        if self.is_float:
            self.emit(f"{c} = arith.cmpf olt, {x}, {y} : {self.elem}")
        else:
            self.emit(f"{c} = arith.cmpi slt, {x}, {y} : {self.elem}")
        return c

    # -- nests ---------------------------------------------------------------------------------------

    def loop_range(self, dim: int, full: bool = False) -> tuple[str, str, str]:
        if full:
            return self.index(0), self.index(dim), self.index(1)
        lb = self.draw(st.sampled_from([0, 0, 0, 1]))
        ub = self.draw(st.sampled_from([dim, dim, dim - 1]))
        step = self.draw(st.sampled_from([1, 1, 1, 2, 3]))
        return self.index(lb), self.index(max(ub, 0)), self.index(step)

    def open_for(self, iv: str, rng, iter_args: str = "") -> None:
        self.emit(f"scf.for {iv} = {rng[0]} to {rng[1]} step {rng[2]}{iter_args} {{")
        self.indent += 1

    def close(self, line: str | None = None) -> None:
        if line:
            self.emit(line)
        self.indent -= 1
        self.emit("}")

    def store(self, value: str, buffer: str, indices: list[str], ctx: dict) -> None:
        line = f"memref.store {value}, {buffer}[{', '.join(indices)}] : {self.shape2}"
        if not buffer.startswith("%tmp") and self.draw(st.integers(0, 4)) == 0:  # a conditional store
            self.emit(f"scf.if {self.condition(ctx, 1)} {{")
            self.indent += 1
            self.emit(line)
            self.close()
        else:
            self.emit(line)

    def map_nest(self, dst: str, depth: int, ranges=None, extra: dict | None = None) -> tuple:
        i, j = self.fresh("i"), self.fresh("j")
        if ranges is None:
            ranges = (self.loop_range(self.rows), self.loop_range(self.cols))
        one_row = extra is None and self.draw(st.integers(0, 5)) == 0
        ctx = {"i": i, "j": j, "extra_leaves": ["out", "out_shifted", "out_shifted"] if dst == "%out" else []}
        ctx.update(extra or {})
        if one_row:
            i = ctx["i"] = self.index(self.draw(st.integers(0, self.rows - 1)))
        else:
            self.open_for(i, ranges[0])
        self.open_for(j, ranges[1])
        if ctx.get("tmp_index") == "same":
            ctx["tmp_index"] = [i, j]
        v = self.value(ctx, depth)
        if dst == "%out" and self.draw(st.integers(0, 2)) == 0:  # a dependence across iterations
            w, u = self.leaf(ctx | {"force": "out_shifted"}), self.fresh()
            self.emit(f"{u} = arith.{'addf' if self.is_float else 'addi'} {v}, {w} : {self.elem}")
            v = u
        self.store(v, dst, [i, j], ctx)
        self.close()
        if not one_row:
            self.close()
        return ranges

    def reduce_nest(self, depth: int) -> None:
        i, j, acc = self.fresh("i"), self.fresh("j"), self.fresh("acc")
        self.open_for(i, self.loop_range(self.rows))
        init = self.scalar(0)
        s = self.fresh("sum")
        t = self.elem
        lb, ub, step = self.loop_range(self.cols)
        self.emit(f"{s} = scf.for {j} = {lb} to {ub} step {step} iter_args({acc} = {init}) -> ({t}) {{")
        self.indent += 1
        ctx = {"i": i, "j": j, "acc": acc, "extra_leaves": ["acc"]}
        v = self.value(ctx, depth)
        if self.draw(st.booleans()):  # a load LICM may hoist: this loop is the only one with no store
            w, u = self.leaf(ctx | {"force": "inv_load"}), self.fresh()
            self.emit(f"{u} = arith.{'mulf' if self.is_float else 'muli'} {v}, {w} : {t}")
            v = u
        n = self.fresh()
        combine = self.draw(st.sampled_from(["addf", "maximumf"] if self.is_float else ["addi", "maxsi"]))
        self.emit(f"{n} = arith.{combine} {acc}, {v} : {t}")
        self.close(f"scf.yield {n} : {t}")
        self.emit(f"memref.store {s}, %red[{i}] : {self.shape_red}")
        self.close()

    def pair(self, depth: int, k: int) -> None:
        tmp = f"%tmp{k}"
        self.emit(f"{tmp} = memref.alloc() : {self.shape2}")
        pointwise = self.draw(st.integers(0, 3)) > 0
        ranges = self.map_nest(tmp, depth, ranges=None if pointwise else (
            self.loop_range(self.rows, full=True), self.loop_range(self.cols, full=True)), extra={})
        extra = {"tmp": tmp, "tmp_index": "same" if pointwise else None,
                 "extra_leaves": ["tmp", "tmp"]}
        self.map_nest("%out", depth, ranges=ranges if pointwise or self.draw(st.booleans()) else None,
                      extra=extra)
        if self.draw(st.booleans()):
            self.emit(f"memref.dealloc {tmp} : {self.shape2}")

    @property
    def shape2(self) -> str:
        return f"memref<{self.rows}x{self.cols}x{self.elem}>"

    @property
    def shape_b(self) -> str:
        return f"memref<{self.cols}x{self.elem}>"

    @property
    def shape_red(self) -> str:
        return f"memref<{self.rows}x{self.elem}>"

    def text(self) -> str:
        head = (f"func.func @main(%a: {self.shape2}, %b: {self.shape_b}, %out: {self.shape2}, "
                f"%red: {self.shape_red}) {{")
        body = ["  " + line for line in self.constants.values()] + self.lines
        return "\n".join([head, *body, "  func.return", "}"]) + "\n"


@st.composite
def loop_program_texts(draw, max_nests: int = 3, max_depth: int = 2, element_types=("f32", "f32", "i32"),
                       kinds=("map", "map", "reduce", "pair")) -> str:
    """The text of a random loop program (see the module docstring)."""
    rows, cols = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    e = _Emitter(draw, rows, cols, draw(st.sampled_from(element_types)))
    for k in range(draw(st.integers(1, max_nests))):
        kind = draw(st.sampled_from(kinds))
        depth = draw(st.integers(0, max_depth))
        if kind == "map":
            e.map_nest("%out", depth)
        elif kind == "reduce":
            e.reduce_nest(depth)
        else:
            e.pair(depth, k)
    return e.text()


def loop_programs(**kwargs):
    """Random loop programs as parsed, verified modules (keywords: see `loop_program_texts`)."""
    from .parser import parse
    from .verifier import verify

    def build(text):
        module = parse(text)
        verify(module)
        return module

    return loop_program_texts(**kwargs).map(build)


def random_memref_inputs(module, seed: int, function: str = "main") -> list[np.ndarray]:
    """One random array per memref argument of `function`: floats in [-2, 2], integers in [-8, 8]."""
    from .symbols import SymbolTable

    fn = SymbolTable(module).lookup(function)
    rng = np.random.default_rng(seed)
    arrays = []
    for arg in fn.entry.args:
        t = arg.type
        dtype = np.dtype(t.element_type.numpy_dtype)
        if dtype.kind == "f":
            arrays.append(rng.uniform(-2, 2, t.shape).astype(dtype))
        else:
            arrays.append(rng.integers(-8, 9, t.shape).astype(dtype))
    return arrays


class LoopCheckResult(CheckResult):
    """What `check_loop_pass` found (see compiler.testing.CheckResult): `ok`, how many programs,
    and for a failure the smallest program before and after the pass, its inputs, the difference."""

    def summary(self) -> str:
        if self.ok:
            return f"OK: '{self.pipeline}' kept the meaning of {self.examples} random loop programs"
        return f"FAILED: '{self.pipeline}' changed the meaning of a loop program: {self.message}"

    def report(self) -> str:
        return super().report().replace("smallest graph,", "smallest program,")

    __str__ = report


def check_loop_pass(pipeline, programs=None, examples: int = 100, seed: int | None = None, *,
                    rtol: float = 1e-4, atol: float = 1e-5, jit: bool = False,
                    jit_opt_level: int = 2) -> LoopCheckResult:
    """Run the interpreter on random loop programs (`loop_programs()`, or `programs`: a strategy
    of modules) and random inputs before and after `pipeline` (a pipeline string or a Pass); every
    memref argument must hold the same afterwards (integers exactly, floats within rtol/atol, NaN
    equal to NaN). With `jit`, the program after the pipeline also runs through the llvmlite JIT
    at `jit_opt_level` and must agree too. On a difference, or an error in the pass, hypothesis
    shrinks the program and the result holds the smallest failing one (`result.report()`)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as seed_decorator

    from .passes.manager import PassManager
    from .passes.pass_base import Pass
    from .printer import print_ir
    from lamina.runtime.interpreter import interpret

    if isinstance(pipeline, Pass):
        label = pipeline.pipeline_text()
        make = lambda: PassManager([pipeline])  # noqa: E731
    else:
        label = str(pipeline)
        PassManager.parse(label)  # a bad pipeline fails here, once
        make = lambda: PassManager.parse(label)  # noqa: E731
    count = [0]
    last: list[LoopCheckResult] = []
    statistics: Counter = Counter()

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), print_blob=False, report_multiple_bugs=False)
    @given(programs if programs is not None else loop_programs(), st.integers(0, 2 ** 32 - 1))
    def prop(module, input_seed):
        count[0] += 1
        before_text = print_ir(module)
        inputs = random_memref_inputs(module, input_seed)
        expected = [a.copy() for a in inputs]
        interpret(module, *expected)
        after_text = None
        try:
            manager = make()
            manager.run(module)
            for _, stats in manager.statistics:
                statistics.update(stats)
            after_text = print_ir(module)
            got = [a.copy() for a in inputs]
            interpret(module, *got)
            diff = _compare(expected, got, rtol, atol)
            if diff is None and jit:
                from lamina.lowering.llvm import jit as jit_compile

                got = [a.copy() for a in inputs]
                jit_compile(module, jit_opt_level).call("main", *got)
                diff = _compare(expected, got, rtol, atol)
                if diff is not None:
                    diff = (f"the JIT (-O{jit_opt_level}) disagrees: {diff[0]}", diff[1])
        except Exception as e:  # noqa: BLE001 - a pass that crashes or breaks the IR fails too
            last[:] = [LoopCheckResult(label, False, count[0], before_text, after_text, inputs, None,
                                       f"{type(e).__name__}: {e}")]
            raise _Mismatch(str(e)) from None
        if diff is not None:
            last[:] = [LoopCheckResult(label, False, count[0], before_text, after_text, inputs, diff[1], diff[0])]
            raise _Mismatch(diff[0])

    if seed is not None:
        prop = seed_decorator(seed)(prop)
    try:
        prop()
    except _Mismatch:
        result = last[0]
        result.examples = count[0]
        result.statistics = statistics
        return result
    result = LoopCheckResult(label, True, count[0])
    result.statistics = statistics
    return result
