"""The schedule verifier (lowering/schedules/verify.py) on small kernels: each broken program is
one ScheduleError at the offending op's line and column, before TVM sees it; applying the same
program straight through the adapter (`apply_schedule`) gives a ScheduleError at the same op too,
never a TVM exception. Also TVM 0.27's rfactor + compute_at bug, which the verifier refuses, and
xdsl-opt reading a schedule program's generic form.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lamina.compiler.parser import parse
from lamina.lowering import targets, tvm_adapter
from lamina.lowering.schedules.verify import ScheduleError, verify_schedule
from lamina.lowering.tvm_adapter import placeholder, prim_func, te

LLVM = targets.get("llvm", threads=2)
OPENCL = targets.get("opencl")


# -- kernels ------------------------------------------------------------------------------------


def rowsum(rows=4, n=1000):
    a = placeholder((rows, n), "float32", "A")
    k = te.reduce_axis((0, n), "k")
    return prim_func([a], [te.compute((rows,), lambda i: te.sum(a[i, k], axis=k), name="rowsum")])


def matmul(m=64, n=64, kk=64):
    a = placeholder((m, kk), "float32", "A")
    b = placeholder((kk, n), "float32", "B")
    k = te.reduce_axis((0, kk), "k")
    return prim_func([a, b], [te.compute((m, n), lambda i, j: te.sum(a[i, k] * b[k, j], axis=k), name="matmul")])


def add(shape=(64, 64)):
    a = placeholder(shape, "float32", "A")
    b = placeholder(shape, "float32", "B")
    return prim_func([a, b], [te.compute(shape, lambda *i: a[i] + b[i], name="add")])


def add_relu(shape=(64, 64)):
    a = placeholder(shape, "float32", "A")
    b = placeholder(shape, "float32", "B")
    c = te.compute(shape, lambda *i: a[i] + b[i], name="add")
    return prim_func([a, b], [te.compute(shape, lambda *i: te.max(c[i], te.const(0, "float32")), name="relu")])


KERNELS = {"rowsum": rowsum, "matmul": matmul, "add": add, "add_relu": add_relu}
_MODULES: dict = {}


def module(kernel: str):
    if kernel not in _MODULES:
        _MODULES[kernel] = KERNELS[kernel]()
    return _MODULES[kernel]


def program_of(kernel: str, body: str, target: str = "llvm"):
    text = f'sched.schedule @{kernel} attributes {{target = "{target}"}} {{\n{body.strip()}\n}}\n'
    return parse(text, "s.mlir").block.ops[0], text


def where(text: str) -> tuple[int, int]:
    """Line and column of the op marked `// <-` (the schedule op itself when none is marked)."""
    for n, line in enumerate(text.splitlines(), 1):
        if "// <-" in line:
            return n, line.index("sched.") + 1
    return 1, 1


def run(executable_module, inputs, out_shape):
    return tvm_adapter.Kernel(executable_module).run(inputs, [out_shape], ["float32"])[0]


def build(scheduled):
    return tvm_adapter.compile_module(scheduled, LLVM.tvm_target()).mod


# -- each case: (kernel, target, schedule target attribute, body, message, applies on CPU) ----------

CASES = {
    "loop used after split": ("matmul", LLVM, "llvm", """
  %t = sched.knob t 8
  %b = sched.get_block @matmul
  %l:3 = sched.get_loops %b
  %o, %i = sched.split %l#1 (%t)
  sched.vectorize %l#1  // <-
""", "consumed", True),
    "block used after compute_inline": ("add_relu", LLVM, "llvm", """
  %b = sched.get_block @add
  sched.compute_inline %b
  %l:2 = sched.get_loops %b  // <-
""", "consumed", True),
    "exact split too small": ("add", LLVM, "llvm", """
  %a = sched.knob a 7
  %c = sched.knob c 9
  %b = sched.get_block @add
  %l:2 = sched.get_loops %b
  %o, %i = sched.split exact, %l#1 (%a, %c)  // <-
""", "= 63 do not cover the loop's extent 64", True),
    "bind on llvm": ("add", LLVM, "llvm", """
  %b = sched.get_block @add
  %l:2 = sched.get_loops %b
  sched.bind @threadIdx.x %l#1  // <-
""", "has no GPU threads", True),
    "bind tag not in target": ("add", OPENCL, "opencl", """
  %b = sched.get_block @add
  %l:2 = sched.get_loops %b
  sched.bind @threadIdx.w %l#1  // <-
""", "'threadIdx.w', which target 'opencl' does not have", True),
    "threadIdx.x over the limit": ("add", OPENCL, "opencl", """
  %b = sched.get_block @add
  %l:2 = sched.get_loops %b
  %f = sched.fuse %l#0, %l#1
  sched.bind @threadIdx.x %f  // <-
""", "loop of 4096 iterations, over target 'opencl''s limit of 256", True),
    "vectorize a reduction loop": ("rowsum", LLVM, "llvm", """
  %b = sched.get_block @rowsum
  %l:2 = sched.get_loops %b
  sched.vectorize %l#1  // <-
