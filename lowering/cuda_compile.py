"""Compile a CUDA device plan's source to PTX and a cubin, and check what the kernel needs of
an SM against what the target allows.

TVM 0.27's wheel writes CUDA C but has no GPU runtime (../shared/docs/tvm-0.27-notes.md), and
lowering/device_build.py stops at the source. A GPU machine can then load the cubin made here
(runtime/cuda.py) without a compiler. The compiler also says what each device function uses —
registers per thread, static shared memory, stack and spills (ptxas -v) — which TVM does not
know: a kernel that builds can still fail at launch with CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES.
`compile_plan` records those numbers in `plan.resources` and refuses a launch over a limit here,
at compile time, naming the kernel and the function.

Compilers, first found first (`find_compiler`):
1. NVRTC from PyPI (`nvidia-cuda-nvrtc`: libnvrtc.so, called with ctypes in this process), with
   the CCCL headers (`nvidia-cuda-cccl`) that TVM's source includes under NVRTC
   (<cuda/std/cstdint>, <cuda/std/type_traits>) and the CUDA headers (`nvidia-cuda-runtime`:
   cuda_fp16.h, for f16 kernels);
2. nvcc from PyPI (`nvidia-cuda-nvcc`, which brings ptxas, cicc and the headers; it needs a host
   C++ compiler such as g++);
3. an nvcc on PATH, or /usr/local/bin/nvcc, or /usr/local/cuda/bin/nvcc;
4. a CUDA toolkit's NVRTC (/usr/local/cuda/lib64/libnvrtc.so).
LAMINA_CUDA_COMPILER=nvrtc|nvcc picks one kind; a path to an nvcc picks that nvcc.

No TVM import: `lamina targets` calls `describe_compiler` without loading TVM (BuildError lives
in lowering/build.py, which imports TVM, so it is imported only where one is raised).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import glob
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace

REGISTERS_PER_SM = 65536       # the register file of one SM (sm_75 and later; per block too)
REGISTER_GRANULE = 256         # registers are given to a warp in units of 256
DEFAULT_ARCH = "sm_90"
INSTALL_HINT = "pip install 'lamina[cuda]' (NVRTC and its headers from PyPI), or put a CUDA toolkit's nvcc on PATH"


def _build_error(message: str, hint: str | None = None):
    from .build import BuildError

    return BuildError(message, hint=hint)


# ---------------------------------------------------------------------------------------------
# finding a compiler

@dataclass(frozen=True)
class CudaCompiler:
    """A CUDA compiler lamina found: `kind` "nvrtc" (a libnvrtc.so at `path`) or "nvcc" (the
    program at `path`); `include_dirs` are passed to NVRTC (CCCL, the CUDA headers); `origin`
    says where it came from (a PyPI package name, or "system")."""

    kind: str
    path: str
    version: str
    origin: str
    include_dirs: tuple = ()

    def describe(self) -> str:
        name = "NVRTC" if self.kind == "nvrtc" else "nvcc"
        where = self.origin if self.origin != "system" else self.path
        return f"{name} {self.version} ({where})"


def find_compiler(kind: str | None = None) -> CudaCompiler:
    """The first CUDA compiler found, in the order of this module's docstring (`kind`: only
    "nvrtc" or only "nvcc"; default $LAMINA_CUDA_COMPILER). Raises BuildError with what to
    install when there is none."""
    wanted = kind if kind is not None else os.environ.get("LAMINA_CUDA_COMPILER", "")
    found, why_not = _search(wanted)
    if found is None:
        detail = f" ({'; '.join(why_not)})" if why_not else ""
        raise _build_error(f"no CUDA compiler found to build kernels for an NVIDIA GPU{detail}", hint=INSTALL_HINT)
    return found


@functools.lru_cache(maxsize=None)
def _search(wanted: str) -> tuple[CudaCompiler | None, tuple[str, ...]]:
    """(the compiler, ()) or (None, why each candidate that is there could not be used)."""
    if wanted and wanted not in ("nvrtc", "nvcc"):
        compiler = _nvcc(wanted, "system")
        return compiler, (() if compiler else (f"LAMINA_CUDA_COMPILER={wanted} is not an nvcc that runs",))
    why_not: list[str] = []
    for kind, search in (("nvrtc", _wheel_nvrtc), ("nvcc", _wheel_nvcc), ("nvcc", _system_nvcc),
                         ("nvrtc", _system_nvrtc)):
        compiler = search(why_not) if wanted in ("", kind) else None
        if compiler is not None:
            return compiler, ()
    return None, tuple(why_not)


def describe_compiler() -> str:
    """One line for `lamina targets`: which CUDA compiler builds cuda kernels, or what to
    install. Never raises."""
    try:
        return find_compiler().describe()
    except Exception:  # a BuildError, or a broken library that would not load
        return "none: pip install 'lamina[cuda]'"


def _nvidia_roots() -> list[str]:
    """The folders of the `nvidia` namespace package the NVIDIA wheels install into (CUDA 13
    wheels: nvidia/cu13/{lib,bin,include}; CUDA 12: nvidia/cuda_nvrtc/lib, nvidia/cuda_nvcc/bin)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("nvidia")
    except (ImportError, ValueError):
        return []
    return list(spec.submodule_search_locations or []) if spec else []


