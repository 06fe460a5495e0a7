"""Run a compiled lamina package without the compiler: the reader half of runtime/package.py.

A package (`lamina.runtime.package.write_package`) is ONE uncompressed tar file, like tvmc's
`.tar`: `manifest.json` (format number, TVM version, target, threads, a sha256 of every other
member), `plan.json` (the kernels in run order and each call's arguments), `weights.bin` (every
constant, already packed, 64-byte aligned), `kernels/*.so` (the compiled kernels; for a GPU
target each kernel's launch plan `.json` with its code: `.cl`, or `.cu`, `.ptx` and `.cubin`),
`ir.mlir` and `schedules/*.mlir` (for people; never read here).

**A package is trusted input, like a shared library.** Its kernels are native code that runs in
this process with your rights. The checks below (member names and types, the manifest's hashes,
the plan's bounds) catch a damaged or mislabelled file and keep everything this module writes
inside its own temporary folder; they do not make a package from an untrusted source safe to run.

Why this module stands alone: loading a package must be quick and small (measured on a 2-core
machine: ResNet-18's first output 0.2-0.4 s after the process starts, peak RSS ~100 MB, where
onnxruntime takes ~210 MB), so it needs only the standard library,
numpy, `tvm_ffi` and TVM's runtime library `libtvm_runtime.so` (found inside the installed `tvm`
package WITHOUT importing `tvm`, which alone takes ~1.2 s and 200 MB). It imports neither tvm,
onnx, lark, nor lamina's compiler. Importing it as `lamina.runtime.package_runner` runs lamina's
package `__init__`, which imports the parser and with it lark (~0.26 s); for a lean process load
this FILE instead (it can also be copied next to a package on its own):

    python lamina/runtime/package_runner.py model.tar --fill random

    spec = importlib.util.spec_from_file_location("lamina_package_runner", ".../package_runner.py")
    runner = importlib.util.module_from_spec(spec); spec.loader.exec_module(runner)
    model = runner.load_package("model.tar"); outputs = model(x)

Loaded as a file, its `PackageError` derives from a `LaminaError` loaded from
`../compiler/errors.py` by path (the same code, a separate class object from `lamina`'s own).

How a package runs, as the executor runs a `CompiledModel` (runtime/executor.py): the kernels are
extracted into a temporary folder, loaded (`tvm_ffi.load_module`), and the folder is removed at
once; the weights member is memory-mapped straight from the tar file (copy-on-write, never
written), each constant a 64-byte aligned view of that one mapping, so each weight is held once;
the arena is one 64-byte aligned allocation; every call's argument tuple is built once here, so
a call copies the inputs in, runs the loop over (function, arguments) and copies the outputs out.

A GPU package (targets opencl, opencl-adreno, cuda; plan.json has a "device") runs without TVM
at all, as `bind_device` runs a CompiledModel (runtime/device_executor.py): its kernels are
device plans (launches, scratch sizes) with their OpenCL C, or CUDA C, PTX and cubin, launched by
lamina's own runtime, runtime/opencl.py (pyopencl) or runtime/cuda.py (the CUDA driver), with
runtime/device_plan.py. Imported as `lamina.runtime.package_runner` it uses lamina's modules;
loaded as a file it loads them by path from its own folder, so **a runner copied alone runs CPU
packages only: for a GPU package copy device_plan.py and opencl.py or cuda.py beside it.**
ONE device allocation holds the arena (each planned value a range of it at its plan offset,
aligned to the target's `buffer_align`), each input gets a device buffer, each constant is
uploaded once from weights.bin (and the mapping let go); a call writes the inputs, enqueues every
launch and reads the outputs back. Without the device, loading fails in one line saying what is
needed ("m.tar needs an NVIDIA GPU: ...").
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import hashlib
import importlib.util
import json
import mmap
import os
import platform
import re
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path, PurePosixPath

import numpy as np

FORMAT = 1                 # the package format this module reads and package.py writes
KIND = "lamina-package"
MANIFEST = "manifest.json"
PLAN = "plan.json"
WEIGHTS = "weights.bin"
ALIGN = 64                 # TVM refuses tensors whose data is not 64-byte aligned
MAX_JSON_BYTES = 64 << 20  # manifest and plan are small; refuse to parse a huge one
KERNEL_FORMATS = {".so": "shared-library", ".o": "object", ".tar": "object-archive"}
RUNNABLE_FORMAT = "shared-library"
# a GPU target's kernel: kernels/NAME.json (runtime/device_plan.py's JSON without its code) and
# its code as members of their own, named in the plan's kernel entry under these keys
DEVICE_FORMAT = "device-plan"
DEVICE_CODE = {"opencl": {"source": ".cl"}, "cuda": {"source": ".cu", "ptx": ".ptx", "binary": ".cubin"}}
NEEDS = {"opencl": "an OpenCL device", "cuda": "an NVIDIA GPU"}  # what a GPU package needs, in words
# per language: lamina's runtime module beside this file, its device, kernel and error classes
DEVICE_RUNTIMES = {"opencl": ("opencl", "OpenCLDevice", "OpenCLKernel", "OpenCLError"),
                   "cuda": ("cuda", "CudaDevice", "CudaKernel", "CudaError")}
# bounds a device plan must keep (a damaged plan, not a real kernel, goes past them): CUDA's and
# OpenCL's most threads per block we know, CUDA's largest grid, scratch and dynamic shared memory
MAX_THREADS_PER_BLOCK = 1024
MAX_GRID = 2**31 - 1
MAX_SCRATCH_BYTES = 1 << 32
MAX_DYNAMIC_SHARED_BYTES = 1 << 20
FUNCTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ML_DTYPES = {"bfloat16", "float8_e4m3fn", "float8_e5m2", "float4_e2m1fn", "float8_e4m3fnuz",
             "float8_e5m2fnuz", "float8_e4m3b11fnuz", "float8_e3m4", "float8_e4m3", "float8_e8m0fnu",
             "float6_e2m3fn", "float6_e3m2fn", "int4", "uint4", "int2", "uint2"}
BAD_PACKAGE_HINT = "the file is damaged or was not written by lamina's write_package; write the package again"


def _standalone_lamina_error():
    """lamina's LaminaError for a process that has not imported lamina: compiler/errors.py
    (standard library only) loaded by path under a private name, so that importing it does not
    run lamina's package __init__ (which imports lark). A copied-alone runner gets a stand-in."""
    path = Path(__file__).resolve().parent.parent / "compiler" / "errors.py"
    name = "_lamina_compiler_errors_standalone"
    if name in sys.modules:
        return sys.modules[name].LaminaError
    if path.is_file():
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up here
        spec.loader.exec_module(module)
        return module.LaminaError

    class LaminaError(Exception):
        """Stand-in with LaminaError's interface (message, hint, render)."""

        def __init__(self, message: str, pos=None, hint: str | None = None, notes=None):
            super().__init__(message)
            self.message, self.pos, self.hint, self.notes = message, pos, hint, list(notes or [])

        def render(self) -> str:
            return "\n".join([f"error: {self.message}", *self.notes] + ([f"hint: {self.hint}"] if self.hint else []))

        __str__ = render

    return LaminaError


