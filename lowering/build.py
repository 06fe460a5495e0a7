"""Build one op into a kernel: TE compute (lowering/te) -> PrimFunc -> default schedule -> compile.

Kernels are cached on disk by a hash of the scheduled kernel's TVMScript and the target, so a
second compile of the same model (or the same layer shape twice in one model) is a file load.
The cache lives in $LAMINA_CACHE_DIR, else ~/.cache/lamina/kernels.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lamina.compiler.errors import LaminaError
from lamina.compiler.ir import Operation

from . import tvm_adapter as tvm
from .schedule_cpu import default_cpu_schedule
from .te import COMPUTES, LoweringError, dtype_of


class BuildError(LaminaError):
    """An op that cannot be lowered or built for the target."""


def cache_dir() -> Path:
    root = os.environ.get("LAMINA_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "lamina", "kernels")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class BuildStats:
    built: int = 0
    from_disk: int = 0
    from_memory: int = 0
    _memory: dict = field(default_factory=dict)


@dataclass
class BuiltKernel:
    kernel: tvm.Kernel
    key: str
    script: str


def lower_op(op: Operation):
    """The op's scheduled IRModule, ready to compile."""
    compute = COMPUTES.get(op.name)
    if compute is None:
        raise BuildError(f"'{op.name}' has no TE lowering yet", pos=op.source_pos,
                         hint=f"lowered ops: {', '.join(sorted(COMPUTES))}")
    inputs = []
    for i, v in enumerate(op.operands):
        t = v.type
        if not getattr(t, "has_static_shape", False):
            raise BuildError(f"operand #{i} of '{op.name}' has type {t}; lowering needs a static shape",
                             pos=op.source_pos, hint="pin dynamic input dims with --input-shape")
        inputs.append(tvm.placeholder(t.shape, dtype_of(t.element_type), f"in{i}"))
    try:
        outs = compute(op, *inputs)
    except LoweringError as e:
        raise BuildError(str(e), pos=op.source_pos) from None
    outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
    return tvm.prim_func(inputs, outs)


class EmptyKernel:
    """Stands in for a kernel whose outputs all have no elements (a slice that selects nothing):
    there is nothing to compute. (A kernel with only some empty outputs, a split with an empty
    piece, is built; the schedule leaves loops of extent 0 alone.)"""

    def run(self, inputs, output_shapes, output_dtypes):
        return [np.empty(s, d) for s, d in zip(output_shapes, output_dtypes)]


def build_op(op: Operation, target, threads: int, stats: BuildStats | None = None) -> BuiltKernel:
    stats = stats if stats is not None else BuildStats()
    if all(0 in getattr(r.type, "shape", ()) for r in op.results):
        return BuiltKernel(EmptyKernel(), "empty", "")
    sch = default_cpu_schedule(tvm.schedule(lower_op(op)), threads)
    text = tvm.script(sch.mod)
    key = hashlib.sha256(f"{text}\n{target}\n{tvm.tvm.__version__}".encode()).hexdigest()[:32]
    if key in stats._memory:
        stats.from_memory += 1
        return stats._memory[key]
    path = cache_dir() / f"{key}.so"
    if path.exists():
        kernel = tvm.load(str(path))
        stats.from_disk += 1
    else:
        executable = tvm.compile_module(sch.mod, target)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=path.parent)
        os.close(fd)
        tvm.export(executable, tmp)
        os.replace(tmp, path)  # atomic: a concurrent build never sees half a file
        kernel = tvm.Kernel(executable.mod)
        stats.built += 1
    built = BuiltKernel(kernel, key, text)
    stats._memory[key] = built
    return built