def _wheel_nvrtc(why_not: list) -> CudaCompiler | None:
    for root in _nvidia_roots():
        for lib in sorted(glob.glob(os.path.join(root, "*", "lib", "libnvrtc.so*"))):
            includes = _include_dirs([os.path.join(root, "*", "include")])
            return _nvrtc(lib, _wheel_name("nvidia-cuda-nvrtc", lib), includes, why_not)
    return None


def _system_nvrtc(why_not: list) -> CudaCompiler | None:
    libs = sorted(glob.glob("/usr/local/cuda/lib64/libnvrtc.so*"))
    found = ctypes.util.find_library("nvrtc")
    lib = libs[0] if libs else found
    if not lib:
        return None
    return _nvrtc(lib, "system", _include_dirs(["/usr/local/cuda/include"]), why_not)


def _wheel_name(package: str, path: str) -> str:
    """The PyPI name of the wheel a file came from: CUDA 12's wheels are `...-cu12` and install
    into nvidia/cuda_nvrtc, nvidia/cuda_nvcc; CUDA 13's (unsuffixed) into nvidia/cu13."""
    return package if re.search(r"nvidia[/\\]cu\d+[/\\]", path) else f"{package}-cu12"


def _include_dirs(patterns: list[str]) -> tuple[str, ...]:
    """The CCCL folder (holding cuda/std/cstdint) and the CUDA headers folder (cuda_fp16.h)
    among `patterns` and the folders below them; empty when CCCL is not there."""
    folders = [f for p in patterns for f in sorted(glob.glob(p))]
    folders += [os.path.join(f, "cccl") for f in folders]
    cccl = next((f for f in folders if os.path.isfile(os.path.join(f, "cuda", "std", "cstdint"))), None)
    cuda = next((f for f in folders if os.path.isfile(os.path.join(f, "cuda_fp16.h"))), None)
    if cccl is None:
        return ()
    return tuple(dict.fromkeys(f for f in (cccl, cuda) if f))


def _nvrtc(lib: str, origin: str, includes: tuple, why_not: list) -> CudaCompiler | None:
    if not includes:
        why_not.append(f"NVRTC at {lib} has no CCCL headers beside it (pip install nvidia-cuda-cccl)")
        return None
    try:
        nvrtc = _Nvrtc(lib)
        version = nvrtc.version()
    except Exception as e:  # OSError from ctypes, AttributeError for a missing symbol
        why_not.append(f"NVRTC at {lib} does not load: {e}")
        return None
    return CudaCompiler("nvrtc", lib, version, origin, includes)


def _wheel_nvcc(why_not: list) -> CudaCompiler | None:
    for root in _nvidia_roots():
        for nvcc in sorted(glob.glob(os.path.join(root, "*", "bin", "nvcc"))):
            return _nvcc(nvcc, _wheel_name("nvidia-cuda-nvcc", nvcc), why_not)
    return None


def _system_nvcc(why_not: list) -> CudaCompiler | None:
    for nvcc in (shutil.which("nvcc"), "/usr/local/bin/nvcc", "/usr/local/cuda/bin/nvcc"):
        if nvcc and os.access(nvcc, os.X_OK):
            return _nvcc(nvcc, "system", why_not)
    return None


def _nvcc(path: str, origin: str, why_not: list | None = None) -> CudaCompiler | None:
    """The nvcc at `path` if `nvcc --version` runs and says its release."""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    match = re.search(r"release [\d.]+, V([\d.]+)", out)
    if match is None:
        if why_not is not None:
            why_not.append(f"nvcc at {path} does not run")
        return None
    return CudaCompiler("nvcc", path, match.group(1), origin)


