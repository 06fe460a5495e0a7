"""Run device kernels on an NVIDIA GPU through the CUDA driver: lamina's CUDA runtime.

The PyPI TVM has no CUDA runtime, so lamina launches TVM's CUDA kernels itself from their launch
plans (runtime/device_plan.py), loading the cubin lowering/cuda_compile.py made (or, with no
cubin, the PTX through the driver's JIT). The interface is runtime/opencl.py's, call for call,
so runtime/device_executor.py runs a model on either. No TVM import here: a package runs with
numpy and cuda-bindings (`cuda.bindings.driver`; `cuda.cuda` in cuda-python before 12.6), or
CuPy where cuda-bindings is absent.

One `CudaDevice` per process: the device's primary context (made current on each thread that
uses it), the modules loaded once (by their image), and every launch on the legacy default
stream, so launches and copies run in the order they were issued, as on OpenCL's in-order
queue, and a read waits for the kernels before it. A model's buffers are ranges of ONE device
allocation (`Arena`) at the memory plan's offsets, aligned to 256 bytes (cudaMalloc's).

A kernel argument is passed as the driver wants it: an array of pointers, one per parameter,
each to the bytes of the value. lamina puts every value in its own 8-byte slot (a device
address; an int32 in the slot's low 4 bytes, which are its first on a little-endian host, as
every CUDA host is), and the parameter's C type, read off the kernel's signature in the source,
says how many bytes the driver copies.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import threading
import weakref

import numpy as np

NO_DRIVER = "this needs an NVIDIA GPU: no CUDA driver (libcuda.so.1) found"
NO_BINDINGS = "running CUDA kernels needs cuda-bindings (pip install cuda-bindings) or CuPy"
ALIGN = 256  # cudaMalloc's alignment; the cuda target's buffer_align


def _device_error():
    """device_plan.DeviceError: imported as lamina.runtime's sibling, or loaded from the file
    beside this one when this module was loaded as a file (a package runner copied alone)."""
    try:
        from .device_plan import DeviceError
    except ImportError:
        import importlib.util
        import sys
        from pathlib import Path

        name = "_lamina_device_plan"
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("device_plan.py"))
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module  # (dataclasses look their module up here)
            spec.loader.exec_module(module)
        DeviceError = sys.modules[name].DeviceError
    return DeviceError


DeviceError = _device_error()


class CudaError(DeviceError):
    """No CUDA driver or GPU, or one that refuses a kernel, a buffer or a launch: one line that
    says what to do (the CLI prints it and exits 1)."""


def missing_reason() -> str | None:
    """Why CUDA kernels cannot run here (one line), or None when they can."""
    try:
        CudaDevice.get()
    except CudaError as e:
        return str(e)
    return None


def _check_driver() -> None:
    """The driver library is there (the bindings would say so less plainly)."""
    for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll"):
        try:
            ctypes.CDLL(name)
            return
        except OSError:
            continue
    raise CudaError(NO_DRIVER)


def _backend(ordinal: int):
    """The driver API through cuda-bindings, else through CuPy."""
    _check_driver()
    try:
        return _Bindings(ordinal)
    except ImportError:
        pass
    try:
        return _CuPy(ordinal)
    except ImportError:
        raise CudaError(NO_BINDINGS) from None


class CudaDevice:
    """The GPU kernels run on: LAMINA_CUDA_DEVICE (an ordinal) picks one, else the first."""

    _instance: "CudaDevice | None" = None

    @classmethod
    def get(cls) -> "CudaDevice":
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def __init__(self, ordinal: int | None = None, backend=None):
        """`backend`: the driver calls to use (the `_Bindings` interface) instead of the GPU's;
        tests pass one that keeps "device" memory on the host."""
        wanted = os.environ.get("LAMINA_CUDA_DEVICE", "0") if ordinal is None else str(ordinal)
        if not wanted.isdigit():
            raise CudaError(f"LAMINA_CUDA_DEVICE={wanted!r} is not a device ordinal (0, 1, ...)")
        self.backend = backend if backend is not None else _backend(int(wanted))
        self.align = ALIGN
        self._modules: dict = {}
        self._thread = threading.local()

    @property
    def name(self) -> str:
        b = self.backend
        return f"{b.name} ({b.arch}, CUDA driver {b.driver_version // 1000}.{b.driver_version % 1000 // 10})"

    @property
    def arch(self) -> str:
        return self.backend.arch

    def current(self):
        """The backend, with the device's context current on this thread (the driver keeps the
        current context per thread; a model may be called from several)."""
        if not getattr(self._thread, "bound", False):
            self.backend.make_current()
            self._thread.bound = True
        return self.backend

    def module(self, image: bytes):
        """The module of a cubin or PTX image, loaded once."""
        key = hashlib.sha256(image).hexdigest()
        if key not in self._modules:
            self._modules[key] = self.current().load_module(image)
        return self._modules[key]

    def arena(self, nbytes: int) -> "Arena":
        return Arena(self, nbytes)

    def buffer(self, nbytes: int) -> "CudaBuffer":
        backend = self.current()
        nbytes = max(int(nbytes), 1)
        buffer = CudaBuffer(backend.alloc(nbytes), nbytes)
        finalizer = weakref.finalize(buffer, _free, backend, buffer.ptr)
        finalizer.atexit = False  # the process's exit frees device memory; the driver may be gone by then
        return buffer

    def upload(self, array: np.ndarray) -> "CudaBuffer":
        """A device buffer holding a copy of `array` (weights: uploaded once)."""
        array = np.ascontiguousarray(array)
        buffer = self.buffer(array.nbytes)
        self.write(buffer, array)
        return buffer

    def write(self, buffer: "CudaBuffer", array: np.ndarray) -> None:
        array = np.ascontiguousarray(array)
        if array.nbytes > buffer.nbytes:
            raise CudaError(f"{array.nbytes} bytes do not fit a device buffer of {buffer.nbytes}")
        if array.nbytes:
            self.current().htod(buffer.ptr, array.ctypes.data, array.nbytes)

    def read(self, buffer: "CudaBuffer", shape, dtype) -> np.ndarray:
        out = np.empty(shape, dtype)
        if out.nbytes > buffer.nbytes:
            raise CudaError(f"reading {out.nbytes} bytes from a device buffer of {buffer.nbytes}")
        if out.nbytes:
            self.current().dtoh(out.ctypes.data, buffer.ptr, out.nbytes)  # waits for the kernels before it
        return out

    def finish(self) -> None:
        self.current().synchronize()


def _free(backend, ptr: int) -> None:
    try:
        backend.free(ptr)
    except Exception:  # a context already torn down: nothing left to free
        pass


class CudaBuffer:
    """A range of device memory: its address `ptr` and size; `owner` keeps the allocation it
    lies in alive (an arena's view holds the arena's buffer)."""

    __slots__ = ("ptr", "nbytes", "owner", "__weakref__")

    def __init__(self, ptr: int, nbytes: int, owner=None):
        self.ptr, self.nbytes, self.owner = int(ptr), int(nbytes), owner

    def __int__(self) -> int:
        return self.ptr

    def __repr__(self) -> str:
        return f"CudaBuffer(0x{self.ptr:x}, {self.nbytes} bytes)"


class Arena:
    """One device allocation that a model's buffers are ranges of (the memory plan's offsets,
    multiples of the device's alignment)."""

    def __init__(self, device: CudaDevice, nbytes: int):
        self.device = device
        self.buffer = device.buffer(nbytes)
        self.nbytes = nbytes

    def view(self, offset: int, nbytes: int) -> CudaBuffer:
        if offset % self.device.align:
            raise CudaError(f"a buffer at byte {offset} of the arena is not aligned to the device's "
                            f"{self.device.align} bytes")
        if offset + nbytes > max(self.nbytes, 1):
            raise CudaError(f"a buffer of {nbytes} bytes at byte {offset} runs past the arena's {self.nbytes}")
        return CudaBuffer(self.buffer.ptr + offset, nbytes, owner=self.buffer)


