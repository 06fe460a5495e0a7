"""Build a scheduled kernel for a GPU target: device source and launch plan (runtime/device_plan.py).

TVM's `tvm.compile` for a GPU target makes a host module that would launch the device code
through TVM's GPU runtime, which the PyPI wheel does not have. So lamina runs TVM's own lowering
(tvm/s_tir/pipeline.py, the passes up to `SplitHostDevice`) and reads the launch plan off the
host function it leaves: one `call_ffi_kernel(name, args..., grid and block extents)` per device
function, in order, with the intermediate buffers it allocates. The device functions go on
through TVM's device finalisation and code generator alone (`target.build.opencl` /
`target.build.cuda`), so the source and the plan come from the same lowering.

Here, too, lamina checks what TVM does not (measured: a 2048-thread block builds for adreno,
whose limit is 256; a kernel with no loop bound to threads becomes host code with no device
function): threads per block and shared memory per block against the target registry's limits,
and a kernel whose loops run on the host is refused.
"""

from __future__ import annotations

import re

import numpy as np

from lamina.runtime.device_plan import DevicePlan, Launch

from . import tvm_adapter as tvm_a
from .build import BuildError

tvm = tvm_a.tvm
tir = tvm_a.tir


def _lowering_passes(target):
    """tvm/s_tir/pipeline.py's default pipeline up to SplitHostDevice (its order, its passes; the
    optional ones at their defaults). The adreno pipeline TVM would pick for opencl-adreno fails
    to build in 0.27 (../shared/docs/tvm-0.27-notes.md), so every GPU target takes this one."""
    from tvm import s_tir as st

    return [
        tir.transform.BindTarget(target),
        st.transform.CanonicalizeLoop(), st.transform.LowerCrossThreadReduction(), st.transform.LowerInitBlock(),
        st.transform.PlanAndUpdateBufferAllocationLocation(), st.transform.ConvertBlocksToOpaque(),
        st.transform.LiftThreadBinding(), st.transform.ManifestSharedMemoryLocalStage(),
        st.transform.CompactBufferAllocation(), st.transform.LowerAutoCopy(), st.transform.UnifyThreadBinding(),
        st.transform.LowerMatchBuffer(), st.transform.StmtSimplify(), st.transform.InjectPermutedLayout(),
        st.transform.AnnotateIrregularLoop(), st.transform.InjectSoftwarePipeline(),
        st.transform.TransformMmaBufferLayout(), st.transform.LowerOpaqueBlock(), tir.transform.FlattenBuffer(),
        tir.transform.BF16ComputeLegalize(), tir.transform.NarrowDataType(32), st.transform.LoopPartition(),
        tir.transform.VectorizeLoop(True), st.transform.InjectVirtualThread(), st.transform.InjectDoubleBuffer(),
        tir.transform.StorageRewrite(), st.transform.HoistIfThenElse(), tir.transform.UnrollLoop(),
        st.transform.RenormalizeSplitPattern(), tir.transform.StmtSimplify(), tir.transform.RemoveNoOp(),
        st.transform.RewriteUnsafeSelect(), tir.transform.CommonSubexprElim(),
        tir.transform.FP8ComputeLegalize(), tir.transform.VerifyMemory(), tir.transform.AnnotateEntryFunc(),
        st.transform.ThreadSync("shared"), st.transform.ThreadSync("shared.dyn"), st.transform.ThreadSync("warp"),
        st.transform.InferFragment(), st.transform.LowerThreadAllreduce(),
        st.transform.MergeSharedMemoryAllocations(), tir.transform.SplitHostDevice(),
    ]


def _device_passes():
    """What tvm.tirx.build does to device functions after the pipeline (storage legalisation,
    then finalize_device_passes) before their code generator."""
    return [tir.transform.FP8StorageLegalize(), tir.transform.BF16StorageLegalize(),
            tir.transform.LowerWarpMemory(), tir.transform.StmtSimplify(), tir.transform.LowerIntrin()]