""", "vectorize a reduction loop", True),
    "parallel a reduction loop": ("matmul", LLVM, "llvm", """
  %b = sched.get_block @matmul
  %l:3 = sched.get_loops %b
  sched.parallel %l#2  // <-
""", "reduction loop", True),
    "written for another target": ("matmul", LLVM, "cuda", """
  %b = sched.get_block @matmul
""", "written for target 'cuda', not 'llvm'", False),  # apply_schedule does not compare targets
    "get_loops with the wrong count": ("matmul", LLVM, "llvm", """
  %b = sched.get_block @matmul
  %l:2 = sched.get_loops %b  // <-
""", "names 2 loops, but", True),
    "loop used after merge_axes": ("add", LLVM, "llvm", """
  %b = sched.get_block @add
  %l:2 = sched.get_loops %b
  sched.merge_axes iters, %b array<i64: 0, 1>
  sched.vectorize %l#1  // <-
""", "consumed", True),
    "get_block of an unknown block": ("rowsum", LLVM, "llvm", """
  %b = sched.get_block @colsum  // <-
""", "names block @colsum, which the kernel does not have", True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_verifier_refuses_at_the_op(case):
    kernel, target, attr, body, message, _ = CASES[case]
    program, text = program_of(kernel, body, attr)
    with pytest.raises(ScheduleError) as info:
        verify_schedule(program, target, tvm_adapter.kernel_info(module(kernel)))
    e = info.value
    assert message in str(e), str(e)
    assert (e.pos.line, e.pos.col) == where(text), str(e)


@pytest.mark.parametrize("case", [c for c, v in CASES.items() if v[-1]])
def test_apply_schedule_refuses_at_the_same_op(case):
    """Straight through the adapter (no verifier): its own checks and TVM's refusals are
    ScheduleErrors at the same op."""
    kernel, target, attr, body, _, _ = CASES[case]
    program, text = program_of(kernel, body, attr)
    with pytest.raises(ScheduleError) as info:
        tvm_adapter.apply_schedule(module(kernel), program, target)
    assert (info.value.pos.line, info.value.pos.col) == where(text), str(info.value)


def test_apply_schedule_with_another_target_is_not_checked():
    """apply_schedule does not compare the program's target with its own (only the verifier
    does); if that changes, move the case above to the applying ones."""
    program, _ = program_of("matmul", "%b = sched.get_block @matmul", "cuda")
    tvm_adapter.apply_schedule(module("matmul"), program, LLVM)


def test_exact_split_with_a_larger_product_is_accepted_and_right():
    program, _ = program_of("add", """
  %a = sched.knob a 5
  %c = sched.knob c 13
  %b = sched.get_block @add
  %l:2 = sched.get_loops %b
  %o, %i = sched.split exact, %l#1 (%a, %c)
  sched.parallel %l#0
""")
    mod = module("add")
    verify_schedule(program, LLVM, tvm_adapter.kernel_info(mod))
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 64, 64), dtype=np.float32)
    out = run(build(tvm_adapter.apply_schedule(mod, program, LLVM)), [x, y], (64, 64))
    np.testing.assert_allclose(out, x + y, rtol=1e-6)


def test_merged_axes_compute_the_same_and_vectorize_across_rows():
    """sched.merge_axes: the add's two axes one loop (and its output one row), split into whole
    vectors that run across the rows of the 64 x 48 result."""
    a = placeholder((64, 48), "float32", "A")
    b = placeholder((64, 48), "float32", "B")
    mod = prim_func([a, b], [te.compute((64, 48), lambda i, j: a[i, j] + b[i, j], name="add")])
    program, _ = program_of("add", """
  %v = sched.knob v 32
  %b = sched.get_block @add
  sched.merge_axes write, %b array<i64: 0, 1>
  sched.merge_axes iters, %b array<i64: 0, 1>
  %l = sched.get_loops %b
  %o, %i = sched.split %l (%v)
  sched.parallel %o
  sched.vectorize %i
""")
    verify_schedule(program, LLVM, tvm_adapter.kernel_info(mod))
    scheduled = tvm_adapter.apply_schedule(mod, program, LLVM)
    assert "T.vectorized(32)" in scheduled.script()
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 64, 48), dtype=np.float32)
    out = run(build(scheduled), [x, y], (64 * 48,))
    np.testing.assert_allclose(out.reshape(64, 48), x + y, rtol=1e-6)


def test_merge_axes_past_the_last_axis_is_refused_at_the_op():
    program, text = program_of("add", """
  %b = sched.get_block @add
  sched.merge_axes write, %b array<i64: 1, 2>  // <-