if __name__.startswith("lamina.") or "lamina.compiler.errors" in sys.modules:  # lamina is loaded already
    from lamina.compiler.errors import LaminaError
else:
    LaminaError = _standalone_lamina_error()


class PackageError(LaminaError):
    """A package that cannot be read or run here: damaged, unsafe, from another format or TVM
    version, or built for another target. The message is one line naming the file."""


class PackageInputError(PackageError):
    """An input of the wrong count, shape or dtype for a packaged model."""


def _fail(path, message: str, hint: str | None = BAD_PACKAGE_HINT) -> PackageError:
    return PackageError(f"{path}: {message}", hint=hint)


# ---------------------------------------------------------------------------------------------
# the tar file: safe members, manifest, hashes


class PackageFile:
    """An open package whose members have been checked: safe names, regular files only, each
    inside the file, exactly the members the manifest lists, each with its recorded sha256.
    `manifest` and `plan` are the parsed JSON; `data` holds the verified bytes of every member
    but the weights, which `weights` maps from the tar file itself."""

    def __init__(self, path):
        self.path = Path(path)
        try:
            self.file = open(self.path, "rb")
        except OSError as e:
            raise _fail(path, f"cannot open the package ({e.strerror or e})", "check the path") from None
        try:
            self._open()
        except BaseException:
            self.file.close()
            raise

    def _open(self) -> None:
        self.size = os.fstat(self.file.fileno()).st_size
        self.members = self._members()
        self.manifest = self._read_manifest()
        self._check_member_set()
        self.data: dict[str, bytes] = {}
        self.weights = aligned_empty((0,), np.uint8)
        for name in sorted(self.members):
            if name != MANIFEST:
                self._verify(name)
        self.plan = _json(self.path, PLAN, self.data.get(PLAN))

    def close(self) -> None:
        self.file.close()

    # -- members

    def _members(self) -> dict:
        try:
            with tarfile.open(fileobj=self.file, mode="r:") as tar:
                infos = tar.getmembers()
        except (tarfile.TarError, EOFError, OSError, ValueError) as e:
            truncated = "end of data" in str(e) or "truncated" in str(e)
            what = "the file is truncated" if truncated else "not a readable tar file"
            raise _fail(self.path, f"{what} ({e})") from None
        if not infos:
            raise _fail(self.path, "not a readable tar file (no members)")
        members = {}
        for info in infos:
            _check_member(self.path, info)
            if info.name in members:
                raise _fail(self.path, f"member {info.name!r} appears twice")
            if info.offset_data + info.size > self.size:
                raise _fail(self.path, f"member {info.name!r} runs past the end of the file (truncated)")
            members[info.name] = info
        return members

    def _read_manifest(self) -> dict:
        if MANIFEST not in self.members:
            raise _fail(self.path, f"no {MANIFEST} member: not a lamina package")
        manifest = _json(self.path, MANIFEST, self._read(MANIFEST, MAX_JSON_BYTES))
        if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
            raise _fail(self.path, f"{MANIFEST} does not describe a {KIND}")
        if manifest.get("format") != FORMAT:
            raise _fail(self.path, f"package format {manifest.get('format')!r}; this lamina reads format {FORMAT}",
                        "write the package again with this lamina, or run it with the lamina that wrote it")
        if not isinstance(manifest.get("members"), dict):
            raise _fail(self.path, f"{MANIFEST} has no member list")
        return manifest

    def _check_member_set(self) -> None:
        listed = set(self.manifest["members"])
        present = set(self.members) - {MANIFEST}
        missing, extra = sorted(listed - present), sorted(present - listed)
        if missing:
            raise _fail(self.path, f"member {missing[0]!r} listed in the manifest is missing")
        if extra:
            raise _fail(self.path, f"member {extra[0]!r} is not in the manifest")

    def _read(self, name: str, limit: int | None = None) -> bytes:
        info = self.members[name]
        if limit is not None and info.size > limit:
            raise _fail(self.path, f"member {name!r} is {info.size} bytes, too large")
        data = os.pread(self.file.fileno(), info.size, info.offset_data)
        if len(data) != info.size:
            raise _fail(self.path, f"member {name!r} is truncated")
        return data

    def _verify(self, name: str) -> None:
        """Check a member's size and sha256 against the manifest. The plan's and the kernels'
        bytes are kept; the weights are hashed through their mapping (read once); the members
        for people (ir.mlir and the schedules) are hashed a chunk at a time and never held (an
        ir.mlir written before package.py elided its weights holds them all again as text:
        ResNet-18's was 93 MB, and holding it took the runner's peak RSS from 99 to 183 MiB)."""
        entry = self.manifest["members"][name]
        info = self.members[name]
        if not isinstance(entry, dict) or entry.get("size") != info.size:
            raise _fail(self.path, f"member {name!r} has {info.size} bytes; the manifest says {_get(entry, 'size')}")
        if name == WEIGHTS:
            self.weights = self._map_weights()
            digest = hashlib.sha256(self.weights).hexdigest()
        elif name == PLAN or name.startswith("kernels/"):
            data = self._read(name)
            digest = hashlib.sha256(data).hexdigest()
            self.data[name] = data
        else:
            digest = self._hash_in_chunks(info)
        if digest != entry.get("sha256"):
            raise _fail(self.path, f"member {name!r} does not match its sha256 in the manifest (damaged or altered)")

    def _hash_in_chunks(self, info: tarfile.TarInfo, chunk: int = 1 << 20) -> str:
        h = hashlib.sha256()
        for start in range(0, info.size, chunk):
            data = os.pread(self.file.fileno(), min(chunk, info.size - start), info.offset_data + start)
            if not data:
                raise _fail(self.path, f"member {info.name!r} is truncated")
            h.update(data)
        return h.hexdigest()

    def _map_weights(self) -> np.ndarray:
        """The weights member as a copy-on-write mapping of the tar file, never written, so its
        pages stay the page cache's (mmap offsets are page multiples, so the mapping starts at
        the page before the member; tar data starts at a 512-byte multiple, so the member, and
        each 64-byte aligned constant in it, stays aligned)."""
        info = self.members[WEIGHTS]
        if info.size == 0:
            return aligned_empty((0,), np.uint8)
        start = info.offset_data - info.offset_data % mmap.ALLOCATIONGRANULARITY
        mapping = mmap.mmap(self.file.fileno(), info.offset_data - start + info.size,
                            offset=start, access=mmap.ACCESS_COPY)
        return np.frombuffer(mapping, np.uint8, count=info.size, offset=info.offset_data - start)


