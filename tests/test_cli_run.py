"""`lamina run` and `lamina import` on real models, run as a user runs them: subprocesses of the
venv's `lamina` script.

Every model of the zoo (examples/models/zoo.py, written once per session into a temp dir) is
compiled, run on `--fill random` inputs and checked against onnxruntime; `--interpret` must
print the same outputs. Errors a user can cause (an op lamina lacks, a truncated file, an input
of the wrong shape or dtype) print one `error:` line, optionally a `hint:` line, no traceback,
and exit 1. All runs share one kernel cache for the session ($LAMINA_CACHE_DIR), so a kernel is
built once even when several tests (or xdist workers) compile the same model.
"""

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper  # noqa: E402
from lamina.runtime.benchmark import zoo_models  # noqa: E402

from budget import in_ci  # noqa: E402

LAMINA = Path(sys.executable).parent / "lamina"


MODELS = zoo_models()


@pytest.fixture(scope="session")
def lamina(kernel_dir):
    env = {**os.environ, "LAMINA_CACHE_DIR": str(kernel_dir)}

    def run(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(LAMINA), *map(str, args)], input=stdin, capture_output=True,
                              text=True, env=env, timeout=300)
    return run


# `output logits: float32 [1, 1000]  mean -0.00327577 std 4.60208 min -14.3702 max 16.71`
OUTPUT_LINE = re.compile(r"^output (\S+): (\w+) \[([\d, ]*)\]\s+mean (\S+) std (\S+) min (\S+) max (\S+)$", re.M)


def printed_outputs(stdout: str) -> dict[str, tuple]:
    """Output name -> (dtype, shape, (mean, std, min, max)) as `lamina run` prints them."""
    return {m[1]: (m[2], m[3], tuple(float(v) for v in m.groups()[3:])) for m in OUTPUT_LINE.finditer(stdout)}


def check_lines(stdout: str) -> list[str]:
    """The per-output lines under `check against onnxruntime ...:`."""
    _, found, rest = stdout.partition("check against onnxruntime")
    assert found, f"no check line in:\n{stdout}"
    return [line.strip() for line in rest.splitlines()[1:] if line.startswith("  ")]


# -- every zoo model, compiled and interpreted ---------------------------------------------------


# Every model at each optimization level the issue names: -O0 (as imported, one kernel per op),
# -O3 (catalogue + fusion), and -O3 with each layout conversion.
CONFIGS = {"O0": ["-O0"], "O3": ["-O3"], "O3-NHWC": ["-O3", "--layout", "NHWC"],
           "O3-NCHW8c": ["-O3", "--layout", "NCHW8c"]}


@pytest.fixture(scope="session")
def compiled_runs(zoo, lamina):
    """`lamina run MODEL <config> --fill random --check onnxruntime`, run once per (model,
    config) in the session and shared by the tests that look at it."""
    done = {}

    def get(model: str, config: str) -> tuple[Path, subprocess.CompletedProcess]:
        if (model, config) not in done:
            path = zoo / f"{model}.onnx"
            done[model, config] = path, lamina("run", path, *CONFIGS[config], "--fill", "random",
                                               "--check", "onnxruntime")
        return done[model, config]
    return get


RUNS = [(m, c) for m in MODELS for c in CONFIGS if in_ci(m, main_config=c == "O3")]  # tests/budget.py


@pytest.mark.parametrize("model,config", RUNS, ids=[f"{m}-{c}" for m, c in RUNS])
def test_run_matches_onnxruntime(compiled_runs, model, config):
    path, proc = compiled_runs(model, config)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    level = CONFIGS[config][0]
    assert proc.stdout.startswith(f"compiled @main at {level} for llvm:"), proc.stdout
    lines = check_lines(proc.stdout)
    assert lines and all(line.endswith(" ok") for line in lines), proc.stdout


@pytest.mark.parametrize("model,config", [r for r in RUNS if r[1] in ("O0", "O3")],
                         ids=[f"{m}-{c}" for m, c in RUNS if c in ("O0", "O3")])
def test_interpret_matches_compiled(compiled_runs, lamina, model, config):
    """The same inputs (--fill random is seeded) give the same outputs, within 1e-4, printed as
    dtype, shape and mean/std/min/max; and the interpreter passes the onnxruntime check too
    (after the same passes: at -O3 it runs the optimized graph, fused groups included)."""
    path, compiled = compiled_runs(model, config)
    interpreted = lamina("run", path, *CONFIGS[config], "--fill", "random", "--interpret", "--check", "onnxruntime")
    assert interpreted.returncode == 0, interpreted.stdout + interpreted.stderr
    assert interpreted.stdout.startswith("ran @main in the reference interpreter")
    ours, theirs = printed_outputs(compiled.stdout), printed_outputs(interpreted.stdout)
    assert ours and ours.keys() == theirs.keys(), (compiled.stdout, interpreted.stdout)
    for name, (dtype, shape, stats) in ours.items():
        assert (dtype, shape) == theirs[name][:2]
        for a, b in zip(stats, theirs[name][2]):
            assert math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-4), (name, stats, theirs[name][2])


KERNELS = re.compile(r"kernels: (\d+) \(one per op, unfused: (\d+)\)")


def test_compile_reports_fusion_and_timing(zoo, lamina):
    """The issue's acceptance line: ResNet-18 at -O3 is at most 25 kernels, shown by
    `lamina compile -O3 --timing` beside the unfused count and a pass timing table."""
    proc = lamina("compile", zoo / "resnet18.onnx", "-O3", "--timing")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fused, unfused = map(int, KERNELS.search(proc.stdout).groups())
    assert unfused == 69 and fused <= 25, proc.stdout
    assert "Execution time report" in proc.stderr and "fuse" in proc.stderr, proc.stderr