def build_device_kernel(scheduled_module, target, kernel: str = "kernel") -> DevicePlan:
    """The device source and launch plan of a scheduled kernel (one PrimFunc `main`) for
    `target` (a lowering.targets.Target of the gpu family). Raises BuildError naming `kernel`
    when the kernel breaks the target's limits or leaves loops on the host."""
    tvm_target = target.tvm_target()
    try:
        lowered = tvm.ir.transform.Sequential(_lowering_passes(tvm_target))(scheduled_module)
    except Exception as e:  # TVM's own error types
        message = tvm_a._tvm_message(e)
        hint = None
        if "bind" in message.lower() or "memory" in message.lower():
            hint = "every loop of a GPU kernel must be bound to blockIdx / threadIdx (sched.bind)"
        raise BuildError(f"kernel @{kernel} does not lower for {target.name}: {message}", hint=hint) from None
    host = lowered["main"]
    launches, scratch = _launch_plan(host, kernel, target)
    device = tvm.IRModule({gv: f for gv, f in lowered.functions.items() if gv.name_hint != "main"})
    device = tvm.ir.transform.Sequential(_device_passes())(device)
    shared = {gv.name_hint: _shared_bytes(f.body) for gv, f in device.functions.items()}
    _check_limits(launches, shared, target, kernel)
    device_target = next(iter(device.functions.values())).attrs["target"]
    source = tvm.get_global_func("target.build." + device_target.kind.name)(device, device_target).inspect_source()
    language = "cuda" if device_target.kind.name == "cuda" else "opencl"
    if language == "opencl":
        source = exact_float_literals(source, device.script(), kernel)
    resources = {name: {"shared_bytes": n} for name, n in shared.items()}
    return DevicePlan(language, source, launches, scratch, resources)


# TVM 0.27's C and OpenCL code generators print a float constant with 7 significant digits
# (`std::scientific`), which is not enough for every float32 (9 are): 4/3 becomes 1.333333e+00f,
# and resize's align_corners index floor(3 * 1.333333f) is 3 where numpy's is 4 (measured on
# PoCL). The CUDA generator prints hexadecimal floats, exact. The TVMScript of the same module
# has each constant whole, so lamina puts back, as a hexadecimal float literal (C99, OpenCL C),
# each constant that the 7 digits do not give back.
_SCRIPT_FLOAT = re.compile(r"T\.float32\((-?[0-9.e+-]+|-?inf|nan)\)")
_PRINTED_FLOAT = re.compile(r"(?<![\w.])(\d\.\d{6}e[+-]\d{2,3})f\b")


def exact_float_literals(source: str, script: str, kernel: str = "kernel") -> str:
    """`source` (OpenCL C from TVM) with each float literal that TVM printed too short replaced
    by the exact float32 of the constant in `script` (the device module's TVMScript) it came
    from. Two constants printed alike that are different float32s are a BuildError."""
    exact: dict[str, np.float32] = {}
    for text in set(_SCRIPT_FLOAT.findall(script)):
        value = abs(float(text))
        if not np.isfinite(value):
            continue
        printed = f"{value:.6e}"
        want = np.float32(value)
        if np.float32(printed) == want:
            continue
        if printed in exact and exact[printed] != want:
            raise BuildError(f"kernel @{kernel}: two float constants print as {printed} in TVM's OpenCL source",
                             hint="TVM prints 7 significant digits; lamina cannot tell them apart")
        exact[printed] = want
    if not exact:
        return source
    return _PRINTED_FLOAT.sub(lambda m: f"{float(exact[m.group(1)]).hex()}f" if m.group(1) in exact else m.group(0),
                              source)