def _check_member(path, info: tarfile.TarInfo) -> None:
    """Refuse what tarfile's `data` filter refuses, and more: absolute names, `..`, links,
    devices, directories: a package holds regular files at plain relative paths only."""
    name = info.name
    parts = PurePosixPath(name).parts
    if name.startswith("/") or os.path.isabs(name) or (parts and re.match(r"^[A-Za-z]:", parts[0])):
        raise _fail(path, f"member {name!r} has an absolute path; refusing the package")
    if ".." in parts or "\\" in name or "\x00" in name or not parts:
        raise _fail(path, f"member {name!r} would leave the package folder; refusing the package")
    if info.issym() or info.islnk():
        raise _fail(path, f"member {name!r} is a link; a package holds regular files only")
    if not info.isreg():
        raise _fail(path, f"member {name!r} is not a regular file (a device, folder or fifo); refusing the package")
    if hasattr(tarfile, "data_filter"):
        try:
            tarfile.data_filter(info, os.path.join(tempfile.gettempdir(), "lamina-package-check"))
        except tarfile.FilterError as e:
            raise _fail(path, f"member {name!r} is unsafe ({e}); refusing the package") from None


def _json(path, name: str, data: bytes | None):
    if data is None:
        raise _fail(path, f"no {name} member")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise _fail(path, f"{name} is not valid JSON ({e})") from None


def _get(entry, key):
    return entry.get(key) if isinstance(entry, dict) else None


# ---------------------------------------------------------------------------------------------
# versions, target, runtime


def _tvm_dirs() -> list[str]:
    spec = importlib.util.find_spec("tvm")  # finds the package without importing it
    return list(spec.submodule_search_locations or []) if spec is not None else []


def installed_tvm_version() -> str | None:
    """TVM's version as `tvm.__version__` gives it, read without importing tvm: its
    `_version.py` (written by setuptools-scm), else the installed distribution's metadata."""
    if "tvm" in sys.modules:
        return getattr(sys.modules["tvm"], "__version__", None)
    for folder in _tvm_dirs():
        try:
            text = Path(folder, "_version.py").read_text()
        except OSError:
            continue
        m = re.search(r"""^__version__\s*=\s*(?:version\s*=\s*)?['"]([^'"]+)['"]""", text, re.M)
        if m:
            return m.group(1)
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("apache-tvm")
    except (ImportError, PackageNotFoundError):
        return None


def _tvm_runtime_library() -> str | None:
    """libtvm_runtime.so: $TVM_LIBRARY_PATH, else inside the installed tvm package."""
    folders = [os.environ["TVM_LIBRARY_PATH"]] if os.environ.get("TVM_LIBRARY_PATH") else []
    for folder in folders + [os.path.join(d, "lib") for d in _tvm_dirs()] + _tvm_dirs():
        candidate = os.path.join(folder, "libtvm_runtime.so")
        if os.path.isfile(candidate):
            return candidate
    return None


_RUNTIME_LOCK = threading.Lock()


def _runtime(path, needs_ml_dtypes: bool):
    """tvm_ffi, with libtvm_runtime loaded into the process's global symbols (kernels call its
    `__TVMBackendParallelLaunch`; tvm_ffi alone segfaults on the first parallel kernel).

    tvm_ffi imports ml_dtypes when it can, and ml_dtypes' import takes ~0.8 s here (it registers
    hundreds of numpy ufunc loops). A package whose dtypes are all numpy's own does not need it,
    so tvm_ffi is imported with ml_dtypes hidden; tvm_ffi then converts no ml_dtypes arrays in
    this process (a later `import tvm` still works; bfloat16 numpy arrays do not pass through it)."""
    with _RUNTIME_LOCK:
        if "tvm_ffi" not in sys.modules:
            hide = not needs_ml_dtypes and "ml_dtypes" not in sys.modules
            if hide:
                sys.modules["ml_dtypes"] = None  # makes `import ml_dtypes` raise ImportError
            try:
                import tvm_ffi  # noqa: F401
            except ImportError as e:
                raise _fail(path, f"cannot run the package: tvm_ffi is missing ({e})",
                            "pip install apache-tvm (it brings apache-tvm-ffi)") from None
            finally:
                if hide and sys.modules.get("ml_dtypes", 0) is None:
                    del sys.modules["ml_dtypes"]
        library = _tvm_runtime_library()
        if library is None:
            raise _fail(path, "cannot run the package: TVM's runtime library libtvm_runtime.so is not installed",
                        "pip install apache-tvm, or set TVM_LIBRARY_PATH to the folder holding libtvm_runtime.so")
        try:
            ctypes.CDLL(library, mode=ctypes.RTLD_GLOBAL)
        except OSError as e:
            raise _fail(path, f"cannot load {library} ({e})", "reinstall apache-tvm") from None
        return sys.modules["tvm_ffi"]