# ---------------------------------------------------------------------------------------------
# compiling

@dataclass
class _Output:
    ptx: str
    cubin: bytes
    log: str       # the compiler's messages: ptxas -v's resource lines among them


def compile_plan(plan, target, kernel: str = "kernel", compiler: CudaCompiler | None = None):
    """`plan` (a DevicePlan of language "cuda") with its PTX and cubin for the target's arch
    (target.tvm["arch"], default sm_90) and, per device function, the resources the compiler
    reported: registers, shared_bytes (static), local_bytes (stack frame), spill_stores,
    spill_loads, max_threads. Raises BuildError naming `kernel` when it does not compile or a
    launch is over a limit of the target (threads per block, registers, shared memory)."""
    if plan.language != "cuda":
        raise _build_error(f"kernel @{kernel} is {plan.language} code: only CUDA compiles to a cubin")
    compiler = compiler or find_compiler()
    arch = (getattr(target, "tvm", None) or {}).get("arch", DEFAULT_ARCH)
    if compiler.kind == "nvrtc":
        out = _compile_nvrtc(compiler, plan.source, arch, kernel)
    else:
        out = _compile_nvcc(compiler, plan.source, arch, kernel)
    resources = _resources(out.log, plan.source, plan.functions, kernel)
    compiled = replace(plan, arch=arch, ptx=out.ptx, binary=out.cubin, resources=resources)
    check_limits(compiled, target, kernel)
    return compiled


# TVM's prelude under NVRTC includes CCCL's <cuda/std/type_traits>, which NVRTC parses in ~1 s
# for every kernel. NVRTC's automatic precompiled header (-pch, NVRTC 12.8+) keeps the headers
# included before the first other line of a source; TVM writes `using` lines between its two
# includes, so lamina includes both first (their include guards make TVM's own includes no-ops).
# Measured on resnet18's kernels: 1.1 s -> 0.33 s a kernel after the first.
_NVRTC_PREFIX = "#include <cuda/std/cstdint>\n#include <cuda/std/type_traits>\n"


def _compile_nvrtc(compiler: CudaCompiler, source: str, arch: str, kernel: str) -> _Output:
    options = [f"-arch={arch}", "-std=c++17", "-w", "-Xptxas", "-v"] + [f"-I{d}" for d in compiler.include_dirs]
    if _version_at_least(compiler.version, (12, 8)):
        options.append("-pch")
    ok, log, ptx, cubin = _Nvrtc(compiler.path).compile(_NVRTC_PREFIX + source, f"{_file_name(kernel)}.cu", options)
    if not ok:
        raise _compile_error(log, kernel, compiler)
    return _Output(ptx, cubin, log)


def _file_name(kernel: str) -> str:
    """The kernel's name as a file name (the compilers print it in their messages)."""
    return re.sub(r"[^\w.-]", "_", kernel) or "kernel"


def _version_at_least(version: str, wanted: tuple) -> bool:
    try:
        return tuple(int(x) for x in version.split(".")[:2]) >= wanted
    except ValueError:
        return False


def _compile_nvcc(compiler: CudaCompiler, source: str, arch: str, kernel: str) -> _Output:
    """nvcc to PTX, then that PTX to a cubin (nvcc hands it to ptxas, whose -v lines are the
    resources), so the PTX and the cubin come from one compile."""
    with tempfile.TemporaryDirectory(prefix="lamina-cuda-") as tmp:
        cu, ptx, cubin = (os.path.join(tmp, f"{_file_name(kernel)}.{ext}") for ext in ("cu", "ptx", "cubin"))
        with open(cu, "w", encoding="utf-8") as f:
            f.write(source)
        _run(compiler, [compiler.path, "-ptx", f"-arch={arch}", "-w", "-o", ptx, cu], kernel)
        log = _run(compiler, [compiler.path, "-cubin", f"-arch={arch}", "-Xptxas", "-v", "-o", cubin, ptx], kernel)
        with open(ptx, encoding="utf-8") as f, open(cubin, "rb") as g:
            return _Output(f.read(), g.read(), log)


