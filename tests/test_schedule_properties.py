"""Random schedule programs on random small kernels (elementwise add, row sum, matmul).

Valid ones (splits by factors that may not divide, exact splits whose product may exceed the
extent, a reorder of the spatial loops, a fuse of the two outermost loops, a vectorized innermost
spatial loop, a parallel outer one), written as sched IR text, pass the schedule verifier, apply,
build and match numpy. One random mutation of a valid program (a consumed handle used, an exact
split whose product is too small, vectorize or parallel of a reduction loop, another target) is
refused by `verify_schedule` with one ScheduleError at the mutated op, never another exception.

Building a kernel costs ~0.1 s, so the ci profile draws few examples.
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lamina.compiler.parser import parse
from lamina.lowering import targets, tvm_adapter
from lamina.lowering.schedules.verify import ScheduleError, verify_schedule
from lamina.lowering.tvm_adapter import placeholder, prim_func, te

CI = os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci"
BUILD_EXAMPLES = 12 if CI else 300
VERIFY_EXAMPLES = 40 if CI else 2000
LLVM = targets.get("llvm", threads=2)


# -- kernels: (TE module, numpy reference, input shapes, output shape, loop kinds) ------------------


@st.composite
def kernels(draw):
    kind = draw(st.sampled_from(["add", "rowsum", "matmul"]))
    if kind == "add":
        shape = tuple(draw(st.lists(st.integers(1, 24), min_size=1, max_size=3)))
        a, b = placeholder(shape, "float32", "A"), placeholder(shape, "float32", "B")
        mod = prim_func([a, b], [te.compute(shape, lambda *i: a[i] + b[i], name="add")])
        return kind, mod, (lambda x, y: x + y), [shape, shape], shape, ["S"] * len(shape), list(shape)
    if kind == "rowsum":
        rows, n = draw(st.integers(1, 12)), draw(st.integers(1, 200))
        a = placeholder((rows, n), "float32", "A")
        k = te.reduce_axis((0, n), "k")
        mod = prim_func([a], [te.compute((rows,), lambda i: te.sum(a[i, k], axis=k), name="rowsum")])
        return kind, mod, (lambda x: x.sum(axis=1)), [(rows, n)], (rows,), ["S", "R"], [rows, n]
    m, n, kk = (draw(st.integers(1, 24)) for _ in range(3))
    a, b = placeholder((m, kk), "float32", "A"), placeholder((kk, n), "float32", "B")
    k = te.reduce_axis((0, kk), "k")
    mod = prim_func([a, b], [te.compute((m, n), lambda i, j: te.sum(a[i, k] * b[k, j], axis=k), name="matmul")])
    return kind, mod, (lambda x, y: x @ y), [(m, kk), (kk, n)], (m, n), ["S", "S", "R"], [m, n, kk]


# -- programs ----------------------------------------------------------------------------------------


class Program:
    """A schedule program being written: its lines, knobs, and each loop handle's extent/kind."""

    def __init__(self, kernel: str, target: str = "llvm"):
        self.kernel, self.target = kernel, target
        self.lines: list[str] = []
        self.n = 0
        self.consumed: list[str] = []   # handles a split or fuse consumed

    def fresh(self, stem: str) -> str:
        self.n += 1
        return f"%{stem}{self.n}"

    def knob(self, value: int) -> str:
        name = self.fresh("k")
        self.lines.append(f"{name} = sched.knob {name[1:]} {value}")
        return name

    def emit(self, line: str) -> int:
        self.lines.append(line)
        return len(self.lines) + 1  # its line in the text (the schedule op is line 1)

    def text(self) -> str:
        body = "\n".join("  " + line for line in self.lines)
        return f'sched.schedule @{self.kernel} attributes {{target = "{self.target}"}} {{\n{body}\n}}\n'