def _check_runnable(path, manifest: dict, plan: dict, target: str | None) -> None:
    """One line for each reason a package cannot run here: another TVM, another target,
    a cross build (object files for another device), another machine. A GPU package runs on
    any machine with its device, and without TVM: binding it checks for the device."""
    target_info = manifest.get("target") or {}
    built_for = target_info.get("name", "?")
    if target is not None and target != built_for:
        raise _fail(path, f"built for target {built_for!r}, not {target!r}",
                    f"compile the model for {target} and write a new package")
    if plan.get("device") is not None:
        return
    formats = {k.get("format") for k in plan.get("kernels", []) if isinstance(k, dict)}
    if target_info.get("cross") or formats - {RUNNABLE_FORMAT}:
        raise _fail(path, f"built for {built_for}; runs on that device",
                    f"copy the package to a {built_for} device and run it there")
    machine = target_info.get("machine")
    if machine and machine != platform.machine():
        raise _fail(path, f"built for {machine} machines; this one is {platform.machine()}",
                    f"compile the model on (or for) {platform.machine()}")
    have = installed_tvm_version()
    if manifest.get("tvm_version") != have:
        raise _fail(path, f"built with TVM {manifest.get('tvm_version')}; this runtime has TVM {have}",
                    f"write the package again with TVM {have}, or install apache-tvm=={manifest.get('tvm_version')}")


# ---------------------------------------------------------------------------------------------
# the plan


# A padded read in a TVM kernel may load up to a few rows before or after its input buffer:
# te/conv.py writes padding as Select(inside, x[clamp(i - top)], 0), and TVM 0.27's simplifier
# drops the clamp under the Select's condition (measured: every pad block reads x[i - 1]), while
# LLVM's select loads both sides. The loaded value is thrown away, but a load past a mapped page
# crashes (ShuffleNet's package did: its first arena buffer was read at row -1). So every buffer
# a kernel reads is allocated with this much memory around it; untouched, it costs no RSS.
# It covers a read of up to 256 Ki float32 elements (pad rows x row length x channels) either side.
GUARD_BYTES = 1 << 20


def aligned_empty(shape, dtype) -> np.ndarray:
    """An uninitialised C-ordered array whose data is 64-byte aligned, with GUARD_BYTES of
    allocated memory before and after it (see GUARD_BYTES) (as lowering/build.py's,
    copied here: lowering imports tvm)."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    buf = np.empty(GUARD_BYTES + nbytes + ALIGN + GUARD_BYTES, np.uint8)
    off = GUARD_BYTES + (-(buf.ctypes.data + GUARD_BYTES)) % ALIGN
    return buf[off:off + nbytes].view(dtype).reshape(shape)


def numpy_dtype(path, name) -> np.dtype:
    """A plan's dtype name as numpy's dtype; ml_dtypes' names (bfloat16, ...) through ml_dtypes."""
    if name in ML_DTYPES:
        try:
            import ml_dtypes

            return np.dtype(getattr(ml_dtypes, name))
        except (ImportError, AttributeError):
            raise _fail(path, f"dtype {name} needs the ml_dtypes package", "pip install ml_dtypes") from None
    try:
        return np.dtype(name)
    except TypeError:
        raise _fail(path, f"plan.json names an unknown dtype {name!r}") from None


def _nbytes(shape, dtype: np.dtype) -> int:
    return int(np.prod(shape, dtype=np.int64)) * dtype.itemsize