class CudaKernel:
    """A kernel's launches on the GPU: its module loaded once, its scratch buffers made once.
    `launch(buffers)` issues every device function with `buffers` (CudaBuffer per kernel
    argument: inputs then outputs) in place of its parameters; it does not wait."""

    def __init__(self, plan, device: CudaDevice | None = None):
        if plan.language != "cuda":
            raise CudaError(f"an NVIDIA GPU cannot run a {plan.language} kernel")
        self.device = device or CudaDevice.get()
        self.plan = plan
        module = _load(self.device, plan)
        backend = self.device.current()
        self._functions = {name: backend.function(module, name) for name in plan.functions}
        for launch in plan.launches:
            most = backend.function_max_threads(self._functions[launch.function])
            if launch.threads_per_block > most:
                raise CudaError(f"{launch.function} needs {launch.threads_per_block} threads per block; "
                                f"on {self.device.name} it can have {most}")
        self._scratch = [self.device.buffer(n) for n in plan.scratch_bytes]
        self._types = [_param_types(plan.source, launch) for launch in plan.launches]
        self._arguments: dict = {}  # the buffers' addresses -> each launch's packed arguments

    def launch(self, buffers: list) -> None:
        backend = self.device.current()
        for launch, (_slots, params) in zip(self.plan.launches, self._packed(buffers)):
            backend.launch(self._functions[launch.function], launch.grid, launch.block,
                           launch.dynamic_shared_bytes, params.ctypes.data)

    def _packed(self, buffers: list) -> list:
        """Each launch's argument slots and its array of pointers to them (module docstring),
        made once per set of buffers (a model calls a kernel with the same buffers every time) and
        kept, so they outlive the driver's copy of them."""
        key = tuple(int(b) for b in buffers)
        if key not in self._arguments:
            if len(self._arguments) > 64:
                self._arguments.clear()
            self._arguments[key] = [_pack(launch.args, types, buffers, self._scratch)
                                    for launch, types in zip(self.plan.launches, self._types)]
        return self._arguments[key]


