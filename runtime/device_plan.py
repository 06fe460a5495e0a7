"""What it takes to run one kernel on a GPU (or an OpenCL device) without TVM: the device code
and its launch plan. TVM 0.27's wheel generates CUDA and OpenCL but has no runtime to launch
them (../shared/docs/tvm-0.27-notes.md), so lamina launches them itself (runtime/opencl.py,
runtime/cuda.py) from this plan, which lowering/device_build.py reads off TVM's lowering.

A kernel (one lamina op or fused group, one PrimFunc) may become several device functions run
in order, with global scratch buffers between them (a reduction that feeds an elementwise op
it could not be merged with). Each launch names its function, its arguments (a parameter of
the kernel, a scratch buffer, or an integer) and its grid and block sizes (x, y, z).

Plain data, JSON in and out, and no TVM import: a package carries it to a machine without TVM.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field


class DeviceError(RuntimeError):
    """A device that is missing or refuses a kernel, a buffer or a launch (runtime/opencl.py's
    OpenCLError, runtime/cuda.py's CudaError). Not a LaminaError, so that the device runtimes
    import nothing of lamina (a package runs without it), but printed the same way: one
    `error:` line, and the CLI exits 1."""

    hint = None

    def render(self) -> str:
        return f"error: {self}"


@dataclass(frozen=True)
class Launch:
    """One device function call: `args` are ("param", i) (the kernel's i-th argument: inputs
    then outputs), ("scratch", j) or ("int", value); grid and block are (x, y, z)."""

    function: str
    args: tuple
    grid: tuple
    block: tuple
    dynamic_shared_bytes: int = 0

    @property
    def threads_per_block(self) -> int:
        x, y, z = self.block
        return x * y * z

    def to_json(self) -> dict:
        return {"function": self.function, "args": [list(a) for a in self.args], "grid": list(self.grid),
                "block": list(self.block), "dynamic_shared_bytes": self.dynamic_shared_bytes}

    @classmethod
    def from_json(cls, d: dict) -> "Launch":
        return cls(d["function"], tuple((str(k), int(v)) for k, v in d["args"]), tuple(d["grid"]),
                   tuple(d["block"]), int(d.get("dynamic_shared_bytes", 0)))


@dataclass
class DevicePlan:
    """A kernel for a device: `language` "opencl" or "cuda", its `source` (OpenCL C or CUDA C),
    the byte size of each scratch buffer, and the launches in order. For CUDA, `binary` is the
    cubin a compiler made of the source for `arch` (e.g. "sm_90") and `ptx` its PTX (an OpenCL
    device compiles the source itself when it loads it); `resources` per device function:
    {"shared_bytes", and for CUDA "registers", ...} as the compiler reported them."""

    language: str
    source: str
    launches: list[Launch]
    scratch_bytes: list[int] = field(default_factory=list)
    resources: dict = field(default_factory=dict)
    arch: str = ""
    ptx: str = ""
    binary: bytes = b""

    @property
    def functions(self) -> list[str]:
        return list(dict.fromkeys(launch.function for launch in self.launches))

    def to_json(self) -> dict:
        return {"language": self.language, "source": self.source,
                "launches": [launch.to_json() for launch in self.launches],
                "scratch_bytes": list(self.scratch_bytes), "resources": self.resources,
                "arch": self.arch, "ptx": self.ptx, "binary": base64.b64encode(self.binary).decode()}

    @classmethod
    def from_json(cls, d: dict) -> "DevicePlan":
        return cls(d["language"], d["source"], [Launch.from_json(x) for x in d["launches"]],
                   [int(n) for n in d.get("scratch_bytes", [])], dict(d.get("resources", {})),
                   d.get("arch", ""), d.get("ptx", ""), base64.b64decode(d.get("binary", "")))