class _Plan:
    """plan.json, checked: every arena slice inside the arena, every constant inside the
    weights, every index in range (a kernel writes through these pointers). For a GPU package
    also each kernel's device plan: its code members, its launches (function names declared in
    its source, grid and block sizes, arguments that name one of the call's buffers, a scratch
    buffer or an integer) and its scratch sizes, within the bounds above; and the manifest's
    target says the plan's device. `kernel_data`: kernel member name -> its (verified) bytes."""

    def __init__(self, path, plan: dict, weights_size: int, kernel_data: dict, target_info: dict | None = None):
        self.path = path
        try:
            self._read(plan, weights_size, kernel_data)
            self._check_target(target_info if isinstance(target_info, dict) else {})
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, UnicodeDecodeError) as e:
            raise _fail(path, f"plan.json is malformed ({e.__class__.__name__}: {e})") from None

    def _shape(self, shape) -> tuple:
        shape = tuple(int(d) for d in shape)
        if any(d < 0 for d in shape):
            raise ValueError(f"negative dim in {list(shape)}")
        return shape

    def _read(self, plan, weights_size, kernel_data):
        self.arena_bytes = int(plan["arena_bytes"])
        self.device = self._device(plan.get("device"))
        self.align = self.device["buffer_align"] if self.device else ALIGN
        self.kernels = plan["kernels"]
        self.device_kernels = []  # a GPU package's: per kernel, its device plan's JSON with its code
        for k in self.kernels:
            if k["member"] not in kernel_data:
                raise ValueError(f"kernel {k['member']!r} is not a member of the package")
            if (k["format"] == DEVICE_FORMAT) != (self.device is not None):
                raise ValueError(f"kernel {k['member']!r} of format {k['format']!r} in a "
                                 + ("GPU" if self.device else "CPU") + " package")
            if self.device:
                self.device_kernels.append(self._device_kernel(k, kernel_data))
        self.inputs = [(str(i["name"]), self._shape(i["shape"]), numpy_dtype(self.path, i["dtype"]))
                       for i in plan["inputs"]]
        self.constants = []
        for c in plan["constants"]:
            shape, dtype = self._shape(c["shape"]), numpy_dtype(self.path, c["dtype"])
            offset = int(c["offset"])
            if offset % ALIGN or offset < 0 or offset + _nbytes(shape, dtype) > weights_size:
                raise ValueError(f"constant at {offset} ({_nbytes(shape, dtype)} bytes) is outside weights.bin")
            self.constants.append((offset, shape, dtype))
        self.calls = [(int(c["kernel"]), str(c["entry"]), [self._argument(a) for a in c["args"]], str(c.get("op", "")))
                      for c in plan["calls"]]
        for k, _, args, _ in self.calls:
            if not 0 <= k < len(self.kernels):
                raise ValueError(f"call of kernel {k}, which the plan does not list")
            if self.device and self.device_kernels[k]["params"] > len(args):
                raise ValueError(f"kernel {self.kernels[k]['member']!r} reads argument "
                                 f"#{self.device_kernels[k]['params'] - 1}; its call passes {len(args)}")
        self.outputs = [(str(o["name"]), self._argument(o["from"])) for o in plan["outputs"]]
        # free concats (optional, for people and this check): each input slice inside its output;
        # running needs nothing from it (each producer's argument is already its slice)
        self.free_concats = []
        for f in plan.get("free_concats", []):
            output, inputs = self._argument(f["output"]), [self._argument(a) for a in f["inputs"]]
            for arg in [output, *inputs]:
                if arg[0] != "arena":
                    raise ValueError(f"a free concat's argument {arg[0]!r} is not in the arena")
            end = output[1] + _nbytes(output[2], output[3])
            for arg in inputs:
                if not output[1] <= arg[1] <= arg[1] + _nbytes(arg[2], arg[3]) <= end:
                    raise ValueError(f"free concat input at {arg[1]} is outside its output at {output[1]}..{end}")
            self.free_concats.append((output, inputs))

    def _argument(self, arg: dict) -> tuple:
        kind = arg["kind"]
        if kind == "arena":
            shape, dtype = self._shape(arg["shape"]), numpy_dtype(self.path, arg["dtype"])
            offset = int(arg["offset"])
            if offset < 0 or offset + _nbytes(shape, dtype) > self.arena_bytes:
                raise ValueError(f"arena slice at {offset} ({_nbytes(shape, dtype)} bytes) is outside the arena")
            if offset % self.align:
                raise ValueError(f"arena slice at {offset} is not aligned to {self.align} bytes")
            return ("arena", offset, shape, dtype)
        index = int(arg["index"])
        count = len(self.inputs) if kind == "input" else len(self.constants)
        if kind not in ("input", "constant") or not 0 <= index < count:
            raise ValueError(f"argument {arg}")
        return (kind, index)

    # -- a GPU package

    @staticmethod
    def _device(device) -> dict | None:
        """plan["device"]: {"language", "buffer_align"} (a GPU package), or None."""
        if device is None:
            return None
        language, align = str(device["language"]), int(device["buffer_align"])
        if language not in NEEDS:
            raise ValueError(f"device language {language!r} (lamina runs {', '.join(NEEDS)})")
        if align < ALIGN or align > 1 << 16 or align & (align - 1):
            raise ValueError(f"buffer_align {align} is not a power of two from {ALIGN} to 65536")
        return {"language": language, "buffer_align": align}

    def _device_kernel(self, entry: dict, kernel_data: dict) -> dict:
        """A GPU kernel's entry, checked: its JSON member (launches, scratch sizes) and its code
        members, each of the language's own suffix. Returns the device plan's JSON with its
        code (what DevicePlan.from_json reads, the cubin as bytes) and "params": how many of the
        call's buffers its launches read."""
        language = self.device["language"]
        if entry.get("language") != language:
            raise ValueError(f"kernel {entry['member']!r} is {entry.get('language')!r} code in a {language} package")
        code = {}
        for key, suffix in [("member", ".json"), *DEVICE_CODE[language].items()]:
            name = entry.get(key)
            if name is None and key in ("member", "source"):
                raise ValueError(f"kernel {entry['member']!r} names no {key}")
            if name is None:
                continue
            if not str(name).endswith(suffix) or name not in kernel_data:
                raise ValueError(f"kernel {entry['member']!r}: its {key} {name!r} is not a {suffix} member "
                                 "of the package")
            code[key] = kernel_data[name]
        plan = json.loads(code.pop("member").decode("utf-8"))
        if plan["language"] != language:
            raise ValueError(f"kernel {entry['member']!r} is {plan['language']!r} code in a {language} package")
        plan["source"] = code["source"].decode("utf-8")
        plan["ptx"] = code["ptx"].decode("utf-8") if "ptx" in code else ""
        binary = code.get("binary", b"")
        if language == "cuda" and not (binary or plan["ptx"]):
            raise ValueError(f"kernel {entry['member']!r} has no cubin or PTX")
        scratch = [int(n) for n in plan["scratch_bytes"]]
        if any(n < 0 for n in scratch) or sum(scratch) > MAX_SCRATCH_BYTES:
            raise ValueError(f"kernel {entry['member']!r} asks for scratch buffers of {scratch} bytes")
        if not plan["launches"]:
            raise ValueError(f"kernel {entry['member']!r} has no launches")
        params = 0
        for launch in plan["launches"]:
            self._check_launch(entry["member"], launch, plan["source"], len(scratch))
            params = max([params] + [int(v) + 1 for k, v in launch["args"] if k == "param"])
        plan["binary"], plan["params"] = binary, params
        return plan

    @staticmethod
    def _check_launch(member: str, launch: dict, source: str, scratch: int) -> None:
        name = str(launch["function"])
        if not FUNCTION_NAME.match(name) or not re.search(rf"\b{name}\b", source):
            raise ValueError(f"kernel {member!r} launches {name!r}, which its source does not define")
        grid, block = [int(n) for n in launch["grid"]], [int(n) for n in launch["block"]]
        if len(grid) != 3 or len(block) != 3 or min(grid + block) < 1 or max(grid) > MAX_GRID \
                or block[0] * block[1] * block[2] > MAX_THREADS_PER_BLOCK:
            raise ValueError(f"kernel {member!r} launches {name} on grid {grid}, block {block}")
        if not 0 <= int(launch.get("dynamic_shared_bytes", 0)) <= MAX_DYNAMIC_SHARED_BYTES:
            raise ValueError(f"kernel {member!r} launches {name} with {launch['dynamic_shared_bytes']} bytes "
                             "of shared memory")
        for kind, value in launch["args"]:
            value = int(value)
            ok = {"param": value >= 0, "scratch": 0 <= value < scratch, "int": -2**63 <= value < 2**63}.get(kind)
            if not ok:
                raise ValueError(f"kernel {member!r} launches {name} with argument {[kind, value]}")

    def _check_target(self, target_info: dict) -> None:
        """The manifest's target and the plan agree on the device (None: a CPU package)."""
        said = target_info.get("device")
        have = self.device["language"] if self.device else None
        if said != have:
            raise ValueError(f"the manifest's target says device {said!r}, the plan {have!r}")

    @property
    def needs_ml_dtypes(self) -> bool:
        dtypes = [d for *_, d in self.inputs] + [d for *_, d in self.constants]
        return any(d.name in ML_DTYPES for d in dtypes)