def _load(device: CudaDevice, plan):
    """The plan's module: its cubin, else (or when the driver refuses the cubin) its PTX."""
    images = [("cubin", plan.binary)] if plan.binary else []
    if plan.ptx:
        images.append(("PTX", plan.ptx.encode() + b"\0"))
    if not images:
        raise CudaError("the kernel has no cubin or PTX: compile its plan first (lowering/cuda_compile.py)")
    refused = []
    for what, image in images:
        try:
            return device.module(image)
        except CudaError as e:
            refused.append(f"its {what}: {e}")
    raise CudaError(f"{device.name} refused the kernel built for {plan.arch or 'an unknown arch'}; "
                    + "; ".join(refused))


_SCALAR_TYPES = {"int": "i32", "int32_t": "i32", "unsigned": "i32", "unsigned int": "i32", "uint": "i32",
                 "uint32_t": "i32", "int64_t": "i64", "long long": "i64", "uint64_t": "i64", "float": "f32",
                 "double": "f64"}


def _param_types(source: str, launch) -> list[str]:
    """Each parameter's kind in the kernel's signature: "ptr", "i32", "i64", "f32" or "f64";
    where the signature is not found, pointers for buffers and int32 for ("int", v) args."""
    match = re.search(r"__global__\s+void\s+(?:__launch_bounds__\([^)]*\)\s*)?" + re.escape(launch.function)
                      + r"\s*\(([^)]*)\)", source)
    default = ["i32" if kind == "int" else "ptr" for kind, _ in launch.args]
    if not match:
        return default
    params = [p.strip() for p in match.group(1).split(",") if p.strip()]
    if len(params) != len(launch.args):
        raise CudaError(f"{launch.function} takes {len(params)} arguments; its launch passes {len(launch.args)}")
    types = []
    for p, fallback in zip(params, default):
        if "*" in p:
            types.append("ptr")
            continue
        words = " ".join(w for w in p.split()[:-1] if w not in ("const", "__restrict__"))
        types.append(_SCALAR_TYPES.get(words, fallback))
    return types


# how a value of each parameter kind sits in its 8-byte slot (a 4-byte one in the first half)
_SLOT_VIEWS = {"ptr": np.uint64, "i64": np.int64, "i32": np.int32, "f32": np.float32, "f64": np.float64}


def _pack(args, types: list[str], buffers: list, scratch: list) -> tuple[np.ndarray, np.ndarray]:
    """(the argument slots, the array of their addresses) of one launch."""
    slots = np.zeros(max(len(args), 1), np.int64)
    for i, ((kind, value), kind_of_param) in enumerate(zip(args, types)):
        if kind == "param":
            value = int(buffers[value])
        elif kind == "scratch":
            value = int(scratch[value])
        slot = slots[i:i + 1].view(_SLOT_VIEWS[kind_of_param])
        slot[0] = value
    params = slots.ctypes.data + 8 * np.arange(len(slots), dtype=np.uint64)
    return slots, params


# ---------------------------------------------------------------------------------------------
# the driver API, two ways: the same few calls on cuda-bindings and on CuPy