@st.composite
def schedules(draw, kernel, mutation=None):
    """(program text, line of the op that breaks it or None). `mutation` makes it invalid."""
    name, _, _, _, _, kinds, extents = kernel
    p = Program(name)
    p.emit(f"%b = sched.get_block @{name}")
    p.emit(f"%l:{len(kinds)} = sched.get_loops %b")
    bad_line = None
    small_axis = None
    if mutation == "small_exact":
        candidates = [i for i, e in enumerate(extents) if e >= 2]
        if not candidates:
            mutation = "target"
        else:
            small_axis = draw(st.sampled_from(candidates))
    nest = []  # (handle, extent, kind), outermost first
    for axis, (extent, kind) in enumerate(zip(extents, kinds)):
        handle = f"%l#{axis}"
        how = "small" if axis == small_axis else draw(st.sampled_from(["none", "split", "exact"]))
        if how == "none":
            nest.append((handle, extent, kind))
            continue
        o, i = p.fresh("o"), p.fresh("i")
        if how == "split":
            f = draw(st.integers(1, extent + 2))
            kf = p.knob(f)
            p.emit(f"{o}, {i} = sched.split {handle} ({kf})")
            parts = [(o, -(-extent // f), kind), (i, f, kind)]
        else:
            if how == "exact":
                inner = draw(st.integers(1, extent + 2))
                outer = draw(st.integers(-(-extent // inner), -(-extent // inner) + 2))
            else:  # a product below the extent
                inner = draw(st.integers(1, extent - 1))
                outer = draw(st.integers(1, (extent - 1) // inner))
            ko, ki = p.knob(outer), p.knob(inner)
            line = p.emit(f"{o}, {i} = sched.split exact, {handle} ({ko}, {ki})")
            if how == "small":
                bad_line = line
            parts = [(o, outer, kind), (i, inner, kind)]
        p.consumed.append(handle)
        nest.extend(parts)
    spatial = [l for l in nest if l[2] == "S"]
    reduce = [l for l in nest if l[2] == "R"]
    if len(spatial) >= 2 and draw(st.booleans()):
        spatial = draw(st.permutations(spatial))
        p.emit("sched.reorder " + ", ".join(h for h, _, _ in spatial))
    if len(spatial) >= 2 and draw(st.booleans()):
        (a, ea, _), (b, eb, _) = spatial[:2]
        f = p.fresh("f")
        p.emit(f"{f} = sched.fuse {a}, {b}")
        p.consumed.extend([a, b])
        spatial = [(f, ea * eb, "S"), *spatial[2:]]
    vectorized = None
    if not reduce and spatial and spatial[-1][1] <= 64 and draw(st.booleans()):
        vectorized = spatial[-1][0]
        p.emit(f"sched.vectorize {vectorized}")
    if spatial and spatial[0][0] != vectorized and draw(st.booleans()):
        p.emit(f"sched.parallel {spatial[0][0]}")
    if mutation == "consumed" and not p.consumed:
        mutation = "target"
    if mutation == "consumed":
        bad_line = p.emit(f"sched.unroll {draw(st.sampled_from(p.consumed))}")
    elif mutation in ("vectorize_reduce", "parallel_reduce"):
        if reduce:
            verb = mutation.split("_")[0]
            bad_line = p.emit(f"sched.{verb} {draw(st.sampled_from(reduce))[0]}")
        else:
            mutation = "target"
    if mutation == "target":
        p.target = draw(st.sampled_from(["cuda", "opencl", "aarch64-android"]))
        bad_line = 1
    return p.text(), bad_line


def program_of(text: str):
    return parse(text, "s.mlir").block.ops[0]


@settings(max_examples=BUILD_EXAMPLES)
@given(data=st.data())
def test_random_valid_schedules_match_numpy(data):
    kernel = data.draw(kernels(), "kernel")
    name, mod, reference, in_shapes, out_shape, _, _ = kernel
    text, bad = data.draw(schedules(kernel), "schedule")
    assert bad is None
    program = program_of(text)
    verify_schedule(program, LLVM, tvm_adapter.kernel_info(mod))
    scheduled = tvm_adapter.apply_schedule(mod, program, LLVM)
    executable = tvm_adapter.compile_module(scheduled, LLVM.tvm_target())
    seed = data.draw(st.integers(0, 2**16), "seed")
    rng = np.random.default_rng(seed)
    inputs = [rng.standard_normal(s).astype(np.float32) for s in in_shapes]
    out = tvm_adapter.Kernel(executable.mod).run(inputs, [out_shape], ["float32"])[0]
    np.testing.assert_allclose(out, reference(*inputs), rtol=1e-4, atol=1e-4)


@settings(max_examples=VERIFY_EXAMPLES)
@given(data=st.data())
def test_random_mutations_are_one_schedule_error(data):
    kernel = data.draw(kernels(), "kernel")
    mutation = data.draw(st.sampled_from(["consumed", "small_exact", "vectorize_reduce", "parallel_reduce",
                                          "target"]), "mutation")
    text, bad = data.draw(schedules(kernel, mutation), "schedule")
    assert bad is not None
    program = program_of(text)
    try:
        verify_schedule(program, LLVM, tvm_adapter.kernel_info(kernel[1]))
    except ScheduleError as e:
        assert e.pos is not None and e.pos.line == bad, (str(e), text)
    else:
        raise AssertionError("verify_schedule accepted:\n" + text)
