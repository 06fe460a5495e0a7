"""Schedules as IR: the generators that write each kernel's default schedule, one module per
target family over shared helpers, and the verifier that checks any schedule program.

    builder.py   ScheduleBuilder: emits sched ops while applying them (tvm_adapter.ScheduleState)
    common.py    helpers the CPU generators share (epilogues, parallel copies, vectorizing)
    cpu.py       the default, matmul/gemm and conv2d generators, and `cpu_schedule` to pick one
    nchwc.py     conv2d in NCHW{c}c
    reduce.py    rows reduced then used elementwise (softmax)
    gpu.py       GPU targets: picks a generator; the default splits and binds to blocks and threads
    gpu_tiled.py GPU targets: two-level tiled matmul / conv (shared memory, register tiles), reductions
    verify.py    the schedule verifier and ScheduleError

`default_schedule(kernel, module, target)` is what build.py asks for.
"""

from __future__ import annotations

from .builder import ScheduleBuilder
from .verify import KernelInfo, ScheduleError, verify_schedule  # noqa: F401


def default_schedule(kernel: str, module, target) -> ScheduleBuilder:
    """The default schedule of `module` (a kernel's unscheduled IRModule) for `target` (a
    lowering.targets.Target): a builder holding the program (`.program`) and the scheduled
    module (`.mod`)."""
    if target.family == "cpu":
        from .cpu import cpu_schedule

        return cpu_schedule(ScheduleBuilder(kernel, target, module), target.threads)
    if target.family == "gpu":
        from .gpu import gpu_schedule

        return gpu_schedule(ScheduleBuilder(kernel, target, module))
    raise ScheduleError(f"target '{target.name}' has no lamina schedules", hint="build for llvm")
