"""The llvmlite backend as users reach it: `lamina.compile(model, backend="llvmlite")` and
`lamina run MODEL --backend llvmlite`.

- Three-way differential test: random nn graphs give the same numbers through the reference
  interpreter, the TVM backend and the llvmlite backend (two code generators that share nothing
  below the nn dialect, and the numpy oracle).
- The whole zoo on --backend llvmlite against onnxruntime, as a user runs it.
- What it refuses: another target, schedules; each a one-line error.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import lamina
from lamina.compiler.errors import LaminaError
from lamina.compiler.testing import CATALOGUE_KINDS, NN_GRAPH_KINDS, nn_graphs, random_inputs
from lamina.runtime.benchmark import zoo_models
from lamina.runtime.interpreter import interpret

LAMINA = Path(sys.executable).parent / "lamina"


@pytest.fixture(autouse=True)
def shared_kernels(kernel_dir, monkeypatch):
    """The session's kernel cache (tests/conftest.py), for the TVM side of the comparison."""
    monkeypatch.setenv("LAMINA_CACHE_DIR", str(kernel_dir))


def assert_same(got, want, what):
    assert len(got) == len(want), what
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype, (what, g.shape, w.shape, g.dtype, w.dtype)
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5, equal_nan=True, err_msg=what)
        else:
            np.testing.assert_array_equal(g, w, err_msg=what)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(module=nn_graphs(kinds=NN_GRAPH_KINDS + CATALOGUE_KINDS))
def test_interpreter_tvm_and_llvmlite_agree_on_random_graphs(module):
    inputs = random_inputs(module, seed=0)
    want = interpret(module, *inputs)
    for level in (0, 3):
        by_tvm = lamina.compile(module, opt_level=level)(*inputs)
        by_llvm = lamina.compile(module, opt_level=level, backend="llvmlite")(*inputs)
        assert_same(by_tvm, want, f"TVM at -O{level}")
        assert_same(by_llvm, want, f"llvmlite at -O{level}")


@pytest.mark.parametrize("model", zoo_models())
def test_zoo_on_llvmlite_matches_onnxruntime(zoo, model):
    proc = subprocess.run([str(LAMINA), "run", str(zoo / f"{model}.onnx"), "--backend", "llvmlite",
                           "--fill", "random", "--check", "onnxruntime"],
                          capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("compiled @main at -O3 to loops and with LLVM -O2 (llvmlite)"), proc.stdout
    _, _, checks = proc.stdout.partition("check against onnxruntime")
    lines = [line.strip() for line in checks.splitlines()[1:] if line.startswith("  ")]
    assert lines and all(line.endswith(" ok") for line in lines), proc.stdout


def test_compile_with_llvmlite_equals_the_tvm_backend(zoo):
    path = str(zoo / "mlp.onnx")
    ours = lamina.compile(path, backend="llvmlite", llvm_opt=3)
    theirs = lamina.compile(path)
    x = np.random.default_rng(1).standard_normal(tuple(ours.params[0].type.shape)).astype(np.float32)
    assert_same(ours(x), theirs(x), "mlp")
    assert "define" in ours.jit.llvm_ir and "scf.for" in lamina.print_ir(ours.loop_module)


def test_another_target_with_llvmlite_is_one_error(zoo):
    with pytest.raises(LaminaError, match="the llvmlite backend compiles for this CPU only, not for target 'cuda'"):
        lamina.compile(str(zoo / "mlp.onnx"), target="cuda", backend="llvmlite")
    proc = subprocess.run([str(LAMINA), "run", str(zoo / "mlp.onnx"), "--backend", "llvmlite", "--target",
                           "opencl", "--fill", "random"], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[0] == (
        "error: the llvmlite backend compiles for this CPU only, not for target 'opencl'"), proc.stderr


def test_unknown_backend_and_schedules_are_errors(zoo):
    with pytest.raises(LaminaError, match="unknown backend 'gcc'"):
        lamina.compile(str(zoo / "mlp.onnx"), backend="gcc")
    with pytest.raises(LaminaError, match="schedules and records apply to the TVM backend"):
        lamina.compile(str(zoo / "mlp.onnx"), backend="llvmlite", schedules={"k": None})


def test_wrong_input_is_the_same_error_as_on_tvm(zoo):
    model = lamina.compile(str(zoo / "mlp.onnx"), backend="llvmlite")
    with pytest.raises(LaminaError, match=r"has shape \[1, 783\] but the function expects tensor<1x784xf32>"):
        model(np.zeros((1, 783), np.float32))


def test_serial_and_parallel_loops_give_the_same_numbers(zoo):
    """threads=1 lowers every nest to scf.for; more threads make each nest's outermost loop an
    scf.parallel, whose chunks run on threads the generated code starts."""
    path = str(zoo / "tiny_yolo.onnx")
    serial = lamina.compile(path, backend="llvmlite", threads=1)
    parallel = lamina.compile(path, backend="llvmlite", threads=3)
    assert "scf.parallel" not in lamina.print_ir(serial.loop_module)
    assert "scf.parallel" in lamina.print_ir(parallel.loop_module)
    x = np.random.default_rng(2).standard_normal(tuple(serial.params[0].type.shape)).astype(np.float32)
    assert_same(parallel(x), serial(x), "tiny_yolo, 3 threads against 1")