def test_compile_memory_report(zoo, lamina):
    proc = lamina("compile", zoo / "mobilenetv2.onnx", "-O3", "--memory-report")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    m = re.search(r"peak ([\d,]+) bytes", proc.stdout)
    assert m, proc.stdout
    assert "naive" in proc.stdout


def test_compile_writes_optimized_ir_but_never_over_the_model(tmp_path, zoo, lamina):
    out = tmp_path / "mlp.mlir"
    proc = lamina("compile", zoo / "mlp.onnx", "-O3", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "nn.fused" in out.read_text()
    again = lamina("run", out, "-O0", "--fill", "random")  # the optimized IR runs as it is
    assert again.returncode == 0, again.stderr
    mlir = tmp_path / "relu.mlir"
    mlir.write_text(RELU_MLIR)
    assert_one_line_error(lamina("compile", mlir, "-o", mlir), "refusing to write")
    assert mlir.read_text() == RELU_MLIR


def test_unknown_layout_is_one_line_error(zoo, lamina):
    assert_one_line_error(lamina("run", zoo / "mlp.onnx", "--layout", "NCWH", "--fill", "random"), "NCWH")


def test_import_then_opt_round_trips(zoo, lamina):
    imported = lamina("import", zoo / "resnet18.onnx")
    assert imported.returncode == 0, imported.stderr
    opt = lamina("opt", "-p", "canonicalize", "--verify-roundtrip", stdin=imported.stdout)
    assert opt.returncode == 0, opt.stderr
    again = lamina("opt", stdin=opt.stdout)  # what canonicalize printed parses and verifies
    assert again.returncode == 0, again.stderr
    assert "func.func @main(%input: tensor<1x3x224x224xf32>) -> tensor<1x1000xf32>" in again.stdout
    assert "nn.conv2d" in again.stdout


# -- a model written as nn IR --------------------------------------------------------------------

RELU_MLIR = """\
func.func @main(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %bias = nn.constant attributes {value = dense<1.0> : tensor<3xf32>} : () -> tensor<3xf32>
  %sum = nn.add %x, %bias : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %y = nn.relu %sum : (tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return %y : tensor<2x3xf32>
}
"""


@pytest.mark.parametrize("mode", ["compiled", "interpret"])
def test_mlir_model_runs(tmp_path, lamina, mode):
    model = tmp_path / "relu.mlir"
    model.write_text(RELU_MLIR)
    x = tmp_path / "x.npy"
    np.save(x, np.array([[-3, -2, -1], [0, 1, 2]], np.float32))  # relu(x + 1): [[0, 0, 0], [1, 2, 3]]
    proc = lamina("run", model, "--input", f"x={x}", *(["--interpret"] if mode == "interpret" else []))
    assert proc.returncode == 0, proc.stderr
    assert printed_outputs(proc.stdout) == {"#0": ("float32", "2, 3", (1.0, 1.1547, 0.0, 3.0))}, proc.stdout


# -- errors: one line, exit 1, no traceback ------------------------------------------------------


def assert_one_line_error(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines and "error: " in lines[0], proc.stderr
    assert all(line.startswith("hint: ") for line in lines[1:]), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], proc.stderr
    return lines[0]


def test_unsupported_op_is_one_line_error(tmp_path, lamina):
    graph = helper.make_graph([helper.make_node("Det", ["x"], ["y"], name="det0")], "det",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "det.onnx"
    onnx.save(model, str(path))
    assert_one_line_error(lamina("run", path, "--fill", "random"), "det0", "Det", "does not support")


def test_truncated_onnx_is_one_line_error(tmp_path, zoo, lamina):
    data = (zoo / "mlp.onnx").read_bytes()
    path = tmp_path / "truncated.onnx"
    path.write_bytes(data[: len(data) // 2])
    assert_one_line_error(lamina("run", path, "--fill", "random"), "truncated.onnx", "not a valid ONNX model")


@pytest.mark.parametrize("mode", ["compiled", "interpret"])
@pytest.mark.parametrize("value,fragments", [
    (np.zeros((1, 783), np.float32), ("%input", "shape [1, 783]", "tensor<1x784xf32>")),
    (np.zeros((1, 784), np.float64), ("%input", "dtype float64", "tensor<1x784xf32>")),
], ids=["wrong-shape", "wrong-dtype"])
def test_wrong_input_is_one_line_error(tmp_path, zoo, lamina, value, fragments, mode):
    path = tmp_path / "input.npy"
    np.save(path, value)
    proc = lamina("run", zoo / "mlp.onnx", "--input", f"input={path}", *(["--interpret"] if mode == "interpret" else []))
    assert_one_line_error(proc, *fragments)


def test_run_prints_pass_reports(zoo, lamina):
    """`lamina run` takes the pass manager's flags: the IR after each pass that changed it, and
    the timing table, on standard error; the outputs still on standard output."""
    proc = lamina("run", zoo / "mlp.onnx", "-O3", "--print-ir-after-change", "--timing", "--fill", "random")
    assert proc.returncode == 0, proc.stderr
    assert "// -----// IR Dump After CombineOps (combine-ops) //----- //" in proc.stderr
    assert "// -----// IR Dump After Fuse (fuse) //----- //" in proc.stderr
    assert "IR Dump After DCE" not in proc.stderr.split("IR Dump After Fuse")[1]  # unchanged: not printed
    assert "Execution time report" in proc.stderr
    assert printed_outputs(proc.stdout)
