"""Running a compiled model's kernels on a device (OpenCL now; CUDA through the same calls):
what `CompiledModel` does with a GPU target instead of binding TVM tensors.

The compile-time work is the CPU executor's (runtime/executor.py): the same steps, the same
memory plan (its offsets aligned to the target's `buffer_align`), free concats as views. Here the
arena is ONE device allocation and every planned value a sub-buffer of it; each input has a
device buffer of its own; each constant operand is uploaded once (packed first where the kernel
reads a packed layout); each step is a closure that enqueues its kernel's launches. A call
writes the inputs, enqueues every step, and reads the outputs back (the read waits for the
queue). `CompiledModel.trace` and `.profile` work unchanged: they read slots, and `profile`
waits for the device after each step (`sync`).
"""

from __future__ import annotations

import numpy as np


def device_for(language: str):
    """The device that runs kernels of `language` ("opencl"; "cuda" needs an NVIDIA GPU)."""
    if language == "opencl":
        from .opencl import OpenCLDevice

        return OpenCLDevice.get()
    from .cuda import CudaDevice

    return CudaDevice.get()


def kernel_for(plan, device):
    if plan.language == "opencl":
        from .opencl import OpenCLKernel

        return OpenCLKernel(plan, device)
    from .cuda import CudaKernel

    return CudaKernel(plan, device)


class DeviceKernel:
    """A kernel built for a GPU target: its device plan (source, launches), and which operands
    are constant (operand index -> packing function or None), as build.py's
    ConstantOperandsKernel. `function` is None: the executor binds it with `bind_device`."""

    function = None

    def __init__(self, plan, constant: dict | None = None, library=None):
        self.plan = plan
        self.constant = constant or {}
        self.library = library   # the plan's file in the kernel cache
        self._launcher = None

    def launcher(self, device=None):
        if self._launcher is None:
            self._launcher = kernel_for(self.plan, device or device_for(self.plan.language))
        return self._launcher

    def run(self, inputs, output_shapes, output_dtypes):
        """One call with numpy arrays (inputs as the op takes them: a constant operand is packed
        here when the kernel reads it packed); numpy outputs."""
        device = device_for(self.plan.language)
        buffers = self._buffers(device, inputs, output_shapes, output_dtypes)
        self.launcher(device).launch(buffers)
        outs = buffers[len(inputs):]
        return [device.read(b, tuple(s), d) for b, s, d in zip(outs, output_shapes, output_dtypes)]

    def _buffers(self, device, inputs, output_shapes, output_dtypes) -> list:
        """Device buffers for one call: the inputs uploaded (constant operands packed as the
        kernel reads them), then empty outputs."""
        buffers = []
        for i, a in enumerate(inputs):
            pack = self.constant.get(i)
            buffers.append(device.upload(pack(np.asarray(a)) if pack is not None else np.asarray(a)))
        return buffers + [device.buffer(max(int(np.prod(s, dtype=np.int64)) * np.dtype(d).itemsize, 1))
                          for s, d in zip(output_shapes, output_dtypes)]


    def time(self, inputs, output_shapes, output_dtypes, number: int = 10, repeat: int = 3) -> float:
        """Median seconds per call over `repeat` runs of `number` calls, the device finished after
        each run (the inputs uploaded once, before)."""
        import statistics
        import time

        device = device_for(self.plan.language)
        buffers = self._buffers(device, inputs, output_shapes, output_dtypes)
        launcher = self.launcher(device)
        launcher.launch(buffers)
        device.finish()
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            for _ in range(number):
                launcher.launch(buffers)
            device.finish()
            times.append((time.perf_counter() - start) / number)
        return statistics.median(times)


class DeviceSlot:
    """A value in device memory: a sub-buffer of the arena (or an input's own buffer)."""

    __slots__ = ("device", "buffer", "shape", "dtype", "array")

    def __init__(self, device, buffer, shape, dtype):
        self.device, self.buffer, self.shape, self.dtype = device, buffer, tuple(shape), np.dtype(dtype)
        self.array = None  # (the CPU Slot's numpy view; none here)

    def write(self, value: np.ndarray) -> None:
        self.device.write(self.buffer, np.asarray(value, self.dtype))

    def read(self) -> np.ndarray:
        return self.device.read(self.buffer, self.shape, self.dtype)

    def view(self) -> np.ndarray:
        return self.read()


def bind_device(model, buffer_of: dict) -> None:
    """Everything a call of `model` (a CompiledModel for a GPU target) needs, made once: the
    attributes `_bind` makes for the CPU (`_calls`, `_call_ops`, `_slots`, `_inputs`,
    `_outputs`), over device memory."""
    languages = {k.plan.language for _, k, *_ in model.steps if isinstance(k, DeviceKernel)}
    device = device_for(languages.pop() if languages else model.target.device_language)
    if device.align > model.target.buffer_align:
        from lamina.lowering.build import BuildError

        raise BuildError(f"the device {device.name} needs buffers aligned to {device.align} bytes, more than "
                         f"target {model.target.name}'s {model.target.buffer_align}")
    plan = model.memory_plan
    model.device = device
    model.sync = device.finish
    arena = device.arena(plan.arena_bytes)
    slots: dict = {}
    for value, i in buffer_of.items():
        b = plan.buffers[i]
        dtype = np.dtype(value.type.element_type.numpy_dtype)
        slots[value] = DeviceSlot(device, arena.view(b.offset, b.nbytes), value.type.shape, dtype)
    used = {v for op, *_ in model.steps for v in op.operands}
    model._inputs = []
    for i, p in enumerate(model.params):
        if p in used:
            shape, dtype = tuple(p.type.shape), np.dtype(p.type.element_type.numpy_dtype)
            nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            slots[p] = DeviceSlot(device, device.buffer(nbytes), shape, dtype)
            model._inputs.append((i, slots[p]))
    uploaded: dict = {}  # (id of the constant array, packing) -> device buffer
    model._calls, model._call_ops, model._slots = [], [], slots
    for op, kernel, shapes, dtypes in model.steps:
        if not isinstance(kernel, DeviceKernel):
            if all(0 in s for s in shapes):
                continue  # an EmptyKernel: nothing to compute
            raise TypeError(f"{op.name}: a kernel that is not a device kernel on {model.target.name}")
        buffers = []
        for i, v in enumerate(op.operands):
            if v in slots:
                buffers.append(slots[v].buffer)
                continue
            array = model.constants[v]
            pack = kernel.constant.get(i)
            key = (id(array), pack)
            if key not in uploaded:
                uploaded[key] = (device.upload(pack(np.asarray(array)) if pack is not None else np.asarray(array)), array)
            buffers.append(uploaded[key][0])
        buffers += [slots[r].buffer for r in op.results]
        model._calls.append((_step(kernel.launcher(device), buffers), None))
        model._call_ops.append(op)
    model._outputs = model._output_sources(slots)


def _step(launcher, buffers):
    def step():
        launcher.launch(buffers)
    return step