# ---------------------------------------------------------------------------------------------
# the model


class PackagedModel:
    """A model loaded from a package; call it with numpy arrays, get a list of numpy arrays.

    Attributes (as `lamina run` needs them to make and name inputs and outputs):
    `input_names`, `input_shapes`, `input_dtypes`, `output_names`, `output_shapes`,
    `output_dtypes`, `num_kernels` (kernel calls per run), `free_concats` (concats that run no
    kernel: their producers write into the output), `threads` (TVM_NUM_THREADS in
    effect; a GPU package: the manifest's, unused), `device_name` (a GPU package's device, in
    words; None for a CPU package), `target_name`, `tvm_version`, `manifest`, `path`,
    `load_seconds`.

    As with `CompiledModel`, calls share one arena, so they are serialised by a lock, and the
    outputs are copies."""

    def __init__(self, path, target: str | None = None):
        start = time.perf_counter()
        self.path = Path(path)
        package = PackageFile(path)
        try:
            self.manifest = package.manifest
            plan = _Plan(path, package.plan, package.weights.size, _kernel_data(package), self.manifest.get("target"))
            _check_runnable(path, self.manifest, package.plan, target)
            self.device_name, self._device = None, None
            if plan.device is not None:
                self.threads = int(self.manifest.get("threads") or 1)
                self._bind_device(plan, package)
            else:
                self.threads = self._set_threads()
                tvm_ffi = _runtime(path, plan.needs_ml_dtypes)
                self._bind(tvm_ffi, plan, package)
        finally:
            package.close()  # the weights mapping outlives the file object
        self.target_name = self.manifest["target"]["name"]
        self.tvm_version = self.manifest.get("tvm_version")
        self._lock = threading.Lock()
        self.load_seconds = time.perf_counter() - start

    def _set_threads(self) -> int:
        """TVM's thread pool reads TVM_NUM_THREADS when it starts; default it to the package's."""
        os.environ.setdefault("TVM_NUM_THREADS", str(int(self.manifest.get("threads") or os.cpu_count() or 1)))
        return int(os.environ["TVM_NUM_THREADS"])

    # -- binding: everything a call needs, made once

    def _bind(self, tvm_ffi, plan: _Plan, package: PackageFile) -> None:
        self._ffi = tvm_ffi
        self._describe_inputs(plan)
        self.arena = aligned_empty((plan.arena_bytes,), np.uint8)
        self._constants = _constants(plan, package.weights)
        self._tensors: dict = {}    # argument key -> device tensor (shares the numpy memory)
        self._input_buffers: dict = {}  # input index -> its aligned buffer
        functions = self._load_functions(plan, package)
        self._calls = [(functions[(k, entry)], tuple(self._tensor(a) for a in args))
                       for k, entry, args, _ in plan.calls]
        self.call_ops = [op for *_, op in plan.calls]
        self.free_concats = len(plan.free_concats)
        self._inputs = sorted(self._input_buffers.items())
        self.output_names = [n for n, _ in plan.outputs]
        self._outputs = [self._output_source(a) for _, a in plan.outputs]
        self.output_shapes = [self._describe(a)[0] for _, a in plan.outputs]
        self.output_dtypes = [self._describe(a)[1] for _, a in plan.outputs]

    def _describe_inputs(self, plan: _Plan) -> None:
        self.input_names = [n for n, _, _ in plan.inputs]
        self.input_shapes = [s for _, s, _ in plan.inputs]
        self.input_dtypes = [d for _, _, d in plan.inputs]

    def _bind_device(self, plan: _Plan, package: PackageFile) -> None:
        """A GPU package on its device (module docstring): the arena, the inputs' buffers and the
        constants in device memory, each kernel's launcher, and every call's buffers, made once.
        The device runtime's errors (its own classes: it may be a copy loaded by path) become
        PackageErrors."""
        language = plan.device["language"]
        device_plan, runtime = _device_runtime(self.path, language)
        _, _, kernel_class, error_class = DEVICE_RUNTIMES[language]
        device = _open_device(self.path, runtime, language)
        self._device, self.device_name = device, device.name
        self._errors = (getattr(runtime, error_class),) + ((device.cl.Error,) if hasattr(device, "cl") else ())
        if device.align > plan.align:
            raise _fail(self.path, f"the device {device.name} needs buffers aligned to {device.align} bytes; the "
                        f"package's plan aligns them to {plan.align}", "compile the model for this device's target")
        self._describe_inputs(plan)
        self._constants = _constants(plan, package.weights)
        buffers: dict = {}  # argument key -> device buffer
        inputs: dict = {}   # input index -> its device buffer

        def buffer(arg: tuple):
            key = arg if arg[0] != "arena" else ("arena", arg[1], _nbytes(arg[2], arg[3]))
            if key not in buffers:
                if arg[0] == "arena":
                    buffers[key] = arena.view(arg[1], key[2])
                elif arg[0] == "input":
                    buffers[key] = inputs[arg[1]] = device.buffer(_nbytes(*self._input_spec(arg[1])))
                else:
                    buffers[key] = device.upload(self._constants[arg[1]])
            return buffers[key]

        try:
            arena = device.arena(plan.arena_bytes)
            launchers = {}
            for k, *_ in plan.calls:
                if k not in launchers:
                    launchers[k] = getattr(runtime, kernel_class)(_device_plan(device_plan, plan.device_kernels[k]),
                                                                  device)
            self._calls = [(launchers[k], [buffer(a) for a in args]) for k, _, args, _ in plan.calls]
            self._outputs = [("device", (buffer(a), a[2], a[3])) if a[0] == "arena" else self._output_source(a)
                             for _, a in plan.outputs]
        except self._errors as e:
            raise _fail(self.path, f"the device {device.name} refused the package ({_message(e)})",
                        getattr(e, "hint", None) or "compile the model for this device's target") from None
        self.call_ops = [op for *_, op in plan.calls]
        self.free_concats = len(plan.free_concats)
        self._inputs = sorted(inputs.items())
        self.output_names = [n for n, _ in plan.outputs]
        self.output_shapes = [self._describe(a)[0] for _, a in plan.outputs]
        self.output_dtypes = [self._describe(a)[1] for _, a in plan.outputs]
        # the constants are on the device now: let the weights mapping go (but outputs' copies)
        self._outputs = [(kind, np.array(src, copy=True) if kind == "array" else src) for kind, src in self._outputs]
        self._constants = None

    @property
    def num_kernels(self) -> int:
        return len(self._calls)

    def _load_functions(self, plan: _Plan, package: PackageFile) -> dict:
        """Each kernel library written into a fresh temporary folder under a name of our own
        (never a member's name), loaded, and the folder removed: nothing is left behind."""
        functions, modules = {}, {}
        with tempfile.TemporaryDirectory(prefix="lamina-package-") as folder:
            for i, kernel in enumerate(plan.kernels):
                library = os.path.join(folder, f"kernel{i}.so")
                with open(library, "wb") as f:
                    f.write(package.data[kernel["member"]])
                try:
                    modules[i] = self._ffi.load_module(library)
                except Exception as e:  # tvm_ffi's own error types
                    raise _fail(self.path, f"kernel {kernel['member']!r} does not load ({_first_line(e)})",
                                "a temporary folder mounted noexec cannot load libraries: set TMPDIR to one "
                                "that can") from None
        for k, entry, _, _ in plan.calls:
            if (k, entry) not in functions:
                try:
                    functions[(k, entry)] = modules[k][entry]
                except Exception as e:
                    raise _fail(self.path, f"kernel {plan.kernels[k]['member']!r} has no function {entry!r} "
                                f"({_first_line(e)})") from None
        return functions

    def _array(self, arg: tuple) -> np.ndarray:
        kind = arg[0]
        if kind == "arena":
            _, offset, shape, dtype = arg
            n = _nbytes(shape, dtype)
            return self.arena[offset:offset + n].view(dtype).reshape(shape) if n else aligned_empty(shape, dtype)
        if kind == "input":
            if arg[1] not in self._input_buffers:
                self._input_buffers[arg[1]] = aligned_empty(*self._input_spec(arg[1]))
            return self._input_buffers[arg[1]]
        return self._constants[arg[1]]

    def _input_spec(self, index: int):
        return self.input_shapes[index], self.input_dtypes[index]

    def _tensor(self, arg: tuple):
        """The device tensor of an argument (DLPack, same memory), made once per distinct slice."""
        key = arg if arg[0] != "arena" else (arg[0], arg[1], arg[2], arg[3].str)
        if key not in self._tensors:
            array = self._array(arg)
            try:
                self._tensors[key] = self._ffi.from_dlpack(array)
            except Exception as e:
                raise _fail(self.path, f"TVM refuses a {array.dtype} argument of shape {list(array.shape)} "
                            f"({_first_line(e)})") from None
        return self._tensors[key]

    def _output_source(self, arg: tuple):
        if arg[0] == "input":
            return ("input", arg[1])
        return ("array", self._array(arg))

    def _describe(self, arg: tuple):
        if arg[0] == "arena":
            return arg[2], arg[3]
        if arg[0] == "input":
            return self._input_spec(arg[1])
        c = self._constants[arg[1]]
        return c.shape, c.dtype

    # -- a call

    def __call__(self, *inputs) -> list[np.ndarray]:
        arrays = self._check_inputs(inputs)
        with self._lock:
            if self._device is not None:
                return self._run_on_device(arrays)
            for i, buffer in self._inputs:
                np.copyto(buffer, arrays[i])
            for function, args in self._calls:
                function(*args)
            return [np.array(arrays[src] if kind == "input" else src, copy=True) for kind, src in self._outputs]

    def _run_on_device(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """Write the inputs, enqueue every kernel's launches, read the outputs back (a read waits
        for the launches before it)."""
        device = self._device
        try:
            for i, buffer in self._inputs:
                device.write(buffer, arrays[i])
            for launcher, buffers in self._calls:
                launcher.launch(buffers)
            return [device.read(*src) if kind == "device"
                    else np.array(arrays[src] if kind == "input" else src, copy=True) for kind, src in self._outputs]
        except self._errors as e:
            raise _fail(self.path, f"the device {self.device_name} failed running the package ({_message(e)})",
                        getattr(e, "hint", None)) from None

    def _check_inputs(self, inputs) -> list[np.ndarray]:
        if len(inputs) != len(self.input_names):
            raise PackageInputError(f"{self.path}: the model takes {len(self.input_names)} inputs, got {len(inputs)}")
        arrays = []
        for name, shape, dtype, value in zip(self.input_names, self.input_shapes, self.input_dtypes, inputs):
            array = np.asarray(value)
            if array.dtype != dtype:
                raise PackageInputError(f"{self.path}: input {name} has dtype {array.dtype}; the model expects {dtype}",
                                        hint=f"convert it with .astype({dtype.name!r})")
            if array.shape != tuple(shape):
                raise PackageInputError(f"{self.path}: input {name} has shape {list(array.shape)}; "
                                        f"the model expects {list(shape)}")
            arrays.append(array)
        return arrays

    def __repr__(self) -> str:
        return (f"<PackagedModel {self.path.name}: {self.num_kernels} kernels for {self.target_name}, "
                f"inputs {self.input_names}>")


def _constants(plan: _Plan, weights: np.ndarray) -> list[np.ndarray]:
    """Each constant: a 64-byte aligned view of the weights mapping."""
    return [weights[o:o + _nbytes(s, d)].view(d).reshape(s) if _nbytes(s, d) else aligned_empty(s, d)
            for o, s, d in plan.constants]


def _kernel_data(package: PackageFile) -> dict:
    """Kernel member name -> its verified bytes."""
    return {n: package.data[n] for n in package.members if n.startswith("kernels/")}


def _device_runtime(path, language: str) -> tuple:
    """(device_plan, the language's runtime: opencl or cuda): lamina's own modules when this one
    is lamina's, else the files beside this one, loaded by path under private names."""
    names = ("device_plan", DEVICE_RUNTIMES[language][0])
    if __name__.startswith("lamina."):
        package = __name__.rpartition(".")[0]
        return tuple(importlib.import_module(f"{package}.{n}") for n in names)
    folder = Path(__file__).resolve().parent
    missing = [f"{n}.py" for n in names if not (folder / f"{n}.py").is_file()]
    if missing:
        raise _fail(path, f"running it on {NEEDS[language]} needs {' and '.join(missing)} beside "
                    f"{Path(__file__).name} (in {folder})", f"copy them from lamina/runtime/ into {folder}")
    with _RUNTIME_LOCK:
        return tuple(_load_by_path(folder / f"{n}.py") for n in names)


def _load_by_path(file: Path):
    """The module in `file` as `_lamina_<its stem>`: the name opencl.py and cuda.py load
    device_plan.py under when they are files themselves, so the process holds one copy."""
    name = f"_lamina_{file.stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up here
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]