def _launch_plan(host, kernel: str, target) -> tuple[list[Launch], list[int]]:
    """The launches in the host function's body, in order, and the bytes of each scratch buffer
    it allocates. Anything else in the body (a loop, a condition) is code that would run on the
    host between launches: refused, as its loops are not bound."""
    params = list(host.params)
    names: list = []      # (tvm Var of a buffer, ("param", i) | ("scratch", j))
    scratch: list[int] = []

    def resolve(var):
        for i, p in enumerate(params):
            if var.same_as(p):
                return ("param", i)
        for v, where in names:
            if var.same_as(v):
                return where
        raise BuildError(f"kernel @{kernel}: a launch reads a buffer lamina cannot place ({var})")

    launches = []
    for stmt in _flat(host.body):
        kind = type(stmt).__name__
        if kind == "AllocBuffer":
            buf = stmt.buffer
            size = int(np.prod([int(d) for d in buf.shape], dtype=np.int64)) * np.dtype(str(buf.dtype)).itemsize
            names.append((buf, ("scratch", len(scratch))))
            scratch.append(size)
        elif kind == "DeclBuffer":
            data = stmt.data
            source = data.args[0] if hasattr(data, "args") and data.args else data
            if int(getattr(stmt.buffer, "elem_offset", 0) or 0):
                raise BuildError(f"kernel @{kernel}: a buffer view at an offset is not supported on {target.name}")
            names.append((stmt.buffer, resolve(source)))
        elif kind == "Evaluate" and getattr(getattr(stmt.value, "op", None), "name", "") == "tirx.call_ffi_kernel":
            launches.append(_launch(stmt.value, resolve))
        elif kind == "Evaluate" and isinstance(getattr(stmt.value, "value", None), int):
            continue  # a no-op
        else:
            raise BuildError(f"kernel @{kernel} leaves code on the host ({kind}): a loop not bound to GPU threads",
                             hint="bind every loop nest's outer loops to blockIdx and threadIdx (sched.bind)")
    if not launches:
        raise BuildError(f"kernel @{kernel} has no device code for {target.name}: no loop is bound to GPU threads",
                         hint="bind the kernel's outer loops to blockIdx.x and threadIdx.x (sched.bind)")
    return launches, scratch


def _flat(stmt):
    """The statements of the host body in order (SeqStmt flattened; 0.27 writes allocations and
    declarations as statements of the sequence, not as scopes)."""
    kind = type(stmt).__name__
    if kind == "SeqStmt":
        for s in stmt.seq:
            yield from _flat(s)
    else:
        yield stmt


def _launch(call, resolve) -> Launch:
    args = list(call.args)
    name = str(args[0].value)
    params = [str(p) for p in call.attrs.launch_params]
    n_launch = len(params)
    values, extents = args[1:len(args) - n_launch], args[len(args) - n_launch:]
    grid, block, dyn = [1, 1, 1], [1, 1, 1], 0
    for tag, extent in zip(params, extents):
        if tag.startswith("blockIdx."):
            grid["xyz".index(tag[-1])] = int(extent)
        elif tag.startswith("threadIdx."):
            block["xyz".index(tag[-1])] = int(extent)
        elif tag == "tirx.use_dyn_shared_memory":
            dyn = int(extent)
    out = []
    for v in values:
        if getattr(getattr(v, "op", None), "name", "") == "tirx.buffer_data":
            out.append(resolve(v.args[0]))
        elif hasattr(v, "value"):
            out.append(("int", int(v.value)))
        else:
            out.append(resolve(v))
    return Launch(name, tuple(out), tuple(grid), tuple(block), dyn)


def _shared_bytes(stmt) -> int:
    """Bytes of shared (OpenCL: local) memory a device function allocates."""
    total = 0

    def visit(s):
        nonlocal total
        kind = type(s).__name__
        if kind == "AllocBuffer" and str(s.buffer.scope()).startswith("shared"):
            total += int(np.prod([int(d) for d in s.buffer.shape], dtype=np.int64)) * _dtype_bytes(s.buffer.dtype)
        for child in _children(s):
            visit(child)
    visit(stmt)
    return total


def _dtype_bytes(dtype) -> int:
    """Bytes of one element of a TVM dtype, vector types too ("float32x4": 16)."""
    base, _, lanes = str(dtype).partition("x")
    return np.dtype(base).itemsize * (int(lanes) if lanes else 1)


def _children(s):
    """The statements directly inside `s` (bodies and branches; expressions are not visited)."""
    if type(s).__name__ == "SeqStmt":
        return list(s.seq)
    return [c for c in (getattr(s, name, None) for name in ("body", "then_case", "else_case")) if c is not None]


def _check_limits(launches, shared: dict, target, kernel: str) -> None:
    for launch in launches:
        if launch.threads_per_block > target.max_threads_per_block:
            raise BuildError(f"kernel @{kernel}: {launch.function} runs {launch.threads_per_block} threads per block, "
                             f"over {target.name}'s limit of {target.max_threads_per_block}",
                             hint="split the loops bound to threadIdx by a smaller factor")
        used = shared.get(launch.function, 0) + launch.dynamic_shared_bytes
        if used > target.max_shared_memory_per_block:
            raise BuildError(f"kernel @{kernel}: {launch.function} uses {used} bytes of shared memory per block, "
                             f"over {target.name}'s limit of {target.max_shared_memory_per_block}",
                             hint="stage a smaller tile in shared memory")
