"""Run device kernels on an OpenCL device with pyopencl: lamina's OpenCL runtime.

The PyPI TVM has no OpenCL runtime, so lamina launches TVM's OpenCL kernels itself from their
launch plans (runtime/device_plan.py). On this machine the device is PoCL's on the CPU (Debian's
`pocl-opencl-icd`); on a phone, the Adreno GPU. No TVM import here: a package runs with numpy
and pyopencl only.

One `OpenCLDevice` per process: its context, its in-order queue, and each program built once
(by its source). A model's buffers are sub-buffers of ONE device arena (`Arena`), at the offsets
of the memory plan, which aligns them to the device's `mem_base_addr_align` (PoCL's 1024 bits:
a sub-buffer at offset 64 fails with MISALIGNED_SUB_BUFFER_OFFSET, 128 works).
"""

from __future__ import annotations

import hashlib
import os

import numpy as np


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


class OpenCLError(DeviceError):
    """No OpenCL device, or one that refuses a program or a buffer: one line that says what
    to do (the CLI prints it and exits 1)."""


def _cl():
    try:
        import pyopencl
    except ImportError:
        raise OpenCLError("running OpenCL kernels needs pyopencl (pip install pyopencl) and an OpenCL "
                          "driver (on Debian: apt-get install pocl-opencl-icd ocl-icd-libopencl1)") from None
    return pyopencl


def missing_reason() -> str | None:
    """Why OpenCL kernels cannot run here (one line), or None when they can."""
    try:
        OpenCLDevice.get()
    except OpenCLError as e:
        return str(e)
    return None


class OpenCLDevice:
    """The OpenCL device kernels run on: LAMINA_OPENCL_DEVICE ("platform:device" indices, or a
    word in the device's name) picks one; else the first GPU, else the first device."""

    _instance: "OpenCLDevice | None" = None

    @classmethod
    def get(cls) -> "OpenCLDevice":
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def __init__(self):
        cl = _cl()
        self.cl = cl
        try:
            devices = [d for p in cl.get_platforms() for d in p.get_devices()]
        except cl.Error:
            devices = []
        if not devices:
            raise OpenCLError("no OpenCL device found (on Debian: apt-get install pocl-opencl-icd "
                              "ocl-icd-libopencl1 gives one on the CPU)")
        self.device = _pick(devices, os.environ.get("LAMINA_OPENCL_DEVICE", ""), cl)
        self.context = cl.Context([self.device])
        self.queue = cl.CommandQueue(self.context)
        self.align = max(int(self.device.mem_base_addr_align) // 8, 1)  # bits -> bytes
        self._programs: dict = {}

    @property
    def name(self) -> str:
        return f"{self.device.name.strip()} ({self.device.platform.name.strip()})"

    def program(self, source: str):
        key = hashlib.sha256(source.encode()).hexdigest()
        if key not in self._programs:
            try:
                self._programs[key] = self.cl.Program(self.context, source).build()
            except self.cl.Error as e:
                raise OpenCLError(f"the OpenCL device refused a kernel: {str(e).strip().splitlines()[0]}") from None
        return self._programs[key]

    def arena(self, nbytes: int) -> "Arena":
        return Arena(self, nbytes)

    def buffer(self, nbytes: int):
        return self.cl.Buffer(self.context, self.cl.mem_flags.READ_WRITE, max(int(nbytes), 1))

    def upload(self, array: np.ndarray):
        """A device buffer holding a copy of `array` (weights: uploaded once)."""
        array = np.ascontiguousarray(array)
        return self.cl.Buffer(self.context, self.cl.mem_flags.READ_ONLY | self.cl.mem_flags.COPY_HOST_PTR,
                              hostbuf=array if array.nbytes else np.zeros(1, np.uint8))

    def write(self, buffer, array: np.ndarray) -> None:
        if array.nbytes:
            self.cl.enqueue_copy(self.queue, buffer, np.ascontiguousarray(array))

    def read(self, buffer, shape, dtype) -> np.ndarray:
        out = np.empty(shape, dtype)
        if out.nbytes:
            self.cl.enqueue_copy(self.queue, out, buffer)  # blocking: waits for the kernels before it
        return out

    def finish(self) -> None:
        self.queue.finish()


def _pick(devices, wanted: str, cl):
    if wanted:
        if ":" in wanted and all(part.isdigit() for part in wanted.split(":")):
            p, d = (int(x) for x in wanted.split(":"))
            platforms = cl.get_platforms()
            if p < len(platforms) and d < len(platforms[p].get_devices()):
                return platforms[p].get_devices()[d]
        for dev in devices:
            if wanted.lower() in dev.name.lower() or wanted.lower() in dev.platform.name.lower():
                return dev
        raise OpenCLError(f"LAMINA_OPENCL_DEVICE={wanted!r} names no OpenCL device; there are: "
                          + ", ".join(d.name.strip() for d in devices))
    gpus = [d for d in devices if d.type & cl.device_type.GPU]
    return (gpus or devices)[0]


class Arena:
    """One device allocation that a model's buffers are sub-buffers of (the memory plan's
    offsets, multiples of the device's alignment)."""

    def __init__(self, device: OpenCLDevice, nbytes: int):
        self.device = device
        self.buffer = device.buffer(nbytes)
        self.nbytes = nbytes
        self._views: dict = {}

    def view(self, offset: int, nbytes: int):
        if offset % self.device.align:
            raise OpenCLError(f"a buffer at byte {offset} of the arena is not aligned to the device's "
                              f"{self.device.align} bytes")
        if offset == 0 and nbytes == self.nbytes:
            return self.buffer
        key = (offset, nbytes)
        if key not in self._views:
            self._views[key] = self.buffer.get_sub_region(offset, max(nbytes, 1))
        return self._views[key]


class OpenCLKernel:
    """A kernel's launches on the device: its program built once, its scratch buffers made once.
    `launch(buffers)` enqueues every device function with `buffers` (cl.Buffer per kernel
    argument: inputs then outputs) in place of its parameters; it does not wait."""

    def __init__(self, plan, device: OpenCLDevice | None = None):
        if plan.language != "opencl":
            raise OpenCLError(f"an OpenCL device cannot run a {plan.language} kernel")
        self.device = device or OpenCLDevice.get()
        self.plan = plan
        program = self.device.program(plan.source)
        self._functions = {name: self.device.cl.Kernel(program, name) for name in plan.functions}
        self._scratch = [self.device.buffer(n) for n in plan.scratch_bytes]
        max_threads = int(self.device.device.max_work_group_size)
        for launch in plan.launches:
            if launch.threads_per_block > max_threads:
                raise OpenCLError(f"{launch.function} needs {launch.threads_per_block} work-items per group; "
                                  f"the device {self.device.name} allows {max_threads}")

    def launch(self, buffers: list) -> None:
        cl = self.device.cl
        for launch in self.plan.launches:
            function = self._functions[launch.function]
            args = []
            for kind, value in launch.args:
                if kind == "param":
                    args.append(buffers[value])
                elif kind == "scratch":
                    args.append(self._scratch[value])
                else:
                    args.append(np.int32(value))
            function.set_args(*args)
            local = launch.block
            global_size = tuple(g * b for g, b in zip(launch.grid, launch.block))
            cl.enqueue_nd_range_kernel(self.device.queue, function, global_size, local)