def _open_device(path, runtime, language: str):
    """The device a GPU package runs on; without one, a PackageError of one line saying what
    is needed ("m.tar needs an NVIDIA GPU: no CUDA driver (libcuda.so.1) found")."""
    _, device_class, _, error_class = DEVICE_RUNTIMES[language]
    try:
        return getattr(runtime, device_class).get()
    except getattr(runtime, error_class) as e:
        needs = NEEDS[language]
        raise PackageError(f"{path} needs {needs}: {_message(e).removeprefix(f'this needs {needs}: ')}") from None


def _device_plan(device_plan, kernel: dict):
    """A kernel's DevicePlan (runtime/device_plan.py) from its checked JSON and code."""
    plan = device_plan.DevicePlan.from_json({k: v for k, v in kernel.items() if k not in ("binary", "params")})
    plan.binary = kernel["binary"]
    return plan


def _message(e: BaseException) -> str:
    """A device runtime error's own sentence: a LaminaError's message (its str() is rendered,
    "error: ..." and a hint), else the first line of its text."""
    message = getattr(e, "message", None)
    return message.strip().splitlines()[0] if isinstance(message, str) and message.strip() else _first_line(e)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else e.__class__.__name__


def load_package(path, target: str | None = None) -> PackagedModel:
    """The model in the package at `path`, ready to call. With `target`, refuse a package built
    for another target. Raises PackageError (one line naming the file, and a hint) for a damaged,
    unsafe or foreign package; never writes outside its own temporary folder, which it removes."""
    return PackagedModel(path, target)


