"""The GPU targets (cuda, opencl, opencl-adreno) from the user's side: the Python API returns the
same callable as on the CPU, `lamina compile --emit-source` and `--arch`, `lamina targets`, and
the errors a user can meet (no OpenCL device, a schedule that binds no loop, a kernel over the
target's limits) as one line, exit 1.

Running kernels needs an OpenCL device (PoCL here; the `opencl_device` fixture skips without
one, and fails in CI, which installs it). Compiling for cuda needs no GPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lamina
from lamina.compiler.errors import LaminaError
from lamina.lowering import targets

LAMINA = Path(sys.executable).parent / "lamina"


@pytest.fixture(scope="module")
def mlp(zoo) -> Path:
    """The zoo's MLP, written for the session (conftest `zoo`: the zoo's .onnx files are not in git)."""
    return zoo / "mlp.onnx"

CONV = """
func.func @main(%x: tensor<1x8x10x10xf32>, %w: tensor<16x8x3x3xf32>) -> tensor<1x16x8x8xf32> {
  %y = nn.conv2d %x, %w : (tensor<1x8x10x10xf32>, tensor<16x8x3x3xf32>) -> tensor<1x16x8x8xf32>
  func.return %y : tensor<1x16x8x8xf32>
}
"""
ADD = """
func.func @main(%x: tensor<64x64xf32>, %y: tensor<64x64xf32>) -> tensor<64x64xf32> {
  %z = nn.add %x, %y : (tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<64x64xf32>
  func.return %z : tensor<64x64xf32>
}
"""


@pytest.fixture(scope="module")
def cli(kernel_dir):
    env = {**os.environ, "LAMINA_CACHE_DIR": str(kernel_dir)}

    def run(*args, extra_env=None) -> subprocess.CompletedProcess:
        return subprocess.run([str(LAMINA), *map(str, args)], capture_output=True, text=True,
                              env={**env, **(extra_env or {})}, timeout=300)
    return run


def one_line_error(proc, *fragments) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines and lines[0].startswith("error: ") or "error: " in lines[0], proc.stderr
    assert all(line.startswith("hint: ") for line in lines[1:]), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], proc.stderr
    return lines[0]


# -- the Python API -------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["opencl", "opencl-adreno"])
def test_compile_returns_the_cpu_callable(mlp, target, opencl_device, kernel_dir, monkeypatch):
    monkeypatch.setenv("LAMINA_CACHE_DIR", str(kernel_dir))
    x = np.random.default_rng(0).standard_normal((1, 784)).astype(np.float32)
    on_gpu = lamina.compile(str(mlp), target=target)
    on_cpu = lamina.compile(str(mlp), target="llvm")
    (got,), (want,) = on_gpu(x), on_cpu(x)
    assert isinstance(got, np.ndarray) and got.shape == (1, 10) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    (again,) = on_gpu(x)  # the arena is reused: a second call gives the same result
    np.testing.assert_array_equal(again, got)
    # every buffer of the plan is a sub-buffer at an offset the device accepts
    assert all(b.offset % targets.get(target).buffer_align == 0 for b in on_gpu.memory_plan.buffers)
    assert on_gpu.device is not None and on_gpu.device.align <= targets.get(target).buffer_align


def test_cuda_compiles_without_a_gpu(mlp, kernel_dir, monkeypatch):
    monkeypatch.setenv("LAMINA_CACHE_DIR", str(kernel_dir))
    model = lamina.compile(str(mlp), target="cuda")
    sources = [k.kernel.plan.source for k in model.kernels]
    assert sources and all('extern "C" __global__' in s for s in sources)
    assert all("threadIdx." in s for s in sources)  # (blockIdx.x of extent 1 is simplified away)
    assert model.device is None  # bound only at the first call


# -- schedules a GPU build refuses ----------------------------------------------------------------


def test_a_kernel_with_no_loop_bound_is_refused():
    """TVM builds such a kernel as host code with no device function (measured); lamina refuses."""
    program = """
sched.schedule @add attributes {target = "opencl"} {
  %b = sched.get_block @add
}
"""
    with pytest.raises(LaminaError, match="no loop is bound to GPU threads|leaves code on the host") as e:
        lamina.kernel(ADD, target="opencl").with_schedule(program)
    assert e.value.hint and "bind" in e.value.hint


def test_threads_over_the_limit_across_two_axes_are_refused():
    """Each bound loop is within 256, their product (threadIdx.x x threadIdx.y = 512) is not."""
    program = """
sched.schedule @add attributes {target = "opencl-adreno"} {
  %b = sched.get_block @add
  %i, %j = sched.get_loops %b
  %t = sched.knob t 8
  %io, %ii = sched.split %i (%t)
  sched.bind @blockIdx.x %io
  sched.bind @threadIdx.y %ii
  sched.bind @threadIdx.x %j
}
"""
    with pytest.raises(LaminaError, match=r"512 threads per block, over opencl-adreno's limit of 256"):
        lamina.kernel(ADD, target="opencl-adreno").with_schedule(program)


def test_shared_memory_over_the_limit_is_refused():
    """The whole 32x20x20 input staged in shared memory per block: 51200 bytes, over 16 KiB."""
    big = CONV.replace("1x8x10x10", "1x32x20x20").replace("16x8x3x3", "16x32x3x3").replace("1x16x8x8", "1x16x18x18")
    program = """
sched.schedule @conv2d attributes {target = "opencl"} {
  %pack_ob = sched.knob pack_ob 16
  %pack = sched.get_block @pack_w
  sched.compute_inline %pack
  %conv = sched.get_block @conv2d
  %b, %o, %i, %j, %rc, %ry, %rx = sched.get_loops %conv
  sched.bind @blockIdx.x %o
  sched.bind @threadIdx.x %j
  %xs = sched.cache_read @shared %conv 0
  sched.compute_at %xs, %o
}
"""
    with pytest.raises(LaminaError, match=r"uses 51200 bytes of shared memory per block, over opencl's limit of 16384"):
        lamina.kernel(big, target="opencl").with_schedule(program)


# -- the command line -----------------------------------------------------------------------------


def test_emit_source_writes_device_code_and_schedules(mlp, cli, tmp_path):
    for target, suffix, marker in (("opencl", ".cl", "__kernel void"), ("cuda", ".cu", '__global__ void')):
        out = tmp_path / target
        proc = cli("compile", mlp, "--target", target, "--emit-source", out)
        assert proc.returncode == 0, proc.stderr
        sources = sorted(out.glob(f"*{suffix}"))
        schedules = sorted(out.glob("*.mlir"))
        assert len(sources) == len(schedules) == 4, sorted(p.name for p in out.iterdir())
        assert all(marker in p.read_text() for p in sources)
        assert all(f'target = "{target}"' in p.read_text() for p in schedules)
        assert "wrote 4 kernels' device code and schedules" in proc.stdout


def test_emit_source_never_overwrites_an_edited_file(mlp, cli, tmp_path):
    out = tmp_path / "src"
    assert cli("compile", mlp, "--target", "opencl", "--emit-source", out).returncode == 0
    edited = sorted(out.glob("*.cl"))[0]
    edited.write_text("// mine\n")
    one_line_error(cli("compile", mlp, "--target", "opencl", "--emit-source", out), "differs")
    assert edited.read_text() == "// mine\n"


def test_emit_source_needs_a_gpu_target(mlp, cli, tmp_path):
    one_line_error(cli("compile", mlp, "--emit-source", tmp_path / "s"), "not a GPU target")


def test_cuda_arch(mlp, cli, tmp_path):
    proc = cli("compile", mlp, "--target", "cuda", "--arch", "sm_80", "--emit-source", tmp_path / "s")
    assert proc.returncode == 0, proc.stderr
    one_line_error(cli("compile", mlp, "--target", "cuda", "--arch", "sm_60"), "sm_60")
    one_line_error(cli("compile", mlp, "--arch", "sm_80"), "target 'llvm' has no GPU architecture")
    assert targets.get("cuda", arch="sm_80").tvm == {"kind": "cuda", "arch": "sm_80"}


def test_targets_say_where_gpu_targets_run(cli, opencl_device):
    out = cli("targets").stdout
    block = out[out.index("\nopencl "):]
    assert f"runs here: {opencl_device.name}" in block
    cuda = out[out.index("\ncuda "):out.index("\nopencl ")]
    assert "compiler: " in cuda and ("runs here" in cuda or "does not run here" in cuda)


def test_no_opencl_device_is_one_line_error(mlp, cli, tmp_path):
    """The ICD loader with no vendors (an empty OCL_ICD_VENDORS folder) finds no platform."""
    empty = tmp_path / "no-vendors"
    empty.mkdir()
    proc = cli("run", mlp, "--target", "opencl", "--fill", "random", extra_env={"OCL_ICD_VENDORS": str(empty)})
    one_line_error(proc, "OpenCL")


def test_opencl_run_checks_against_onnxruntime(mlp, cli, opencl_device):
    proc = cli("run", mlp, "--target", "opencl-adreno", "--fill", "random", "--check", "onnxruntime")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("compiled @main at -O3 for opencl-adreno:")
    assert f"on {opencl_device.name}" in proc.stdout.splitlines()[0]
    assert proc.stdout.rstrip().endswith(" ok")


def test_tvm_dlight_peer_schedules(mlp, opencl_device, kernel_dir, monkeypatch):
    """The peer lamina's GPU schedules are measured against: the same kernels scheduled by TVM's
    s_tir.dlight rules, run by the same runtime, give the same numbers."""
    from lamina.runtime.executor import compile as compile_module

    monkeypatch.setenv("LAMINA_CACHE_DIR", str(kernel_dir))
    module = lamina.load(str(mlp))
    peer = compile_module(module, "opencl", peer_schedules="tvm-dlight")
    ours = compile_module(module, "opencl")
    assert {k.generator for k in peer.kernels} == {"tvm-dlight"}
    assert "tvm-dlight" not in {k.generator for k in ours.kernels}
    x = np.random.default_rng(1).standard_normal((1, 784)).astype(np.float32)
    np.testing.assert_allclose(peer(x)[0], ours(x)[0], rtol=1e-4, atol=1e-6)
    with pytest.raises(LaminaError, match="dlight schedules are for GPU targets"):
        compile_module(module, "llvm", peer_schedules="tvm-dlight")
