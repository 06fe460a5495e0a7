"""Schedules as IR: the generators that write each kernel's default schedule, one module per
target family over shared helpers, and the verifier that checks any schedule program.

    builder.py   ScheduleBuilder: emits sched ops while applying them (tvm_adapter.ScheduleState)
    common.py    helpers the CPU generators share (epilogues, parallel copies, vectorizing)
    cpu.py       the default, matmul/gemm and conv2d generators, and `cpu_schedule` to pick one
    nchwc.py     conv2d in NCHW{c}c
    fused_conv.py a depthwise conv fused into the 1x1 conv that reads it (MobileNetV2's blocks)
    reduce.py    rows reduced then used elementwise (softmax)
    gpu.py       GPU targets: picks a generator; the default splits and binds to blocks and threads
    gpu_tiled.py GPU targets: two-level tiled matmul / conv (shared memory, register tiles), reductions
    verify.py    the schedule verifier and ScheduleError

`default_schedule(kernel, module, target)` is what build.py asks for.
"""

from __future__ import annotations

from .builder import DecisionError, ScheduleBuilder
from .verify import KernelInfo, ScheduleError, verify_schedule  # noqa: F401


def default_schedule(kernel: str, module, target, decisions: dict | None = None) -> ScheduleBuilder:
    """The default schedule of `module` (a kernel's unscheduled IRModule) for `target` (a
    lowering.targets.Target): a builder holding the program (`.program`), the scheduled module
    (`.mod`), the generator that wrote it (`.generator`) and its choice knobs (`.choices`).
    `decisions`: knob values the generator takes instead of its own (builder.py)."""
    if target.family == "cpu":
        from .cpu import cpu_schedule

        return cpu_schedule(ScheduleBuilder(kernel, target, module, decisions=decisions), target.threads)
    if target.family == "gpu":
        from .gpu import gpu_schedule

        return gpu_schedule(ScheduleBuilder(kernel, target, module, decisions=decisions))
    raise ScheduleError(f"target '{target.name}' has no lamina schedules", hint="build for llvm")


def regenerate(kernel: str, op, target, generator: str, decisions: dict):
    """The program `generator` writes for `op`'s kernel with `decisions` (a choice changed:
    another structure, builder.py), its compute lowered with them (packing knobs shape it).
    Raises ScheduleError when the generator cannot take them (it fell back to another
    generator, or a choice was given a value it does not offer), LoweringError when the compute
    refuses them."""
    from lamina.lowering.build import lower_op, prepack_for
    from lamina.lowering.te.common import compute_knobs

    with compute_knobs(decisions, target.family) as used:
        module = lower_op(op, prepack_for(op))
    try:
        built = default_schedule(kernel, module, target, decisions)
    except DecisionError as e:
        raise ScheduleError(str(e), hint=f"a choice takes one of the values {generator} offers") from None
    if built.generator != generator:
        raise ScheduleError(f"{generator} cannot schedule kernel {kernel} with these knobs",
                            hint=f"{built.generator} wrote it instead")
    for knob_name, value in used.items():  # the compute's knobs the generator did not ask for, as
        built.knob(knob_name, value)       # build.py `schedule_op` keeps them: the build lowers with them
    return built.program