""")
    with pytest.raises(ScheduleError, match="merges axes 1..2, but the write has 2") as info:
        tvm_adapter.apply_schedule(module("add"), program, LLVM)
    assert (info.value.pos.line, info.value.pos.col) == where(text)


def test_threads_within_the_limit_are_accepted():
    program, _ = program_of("add", """
  %t = sched.knob t 256
  %b = sched.get_block @add
  %l:2 = sched.get_loops %b
  %f = sched.fuse %l#0, %l#1
  %bx, %tx = sched.split %f (%t)
  sched.bind @blockIdx.x %bx
  sched.bind @threadIdx.x %tx
""", "opencl")
    verify_schedule(program, OPENCL, tvm_adapter.kernel_info(module("add")))
    tvm_adapter.apply_schedule(module("add"), program, OPENCL)


def test_get_loops_after_a_split_counts_the_new_loops():
    program, _ = program_of("rowsum", """
  %t = sched.knob t 8
  %b = sched.get_block @rowsum
  %l:2 = sched.get_loops %b
  %o, %i = sched.split %l#1 (%t)
  %m:3 = sched.get_loops %b
""")
    tvm_adapter.apply_schedule(module("rowsum"), program, LLVM)  # TVM and the adapter accept it
    verify_schedule(program, LLVM, tvm_adapter.kernel_info(module("rowsum")))


# -- TVM 0.27's rfactor bug -----------------------------------------------------------------------------


def rfactor_program(factor: int):
    return program_of("rowsum", f"""
  %t = sched.knob t {factor}
  %b = sched.get_block @rowsum
  %l:2 = sched.get_loops %b
  %ko, %ki = sched.split %l#1 (%t)
  %rf = sched.rfactor %ki 0
  %b2 = sched.get_block @rowsum
  %m:2 = sched.get_loops %b2
  sched.compute_at %rf, %m#0  // <-
""")


def test_tvm_rfactor_compute_at_bug_still_there():
    """(a) Applied without the verifier, split k by 128 (1000 is no multiple) + rfactor +
    compute_at sums past the end: each row of ones gives 1024 (the last row reads beyond A)."""
    program, _ = rfactor_program(128)
    out = run(build(tvm_adapter.apply_schedule(module("rowsum"), program, LLVM)),
              [np.ones((4, 1000), np.float32)], (4,))
    if np.allclose(out, 1000):
        pytest.fail("TVM fixed the rfactor bug: lift the refusal in verify.py (op_compute_at, uneven_rfactor)")
    assert out[0] == 1024, out


def test_verifier_refuses_the_rfactor_bug():
    """(b) The verifier refuses that program, at the compute_at."""
    program, text = rfactor_program(128)
    with pytest.raises(ScheduleError) as info:
        verify_schedule(program, LLVM, tvm_adapter.kernel_info(module("rowsum")))
    assert "'sched.compute_at'" in str(info.value) and "rfactor" in str(info.value)
    assert (info.value.pos.line, info.value.pos.col) == where(text)


def test_rfactor_with_a_dividing_split_is_accepted_and_right():
    """(c) Split by 125 (divides 1000): accepted, and the sums are right."""
    program, _ = rfactor_program(125)
    mod = module("rowsum")
    verify_schedule(program, LLVM, tvm_adapter.kernel_info(mod))
    a = np.random.default_rng(1).standard_normal((4, 1000), dtype=np.float32)
    out = run(build(tvm_adapter.apply_schedule(mod, program, LLVM)), [a], (4,))
    np.testing.assert_allclose(out, a.sum(axis=1), rtol=1e-4, atol=1e-3)
    ones = run(build(tvm_adapter.apply_schedule(mod, program, LLVM)), [np.ones((4, 1000), np.float32)], (4,))
    np.testing.assert_array_equal(ones, 1000)


# -- xdsl-opt reads a schedule program's generic form -------------------------------------------------


def test_xdsl_opt_reads_the_generic_form(tmp_path):
    bin_dir = Path(sys.executable).parent
    xdsl_opt = bin_dir / "xdsl-opt"
    if not xdsl_opt.exists():
        xdsl_opt = shutil.which("xdsl-opt")
        if xdsl_opt is None:
            pytest.skip("xdsl-opt (from the xdsl package) is not installed")
    source = Path(__file__).parent / "filecheck" / "sched" / "roundtrip.mlir"
    text = source.read_text().split("// -----")[0]
    path = tmp_path / "schedule.mlir"
    path.write_text(text)
    generic = subprocess.run([str(bin_dir / "lamina"), "opt", str(path), "--print-generic"],
                             capture_output=True, text=True, timeout=120)
    assert generic.returncode == 0, generic.stderr
    assert '"sched.rfactor"' in generic.stdout
    xdsl = subprocess.run([str(xdsl_opt), "--allow-unregistered-dialect", "--print-op-generic"],
                          input=generic.stdout, capture_output=True, text=True, timeout=120)
    assert xdsl.returncode == 0, xdsl.stderr[-3000:]
    for name in ("sched.schedule", "sched.split", "sched.transform_layout", "!sched.loop"):
        assert name in xdsl.stdout, xdsl.stdout
    assert '<{exact}>' in xdsl.stdout or "exact" in xdsl.stdout