class _Bindings:
    """The driver API through cuda-bindings: each call returns (CUresult, results...)."""

    def __init__(self, ordinal: int):
        try:
            from cuda.bindings import driver
        except ImportError:
            from cuda import cuda as driver  # cuda-python before 12.6
        self.cu = driver
        try:
            init = driver.cuInit(0)
        except Exception as e:  # the bindings could not load libcuda after all
            raise CudaError(f"{NO_DRIVER}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        if init[0] == driver.CUresult.CUDA_ERROR_NO_DEVICE:
            raise CudaError("this needs an NVIDIA GPU: the CUDA driver found none")
        self._check(init[0], "cuInit")
        count = self._call("cuDeviceGetCount")
        if ordinal >= count:
            raise CudaError(f"this needs an NVIDIA GPU: device {ordinal} asked for, {count} found")
        self.device = self._call("cuDeviceGet", ordinal)
        self.context = self._call("cuDevicePrimaryCtxRetain", self.device)
        self.make_current()
        self.name = self._call("cuDeviceGetName", 256, self.device).split(b"\0")[0].decode(errors="replace")
        self.driver_version = self._call("cuDriverGetVersion")
        attribute = driver.CUdevice_attribute
        major = self._call("cuDeviceGetAttribute", attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, self.device)
        minor = self._call("cuDeviceGetAttribute", attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, self.device)
        self.arch = f"sm_{major}{minor}"

    def _check(self, result, call: str) -> None:
        if result != self.cu.CUresult.CUDA_SUCCESS:
            err, name = self.cu.cuGetErrorName(result)
            raise CudaError(f"{call} failed: {name.decode() if err == self.cu.CUresult.CUDA_SUCCESS else result}")

    def _call(self, call: str, *args):
        result, *values = getattr(self.cu, call)(*args)
        self._check(result, call)
        return values[0] if len(values) == 1 else values

    def make_current(self) -> None:
        self._call("cuCtxSetCurrent", self.context)

    def alloc(self, nbytes: int) -> int:
        return int(self._call("cuMemAlloc", nbytes))

    def free(self, ptr: int) -> None:
        self._call("cuMemFree", self.cu.CUdeviceptr(ptr))

    def htod(self, ptr: int, host: int, nbytes: int) -> None:
        self._call("cuMemcpyHtoD", self.cu.CUdeviceptr(ptr), host, nbytes)

    def dtoh(self, host: int, ptr: int, nbytes: int) -> None:
        self._call("cuMemcpyDtoH", host, self.cu.CUdeviceptr(ptr), nbytes)

    def load_module(self, image: bytes):
        return self._call("cuModuleLoadData", image)

    def function(self, module, name: str):
        return self._call("cuModuleGetFunction", module, name.encode())

    def function_max_threads(self, function) -> int:
        attribute = self.cu.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK
        return int(self._call("cuFuncGetAttribute", attribute, function))

    def launch(self, function, grid, block, shared: int, params: int) -> None:
        self._call("cuLaunchKernel", function, *grid, *block, shared, self.cu.CUstream(0), params, 0)

    def synchronize(self) -> None:
        self._call("cuCtxSynchronize")


class _CuPy:
    """The same calls through CuPy (its runtime API for memory, its driver API for modules)."""

    def __init__(self, ordinal: int):
        from cupy.cuda import driver, runtime

        self.driver, self.runtime, self.ordinal = driver, runtime, ordinal
        self._errors = (driver.CUDADriverError, runtime.CUDARuntimeError)
        try:
            count = runtime.getDeviceCount()
        except self._errors as e:
            raise CudaError(f"this needs an NVIDIA GPU: {e}") from None
        if ordinal >= count:
            raise CudaError(f"this needs an NVIDIA GPU: device {ordinal} asked for, {count} found")
        self.make_current()
        props = self._call(runtime.getDeviceProperties, ordinal)
        name = props["name"]
        self.name = name.decode(errors="replace") if isinstance(name, bytes) else str(name)
        self.arch = f"sm_{props['major']}{props['minor']}"
        self.driver_version = self._call(runtime.driverGetVersion)

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except self._errors as e:
            raise CudaError(f"{getattr(fn, '__name__', 'CUDA')} failed: {e}") from None

    def make_current(self) -> None:
        self._call(self.runtime.setDevice, self.ordinal)
        self._call(self.runtime.free, self._call(self.runtime.malloc, 1))  # makes the primary context

    def alloc(self, nbytes: int) -> int:
        return int(self._call(self.runtime.malloc, nbytes))

    def free(self, ptr: int) -> None:
        self._call(self.runtime.free, ptr)

    def htod(self, ptr: int, host: int, nbytes: int) -> None:
        self._call(self.runtime.memcpy, ptr, host, nbytes, self.runtime.memcpyHostToDevice)

    def dtoh(self, host: int, ptr: int, nbytes: int) -> None:
        self._call(self.runtime.memcpy, host, ptr, nbytes, self.runtime.memcpyDeviceToHost)

    def load_module(self, image: bytes):
        return self._call(self.driver.moduleLoadData, bytes(image))

    def function(self, module, name: str):
        return self._call(self.driver.moduleGetFunction, module, name)

    def function_max_threads(self, function) -> int:
        return int(self._call(self.driver.funcGetAttribute, 0, function))  # CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK

    def launch(self, function, grid, block, shared: int, params: int) -> None:
        self._call(self.driver.launchKernel, function, *grid, *block, shared, 0, params, 0)

    def synchronize(self) -> None:
        self._call(self.runtime.deviceSynchronize)
