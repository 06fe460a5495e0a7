"""Tuning tasks: the distinct kernels of a model, each with how often the model runs it.

A model with sixteen identical 3x3 convolutions has ONE kernel to tune, run sixteen times: tuning
it once pays sixteen times. So the unit of tuning is the task, not the kernel:

    task key = sha256(TVMScript of the UNSCHEDULED PrimFunc, lowered with the default compute
                      knobs  +  the target's identity: its name, its thread count and TVM's
                      whole target JSON, host included)

Not the kernel cache's key (lowering/build.py), which hashes the SCHEDULED kernel: two kernels
with the same compute but different schedules are one task, and every candidate schedule of a
task keeps its key. The thread count is in the identity because a CPU schedule is written for it
(which loops are parallel) and a kernel is timed with it.

A task also carries what tuning needs beside the key: its weight (kernels sharing it), FLOPs
(runtime/flops.py), the kernel names it covers, its default schedule program and the generator
that wrote it, and one of its ops (to build candidates for it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Task:
    key: str
    weight: int                 # how many kernels of the model share this task
    flops: int | None           # per call (runtime/flops.py), None when a dim is dynamic
    kernels: list[str]          # the names of the kernels it covers (kernel_names)
    generator: str              # the schedule generator of its default program
    program: object             # its default sched.schedule program
    op: object                  # the op (or nn.fused group) of its first kernel: candidates build from it
    module: object              # its unscheduled IRModule (default compute knobs)
    library: Path | None = None  # the default kernel's shared library (in the kernel cache)
    args: list = field(default_factory=list)  # [(shape, dtype)] of the default kernel's arguments
    choices: dict = field(default_factory=dict)  # its default program's choice knobs -> their values
    compute_knobs: frozenset = frozenset()  # the knobs its compute asked for (packing blocks)

    @property
    def name(self) -> str:
        """The first kernel's name: what a task is called in tables."""
        return self.kernels[0]

    @property
    def short_key(self) -> str:
        return self.key[:8]


def target_identity(target) -> dict:
    """What makes a measurement comparable with another: the lamina target's name, its thread
    count, and TVM's target JSON in full (`str(Target)` is JSON with the host inside)."""
    return {"name": target.name, "threads": int(target.threads), "tvm": json.loads(str(target.tvm_target()))}


def identity_text(identity: dict) -> str:
    """The canonical text of a target identity (records compare these)."""
    return json.dumps(identity, sort_keys=True, separators=(",", ":"))


def task_key(unscheduled_module, target) -> str:
    from lamina.lowering import tvm_adapter

    text = tvm_adapter.script(unscheduled_module) + "\n" + identity_text(target_identity(target))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def lower_default(op, target):
    """`op` lowered for `target` with the default compute knobs: (unscheduled IRModule, its
    Prepacks)."""
    from lamina.lowering.build import lower_op, prepack_for
    from lamina.lowering.te.common import compute_knobs

    with compute_knobs({}, target.family):
        prepacks = prepack_for(op)
        module = lower_op(op, prepacks)
    return module, prepacks


def is_empty(op) -> bool:
    """A kernel with nothing to compute (all its outputs empty): no task."""
    return all(0 in getattr(r.type, "shape", ()) for r in op.results)


def op_task_key(op, target) -> str | None:
    """The task key of a kernel op (what `CompiledModel(records=...)` looks records up by)."""
    if is_empty(op):
        return None
    module, _ = lower_default(op, target)
    return task_key(module, target)


def arg_specs(op, prepacks) -> list[tuple[tuple, str]]:
    """(shape, dtype) of each argument of the kernel built for `op`: its operands (the packed
    weights in their packed shapes), then its results."""
    specs = []
    for i, v in enumerate(op.operands):
        packed = next((p for p in prepacks if p.index == i), None)
        shape = tuple(packed.shape) if packed is not None else tuple(v.type.shape)
        specs.append((shape, str(v.type.element_type.numpy_dtype)))
    for r in op.results:
        specs.append((tuple(r.type.shape), str(r.type.element_type.numpy_dtype)))
    return specs


def extract_tasks(module, target="llvm", threads: int | None = None):
    """The tasks of `module` (already optimized, as `lamina compile` leaves it) for `target`:
    one per distinct kernel, in the order their first kernel runs. Returns (tasks, model): the
    CompiledModel built with the default schedules (its `kernels` are what the tasks cover; their
    libraries are the defaults the tuner measures first)."""
    from lamina.lowering import targets
    from lamina.runtime.executor import CompiledModel
    from lamina.runtime.flops import op_flops

    target = targets.get(target, threads=threads)
    model = CompiledModel(module, target, threads=target.threads)
    tasks: dict[str, Task] = {}
    for (op, *_), built in zip(model.steps, model.kernels):
        scheduled = built.scheduled
        if scheduled is None or scheduled.program is None:
            continue  # nothing to compute (an empty kernel)
        key = task_key(scheduled.module, model.target)
        task = tasks.get(key)
        if task is None:
            tasks[key] = Task(key, 1, op_flops(op), [built.name], built.generator or "default",
                              scheduled.program, op, scheduled.module, built.library,
                              arg_specs(op, scheduled.prepacks), scheduled.choices, frozenset(scheduled.knobs))
        else:
            task.weight += 1
            task.kernels.append(built.name)
    return list(tasks.values()), model


def load_optimized(model, opt_level: int = 3, layout: str = "", input_shapes: dict | None = None,
                   target="llvm"):
    """A model file (or a module, copied) optimized as `lamina compile -O<level>` does."""
    from lamina.compiler.passes import run_pipeline
    from lamina.compiler.passes.presets import pipeline_for
    from lamina.lowering import targets

    import lamina

    if isinstance(model, (str, Path)):
        module = lamina.load(str(model), input_shapes)
    else:
        module = model.clone()
    if not layout and opt_level:
        layout = targets.get(target).default_layout
    run_pipeline(module, pipeline_for(opt_level, layout, getattr(target, "name", target)))
    return module
