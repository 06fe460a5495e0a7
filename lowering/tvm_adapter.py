"""Every call into TVM goes through this module, so a TVM upgrade touches one file.

TVM 0.27 (see ../shared/docs/tvm-0.27-notes.md): TE computes become a PrimFunc with
`te.create_prim_func`, are scheduled with `tvm.s_tir.Schedule`, and built with `tvm.compile` for a
JSON-dict `Target`. The compute table (the `te/` package, one module per op family) writes
expressions with the names re-exported here (`te`, `tir`, `topi`); schedules use `Schedule`
through `build_kernel`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
import numpy as np
import tvm
from tvm import te, topi  # noqa: F401  (re-exported for the compute table)
from tvm import tirx as tir  # noqa: F401

Schedule = tvm.s_tir.Schedule


def llvm_target(mcpu: str | None = None):
    """The host CPU target. A plain {"kind": "llvm"} was measured as fast as naming the CPU."""
    spec = {"kind": "llvm"}
    if mcpu:
        spec.update({"mcpu": mcpu, "mtriple": "x86_64-linux-gnu"})
    return tvm.target.Target(spec)


def target_for(name: str):
    if name in ("llvm", "cpu"):
        return llvm_target()
    raise ValueError(f"unknown target {name!r}")


def placeholder(shape, dtype: str, name: str):
    return te.placeholder(tuple(int(d) for d in shape), dtype=dtype, name=name)


def prim_func(inputs: list, outputs: list):
    """The TE graph from `inputs` to `outputs` as one PrimFunc (inputs first, then outputs)."""
    return tvm.IRModule({"main": te.create_prim_func([*inputs, *outputs])})


def schedule(module) -> "tvm.s_tir.Schedule":
    return Schedule(module)


def script(module) -> str:
    """TVMScript text: what a kernel looks like after scheduling, and the key of the disk cache."""
    return module.script()


def set_num_threads() -> int:
    """TVM's runtime uses TVM_NUM_THREADS; unset, it ran parallel loops as slowly as one thread
    on the 2-core machines. Default it to the number of cores."""
    n = os.environ.get("TVM_NUM_THREADS") or str(os.cpu_count() or 1)
    os.environ["TVM_NUM_THREADS"] = n
    return int(n)


@dataclass
class Kernel:
    """A built kernel: call it with numpy arrays (inputs, then preallocated outputs)."""

    module: object  # tvm.runtime.Module
    entry: str = "main"

    def __call__(self, *arrays: np.ndarray) -> None:
        dev = tvm.cpu()
        tensors = [tvm.runtime.tensor(a, dev) for a in arrays]
        self.module[self.entry](*tensors)
        return tensors

    def run(self, inputs: list[np.ndarray], output_shapes: list[tuple], output_dtypes: list) -> list[np.ndarray]:
        dev = tvm.cpu()
        args = [tvm.runtime.tensor(np.asarray(a, order="C"), dev) for a in inputs]
        outs = [tvm.runtime.empty(tuple(s), str(np.dtype(d)), dev) for s, d in zip(output_shapes, output_dtypes)]
        self.module[self.entry](*args, *outs)
        return [o.numpy() for o in outs]

    def time(self, inputs, output_shapes, output_dtypes, number: int = 10, repeat: int = 3) -> float:
        """Median seconds per call, measured by TVM's time_evaluator."""
        dev = tvm.cpu()
        args = [tvm.runtime.tensor(np.asarray(a, order="C"), dev) for a in inputs]
        outs = [tvm.runtime.empty(tuple(s), str(np.dtype(d)), dev) for s, d in zip(output_shapes, output_dtypes)]
        timer = self.module.time_evaluator(self.entry, dev, number=number, repeat=repeat)
        return float(timer(*args, *outs).median)


VERSION = tvm.__version__


def host_cpu() -> str:
    """LLVM's name for this machine's CPU ("znver5", ...), or "generic"."""
    return str(tvm.target.codegen.llvm_get_system_cpu() or "generic")


def device_tensor(array: np.ndarray):
    """A copy of `array` on the CPU device."""
    return tvm.runtime.tensor(np.asarray(array, order="C"), tvm.cpu())


def empty_tensor(shape, dtype):
    return tvm.runtime.empty(tuple(shape), str(np.dtype(dtype)), tvm.cpu())


def shared_tensor(array: np.ndarray):
    """A device tensor over `array`'s own memory (DLPack, no copy); raises if TVM refuses it."""
    return tvm.runtime.from_dlpack(array)


def median_seconds(module, entry: str, args, number: int = 10, repeat: int = 3) -> float:
    timer = module.time_evaluator(entry, tvm.cpu(), number=number, repeat=repeat)
    return float(timer(*args).median)


def compile_module(scheduled_module, target) -> object:
    """Build a scheduled IRModule; returns the runtime module (the executable's `.mod`)."""
    return tvm.compile(scheduled_module, target=target)


def export(executable, path: str) -> None:
    executable.export_library(path)


def load(path: str) -> Kernel:
    return Kernel(tvm.runtime.load_module(path))


def copy_into(tensor, array: np.ndarray) -> None:
    """Copy a numpy array into an existing device tensor of the same shape and dtype."""
    tensor.copyfrom(np.ascontiguousarray(array))


def to_numpy(tensor) -> np.ndarray:
    """A numpy copy of a device tensor."""
    return tensor.numpy()
