"""The target registry: every name `--target` accepts, with the limits schedules and the schedule
verifier use.

A target is data, not code: its TVM target (TVM 0.27 takes only the JSON-dict form, see
../shared/docs/tvm-0.27-notes.md), its host (where the code that launches kernels runs), and the
numbers a schedule must respect (vector width, threads per block, shared memory per block, warp
size, texture support). Schedule generators (lowering/schedules/) read the limits from here, and
the schedule verifier refuses a schedule that breaks them, so no limit is written twice.

The CPU's thread count is a target option (`threads`), default this machine's cores: a kernel's
emitted schedule depends on it, so the same option gives the same schedule on every machine.

This module does not import TVM; `tvm_target()` turns a target into TVM's object on demand
(through the adapter).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from lamina.compiler.errors import LaminaError

CPU_THREAD_TAGS: tuple[str, ...] = ()
GPU_THREAD_TAGS = ("blockIdx.x", "blockIdx.y", "blockIdx.z", "threadIdx.x", "threadIdx.y", "threadIdx.z",
                   "vthread", "vthread.x", "vthread.y", "vthread.z")


class TargetError(LaminaError):
    """An unknown target name, or an option a target does not have."""


@dataclass(frozen=True)
class Target:
    """One entry of the registry. `family` picks the schedule generators (cpu, gpu);
    `cross` says kernels are built here but run on another machine (object files, no runner)."""

    name: str
    summary: str
    tvm: dict                       # TVM's JSON form of the device target
    host: dict | None = None        # TVM's JSON form of the host target (None: the target is the host)
    family: str = "cpu"
    cross: bool = False
    vector_bits: int = 128
    threads: int = 1                # CPU threads that parallel loops run on (a target option)
    max_threads_per_block: int = 0  # 0: no GPU threads (bind is refused)
    max_shared_memory_per_block: int = 0
    warp_size: int = 1
    texture: bool = False
    thread_tags: tuple = CPU_THREAD_TAGS
    schedules_ready: bool = True    # False: listed, but lamina has no schedules for it yet
    # the alignment of every buffer in a model's memory plan: TVM's CPU tensors need 64 bytes;
    # an OpenCL sub-buffer needs the device's mem_base_addr_align (PoCL: 128 bytes; 512 covers
    # the devices we know), cudaMalloc gives 256
    buffer_align: int = 64
    default_layout: str = ""  # the conv layout -O1..-O3 convert to when --layout is not given
    schedules_for: str = ""   # the target whose schedules it takes (cuda-on-opencl: cuda's); "": its own

    @property
    def schedule_name(self) -> str:
        """The target the schedule generators write for: `schedules_for`, else the target itself."""
        return self.schedules_for or self.name
    options: dict = field(default_factory=dict)

    @property
    def vector_lanes(self) -> int:
        """float32 lanes of one vector register."""
        return self.vector_bits // 32

    @property
    def device_language(self) -> str | None:
        """The language of its device code ("cuda", "opencl"), None for a CPU target."""
        if self.family != "gpu":
            return None
        return "cuda" if self.tvm.get("kind") == "cuda" else "opencl"

    def tvm_target(self):
        from . import tvm_adapter

        return tvm_adapter.make_target(self.tvm, self.host)

    def limits(self) -> dict:
        """The numbers `lamina targets` prints."""
        out = {"vector bits": self.vector_bits}
        if self.family == "cpu":
            out["threads"] = self.threads
        else:
            out.update({"threads/block": self.max_threads_per_block,
                        "shared/block": self.max_shared_memory_per_block,
                        "warp": self.warp_size, "texture": "yes" if self.texture else "no"})
        return out


def _host_cpu_spec() -> tuple[dict, int]:
    """This machine as an LLVM target: LLVM's name for the CPU, and its vector width. A plain
    {"kind": "llvm"} compiles for generic x86-64 (SSE2), which ran the blocked matmul 7x
    slower (62 vs 403 GFLOP/s at 1024^3, AVX-512 host)."""
    from . import tvm_adapter

    cpu = tvm_adapter.host_cpu()
    spec = {"kind": "llvm"}
    if cpu and cpu != "generic":
        spec.update({"mcpu": cpu, "mtriple": "x86_64-linux-gnu"})
    return spec, _host_vector_bits()


def _host_vector_bits() -> int:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = f.read()
    except OSError:
        return 128
    if " avx512f" in flags:
        return 512
    if " avx2" in flags or " avx " in flags:
        return 256
    return 128


def _registry() -> dict[str, Target]:
    cores = os.cpu_count() or 1
    return {
        "llvm": Target("llvm", "this machine's CPU (LLVM, x86-64, named by LLVM)", {"kind": "llvm"},
                       family="cpu", threads=cores),
        "aarch64-android": Target(
            "aarch64-android", "a 64-bit ARM Android phone's CPU (LLVM cross build: object files)",
            {"kind": "llvm", "mtriple": "aarch64-linux-android", "mattr": ["+neon"]},
            family="cpu", cross=True, vector_bits=128, threads=4),
        "cuda": Target("cuda", "an NVIDIA GPU (sm_90), CUDA C from TVM", {"kind": "cuda", "arch": "sm_90"},
                       host={"kind": "llvm"}, family="gpu", vector_bits=128, max_threads_per_block=1024,
                       max_shared_memory_per_block=49152, warp_size=32, thread_tags=GPU_THREAD_TAGS,
                       buffer_align=256),
        "opencl": Target("opencl", "an OpenCL device (PoCL on this CPU for tests)", {"kind": "opencl"},
                         host={"kind": "llvm"}, family="gpu", vector_bits=128, max_threads_per_block=256,
                         max_shared_memory_per_block=16384, warp_size=1, thread_tags=GPU_THREAD_TAGS,
                         buffer_align=512),
        # the cuda target's schedules (its limits, its tile shapes), built by the OpenCL code
        # generator: how the CUDA schedules are run and checked on a machine without an NVIDIA GPU
        # (PoCL's limits, 4096 work-items and 1 MiB of local memory, hold the CUDA ones)
        "cuda-on-opencl": Target("cuda-on-opencl", "the cuda target's schedules, as OpenCL (to check them on PoCL)",
                                 {"kind": "opencl"}, host={"kind": "llvm"}, family="gpu", vector_bits=128,
                                 max_threads_per_block=1024, max_shared_memory_per_block=49152, warp_size=32,
                                 thread_tags=GPU_THREAD_TAGS, buffer_align=512, schedules_for="cuda"),
        "opencl-adreno": Target("opencl-adreno", "a Qualcomm Adreno GPU (OpenCL, TVM's adreno device)",
                                {"kind": "opencl", "device": "adreno"}, host={"kind": "llvm"}, family="gpu",
                                vector_bits=128, max_threads_per_block=256, max_shared_memory_per_block=16384,
                                warp_size=1, texture=True, thread_tags=GPU_THREAD_TAGS, buffer_align=512,
                                default_layout="NCHW4c"),
    }


_ALIASES = {"cpu": "llvm"}


def names() -> list[str]:
    return list(_registry())


CUDA_ARCHS = range(75, 200)  # CUDA 13 compiles sm_75 (Turing) and newer


def get(name: str, threads: int | None = None, arch: str | None = None) -> Target:
    """The target called `name` (`threads`: the CPU thread count, default the machine's cores;
    TVM_NUM_THREADS, when set, is what the runtime uses and so the default here too; `arch`:
    a CUDA target's GPU architecture, e.g. "sm_80", default sm_90)."""
    if isinstance(name, Target):
        target = name
    else:
        registry = _registry()
        key = _ALIASES.get(name, name)
        if key not in registry:
            raise TargetError(f"unknown target {name!r}; known targets: {', '.join(registry)}",
                              hint="`lamina targets` lists them with their limits")
        target = registry[key]
    if target.name == "llvm" and target.tvm == {"kind": "llvm"}:
        spec, bits = _host_cpu_spec()
        target = replace(target, tvm=spec, vector_bits=bits)
    if target.family == "cpu" and not target.cross:
        env = os.environ.get("TVM_NUM_THREADS")
        default = int(env) if env and env.isdigit() and int(env) > 0 else target.threads
        if isinstance(name, Target):  # a Target made for some thread count keeps it
            default = target.threads
        target = replace(target, threads=threads or default)
    elif threads:
        target = replace(target, threads=threads)
    if arch:
        target = with_arch(target, arch)
    return target


def with_arch(target: Target, arch: str) -> Target:
    """`target` (a CUDA one) for another GPU architecture ("sm_80")."""
    import re

    if target.device_language != "cuda":
        raise TargetError(f"--arch {arch}: target '{target.name}' has no GPU architecture to choose",
                          hint="--arch applies to --target cuda")
    m = re.fullmatch(r"sm_(\d+)[a-z]?", arch)
    if m is None or int(m.group(1)) not in CUDA_ARCHS:
        raise TargetError(f"--arch {arch!r} is not a CUDA architecture lamina can build for",
                          hint="give sm_75 or newer, e.g. sm_80 (A100) or sm_90 (H100); CUDA 13 dropped older ones")
    return replace(target, tvm={**target.tvm, "arch": arch}, summary=target.summary.replace("sm_90", arch))


def table() -> str:
    """`lamina targets`: one line per target, its TVM target, and its limits."""
    import json

    rows = []
    for name in names():
        t = get(name)
        limits = ", ".join(f"{k} {v}" for k, v in t.limits().items())
        state = "" if t.schedules_ready else "  [listed: no lamina schedules yet]"
        rows.append(f"{t.name:16} {t.summary}{state}\n{'':16} tvm: {json.dumps(t.tvm)}"
                    + (f"  host: {json.dumps(t.host)}" if t.host else "") + f"\n{'':16} {limits}"
                    + "".join(f"\n{'':16} {line}" for line in _device_lines(t)))
    return "\n".join(rows)


def _device_lines(target: Target) -> list[str]:
    """For a GPU target: which compiler builds its device code, and whether it runs here."""
    if target.device_language == "opencl":
        from lamina.runtime.opencl import OpenCLDevice, missing_reason

        reason = missing_reason()
        return [f"runs here: {OpenCLDevice.get().name}" if reason is None else f"does not run here: {reason}"]
    if target.device_language == "cuda":
        try:
            from lamina.runtime.cuda import missing_reason

            from .cuda_compile import describe_compiler
        except ImportError as e:  # a lamina without its CUDA modules
            return [f"CUDA support missing ({e})"]
        reason = missing_reason()
        return [f"compiler: {describe_compiler()}",
                "runs here: an NVIDIA GPU" if reason is None else f"does not run here: {reason}"]
    return []
