"""Every zoo model on the GPU targets, run on this machine's OpenCL device (PoCL) and checked
against onnxruntime with the CPU's tolerance: at -O0 (one kernel per op) and -O3 (fused, NCHW4c)
on opencl-adreno, and at -O3 with the CUDA target's schedules built by the OpenCL code generator
(`cuda-on-opencl`: the same scheduled TIR as the cuda build, another code generator), which is
how the CUDA schedules are proven right on a machine without an NVIDIA GPU. CI runs every model
at -O3 on both, and -O0 on the cheap ones (tests/budget.py): each op's GPU lowering at -O0 is
tests/test_lowering_gpu.py's work.

`lamina run` as a user runs it (a subprocess), sharing the session's kernel cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lamina.runtime.benchmark import zoo_models

from budget import in_ci

LAMINA = Path(sys.executable).parent / "lamina"
CONFIGS = {"adreno-O0": ["--target", "opencl-adreno", "-O0"], "adreno-O3": ["--target", "opencl-adreno", "-O3"],
           "cuda-on-opencl-O3": ["--target", "cuda-on-opencl", "-O3"]}


CASES = [(m, c) for m in zoo_models() for c in CONFIGS if in_ci(m, main_config=c.endswith("O3"))]


@pytest.mark.parametrize("model,config", CASES, ids=[f"{m}-{c}" for m, c in CASES])
def test_zoo_on_gpu_targets_matches_onnxruntime(zoo, kernel_dir, opencl_device, model, config):
    env = {**os.environ, "LAMINA_CACHE_DIR": str(kernel_dir)}
    proc = subprocess.run([str(LAMINA), "run", str(zoo / f"{model}.onnx"), *CONFIGS[config], "--fill", "random",
                           "--check", "onnxruntime"], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    target = CONFIGS[config][1]
    assert proc.stdout.startswith(f"compiled @main at {CONFIGS[config][2]} for {target}:"), proc.stdout
    assert f"on {opencl_device.name}" in proc.stdout.splitlines()[0]
    _, _, checks = proc.stdout.partition("check against onnxruntime")
    lines = [line.strip() for line in checks.splitlines()[1:] if line.startswith("  ")]
    assert lines and all(line.endswith(" ok") for line in lines), proc.stdout