def _run(compiler: CudaCompiler, command: list[str], kernel: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as e:
        raise _build_error(f"kernel @{kernel}: {compiler.describe()} did not run: {e}", hint=INSTALL_HINT) from None
    log = done.stdout + done.stderr
    if done.returncode != 0:
        raise _compile_error(log, kernel, compiler)
    return log


_TOO_MUCH_SHARED = re.compile(r"Entry function '(\w+)' uses too much shared data "
                              r"\((0x[0-9a-fA-F]+) bytes, (0x[0-9a-fA-F]+) max\)")


def _compile_error(log: str, kernel: str, compiler: CudaCompiler):
    """The compiler's refusal as a BuildError: shared memory over the SM's static limit (ptxas
    says so before lamina could) in lamina's words; otherwise the first error line."""
    match = _TOO_MUCH_SHARED.search(log)
    if match:
        function, used, limit = match.group(1), int(match.group(2), 16), int(match.group(3), 16)
        return _build_error(f"kernel @{kernel}: {function} uses {used} bytes of static shared memory per block, "
                            f"over the {limit} bytes a CUDA kernel may declare",
                            hint="stage a smaller tile in shared memory")
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    first = next((line for line in lines if "error" in line.lower()), lines[0] if lines else "no message")
    return _build_error(f"kernel @{kernel}: {compiler.describe()} refused its CUDA source: {first}",
                        hint="TVM wrote this source: report it with the kernel's schedule (`lamina kernel`)")


# ---------------------------------------------------------------------------------------------
# resources and limits

_ENTRY = re.compile(r"Compiling entry function '(\w+)'")
_PROPERTIES = re.compile(r"Function properties for (\w+)")
_FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_USED = re.compile(r"Used (\d+) registers")
_SMEM = re.compile(r"(\d+) bytes smem")


def _resources(log: str, source: str, functions: list[str], kernel: str) -> dict:
    """Per device function, ptxas -v's numbers: `Compiling entry function 'f'` opens a
    function's lines, `Function properties for g` is followed by g's stack and spills (g may be
    a device function it calls: those lines are not f's), `Used N registers` closes them."""
    found: dict = {}
    current = properties_of = None
    for line in log.splitlines():
        entry, properties = _ENTRY.search(line), _PROPERTIES.search(line)
        if entry:
            current = found.setdefault(entry.group(1), {"registers": 0, "shared_bytes": 0, "local_bytes": 0,
                                                        "spill_stores": 0, "spill_loads": 0})
        elif properties:
            properties_of = properties.group(1)
        frame, used = _FRAME.search(line), _USED.search(line)
        if frame and properties_of in found:
            found[properties_of].update(local_bytes=int(frame.group(1)), spill_stores=int(frame.group(2)),
                                        spill_loads=int(frame.group(3)))
        if used and current is not None:
            smem = _SMEM.search(line)
            current.update(registers=int(used.group(1)), shared_bytes=int(smem.group(1)) if smem else 0)
    missing = [f for f in functions if f not in found]
    if missing:
        raise _build_error(f"kernel @{kernel}: the CUDA compiler reported no resources for {', '.join(missing)}",
                           hint="the compiler's ptxas -v output changed: lowering/cuda_compile.py reads it")
    for function, res in found.items():
        res["max_threads"] = max_threads(res["registers"], launch_bounds(source, function))
    return {f: found[f] for f in functions}


def launch_bounds(source: str, function: str) -> int | None:
    """The N of `__launch_bounds__(N)` on `function` in `source` (TVM writes it: the block's
    threads), None without one."""
    match = re.search(r"__launch_bounds__\(\s*(\d+)[^)]*\)\s*" + re.escape(function) + r"\s*\(", source)
    return int(match.group(1)) if match else None


def max_threads(registers: int, bound: int | None = None) -> int:
    """The most threads a block of this function can have: its launch bound, and the register
    file (a warp gets registers × 32 rounded up to 256; all a block's warps share 65536)."""
    per_warp = -(-max(registers, 1) * 32 // REGISTER_GRANULE) * REGISTER_GRANULE
    by_registers = REGISTERS_PER_SM // per_warp * 32
    return min(by_registers, bound) if bound else by_registers


def check_limits(plan, target, kernel: str = "kernel") -> None:
    """Every launch of a compiled plan within the target's limits and its functions' resources:
    threads per block, registers of a block, static + dynamic shared memory. Raises BuildError
    naming the kernel, the function and the limit."""
    for launch in plan.launches:
        res = plan.resources.get(launch.function, {})
        threads, name = launch.threads_per_block, launch.function
        if threads > target.max_threads_per_block:
            raise _build_error(f"kernel @{kernel}: {name} runs {threads} threads per block, over {target.name}'s "
                               f"limit of {target.max_threads_per_block}",
                               hint="split the loops bound to threadIdx by a smaller factor")
        bound = launch_bounds(plan.source, name)
        if bound and threads > bound:
            raise _build_error(f"kernel @{kernel}: {name} is launched with {threads} threads per block, over its "
                               f"__launch_bounds__({bound})",
                               hint="the launch plan and the source disagree: rebuild the kernel")
        registers = res.get("registers", 0)
        if registers and threads > max_threads(registers):
            raise _build_error(f"kernel @{kernel}: {name} needs {registers} registers per thread x {threads} threads "
                               f"per block, over the {REGISTERS_PER_SM} registers of an SM",
                               hint="bind fewer threads per block, or give each thread a smaller tile")
        shared = res.get("shared_bytes", 0) + launch.dynamic_shared_bytes
        if shared > target.max_shared_memory_per_block:
            raise _build_error(f"kernel @{kernel}: {name} uses {shared} bytes of shared memory per block, over "
                               f"{target.name}'s limit of {target.max_shared_memory_per_block}",
                               hint="stage a smaller tile in shared memory")


# ---------------------------------------------------------------------------------------------
# NVRTC through ctypes

class _Nvrtc:
    """The few NVRTC calls lamina makes, on a libnvrtc.so loaded with ctypes (no cuda-bindings
    needed to compile)."""

    def __init__(self, path: str):
        self.lib = _load_nvrtc(path)

    def version(self) -> str:
        major, minor = ctypes.c_int(), ctypes.c_int()
        self._check(self.lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)), "nvrtcVersion")
        return f"{major.value}.{minor.value}"

    def compile(self, source: str, name: str, options: list[str]) -> tuple[bool, str, str, bytes]:
        """(compiled?, log, PTX, cubin) of `source`."""
        lib = self.lib
        prog = ctypes.c_void_p()
        self._check(lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), name.encode(), 0, None, None),
                    "nvrtcCreateProgram")
        try:
            opts = (ctypes.c_char_p * len(options))(*(o.encode() for o in options))
            result = lib.nvrtcCompileProgram(prog, len(options), opts)
            log = self._bytes(prog, lib.nvrtcGetProgramLogSize, lib.nvrtcGetProgramLog)
            log = log.rstrip(b"\0").decode(errors="replace")
            if result != 0:
                return False, log, "", b""
            ptx = self._bytes(prog, lib.nvrtcGetPTXSize, lib.nvrtcGetPTX).rstrip(b"\0").decode()
            cubin = self._bytes(prog, lib.nvrtcGetCUBINSize, lib.nvrtcGetCUBIN)
            return True, log, ptx, cubin
        finally:
            lib.nvrtcDestroyProgram(ctypes.byref(prog))

    def _bytes(self, prog, size_fn, get_fn) -> bytes:
        """What one of NVRTC's size/get pairs returns (the log, the PTX, the cubin)."""
        size = ctypes.c_size_t()
        self._check(size_fn(prog, ctypes.byref(size)), "nvrtcGet*Size")
        buf = ctypes.create_string_buffer(max(size.value, 1))
        self._check(get_fn(prog, buf), "nvrtcGet*")
        return buf.raw[:size.value]

    def _check(self, result: int, call: str) -> None:
        if result != 0:
            message = self.lib.nvrtcGetErrorString(result)
            raise _build_error(f"NVRTC failed in {call}: {message.decode() if message else result}", hint=INSTALL_HINT)


@functools.lru_cache(maxsize=None)
def _load_nvrtc(path: str):
    lib = ctypes.CDLL(path)
    lib.nvrtcGetErrorString.restype = ctypes.c_char_p
    lib.nvrtcCreateProgram.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p, ctypes.c_char_p,
                                       ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    lib.nvrtcCompileProgram.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)]
    lib.nvrtcDestroyProgram.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    for size_fn, get_fn in (("nvrtcGetProgramLogSize", "nvrtcGetProgramLog"), ("nvrtcGetPTXSize", "nvrtcGetPTX"),
                            ("nvrtcGetCUBINSize", "nvrtcGetCUBIN")):
        getattr(lib, size_fn).argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]
        getattr(lib, get_fn).argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    return lib