def inspect_package(path) -> tuple[dict, dict]:
    """(manifest, plan) of a package, checked as `load_package` checks it but not loaded: for a
    package built for another device too."""
    package = PackageFile(path)
    try:
        _Plan(path, package.plan, package.weights.size, _kernel_data(package), package.manifest.get("target"))
        return package.manifest, package.plan
    finally:
        package.close()


# ---------------------------------------------------------------------------------------------
# command line: python package_runner.py PACKAGE [--fill random] [--input NAME=FILE.npy]


def fill(shape, dtype, how: str, seed: int) -> np.ndarray:
    """A generated input, the same values as `lamina run --fill` makes (seed = input index)."""
    dtype = np.dtype(dtype)
    if how == "zeros":
        return np.zeros(shape, dtype)
    if how == "ones":
        return np.ones(shape, dtype)
    rng = np.random.default_rng(seed)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(dtype)
    return rng.integers(0, 10, shape).astype(dtype)


def _inputs_for(model: PackagedModel, given: dict, how: str | None) -> list[np.ndarray]:
    unknown = set(given) - set(model.input_names)
    if unknown:
        raise PackageInputError(f"--input names {', '.join(sorted(unknown))}, which the model does not have",
                                hint=f"its inputs: {', '.join(model.input_names)}")
    inputs = []
    for i, (name, shape, dtype) in enumerate(zip(model.input_names, model.input_shapes, model.input_dtypes)):
        if name in given:
            inputs.append(given[name])
        elif how:
            inputs.append(fill(shape, dtype, how, i))
        else:
            raise PackageInputError(f"no value for input {name} ({dtype} {list(shape)})",
                                    hint="give --input NAME=FILE.npy or --fill random")
    return inputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="package_runner", description="Run a lamina package.")
    parser.add_argument("package")
    parser.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy")
    parser.add_argument("--fill", choices=["random", "zeros", "ones"])
    parser.add_argument("--target", help="refuse a package built for another target")
    parser.add_argument("--save", metavar="FILE.npz", help="write the outputs here (by name)")
    args = parser.parse_args(argv)
    try:
        given = {}
        for spec in args.input:
            name, _, file = spec.partition("=")
            try:
                given[name.lstrip("%")] = np.load(file)
            except (OSError, ValueError) as e:
                raise PackageInputError(f"cannot read --input {spec}: {e}") from None
        model = load_package(args.package, args.target)
        outputs = model(*_inputs_for(model, given, args.fill))
    except LaminaError as e:
        print(e.render(), file=sys.stderr)
        return 1
    runs_on = f"on {model.device_name}" if model.device_name else f"TVM_NUM_THREADS={model.threads}"
    print(f"loaded {args.package}: {model.num_kernels} kernels for {model.target_name} in "
          f"{model.load_seconds:.3f} s, {runs_on}")
    for name, out in zip(model.output_names, outputs):
        with np.errstate(all="ignore"):
            summary = (f"mean {out.mean():.6g} std {out.std():.6g} min {out.min():.6g} max {out.max():.6g}"
                       if out.size and out.dtype.kind in "fiub" else "")
        print(f"output {name}: {out.dtype} {list(out.shape)}  {summary}")
    if args.save:
        try:
            _save_outputs(args.save, dict(zip(model.output_names, outputs)),
                          [args.package, *(spec.partition("=")[2] for spec in args.input)])
        except LaminaError as e:
            print(e.render(), file=sys.stderr)
            return 1
    return 0


def _save_outputs(path: str, arrays: dict, inputs: list[str]) -> None:
    """np.savez to `path` as compiler/files.py writes every -o (this file cannot import it: it
    stands alone): never over one of `inputs` (the package, an --input file), under any name, and
    through a temporary file renamed into place, so a failed write leaves an old file whole."""
    target = os.path.realpath(path)
    for source in inputs:
        if source and (os.path.realpath(source) == target or
                       (os.path.exists(source) and os.path.exists(target) and os.path.samefile(source, target))):
            raise LaminaError(f"refusing to write the outputs over the input file {source}",
                              hint="choose another --save path")
    fd, tmp = tempfile.mkstemp(suffix=".npz", prefix=".lamina-save-", dir=os.path.dirname(target) or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, target)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise LaminaError(f"cannot write {path} ({e.strerror or e})") from None


if __name__ == "__main__":
    sys.exit(main())
