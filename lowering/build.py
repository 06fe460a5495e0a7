"""Build one op, or one fused group of ops (`nn.fused`), into a kernel: TE computes (lowering/te)
-> one PrimFunc -> a schedule program (lowering/schedules/, or one the user wrote) applied to it
-> compile for a target (lowering/targets.py).

Kernels are cached on disk by a hash of the scheduled kernel's TVMScript, the target, TVM's
version and `BUILD_REVISION`, so a second compile of the same model (or the same layer shape
twice in one model) is a file load.
The cache lives in $LAMINA_CACHE_DIR, else ~/.cache/lamina/kernels; lowering/kernel_cache.py
checks each entry (its content hash, who could have written it) before it is loaded.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lamina.compiler.errors import LaminaError
from lamina.compiler.ir import BlockArgument, OpResult, Operation
from lamina.compiler.opdef import ConstantLike

from . import kernel_cache
from . import tvm_adapter as tvm
from . import targets
from .kernel_cache import cache_dir  # noqa: F401 (the cache folder, for callers of this module)
from .te import COMPUTES, LoweringError, dtype_of
from .te.common import attr, compute_knobs, knob
from .te.conv import conv2d_in_place, group_padded_channels, pack_block, packs_weight
from .te.linalg import PACK_MIN_ROWS, vector_width
from .te import winograd


class BuildError(LaminaError):
    """An op that cannot be lowered or built for the target."""


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
    library: Path | None = None  # the compiled kernel's file in the kernel cache (a package copies it)
    scheduled: "ScheduledKernel | None" = None  # its schedule program and modules
    name: str = "kernel"

    @property
    def generator(self) -> str | None:
        """The schedule generator that wrote its schedule ("conv_schedule", ...; "file" for a
        user's schedule file), None for a kernel without one (nothing to compute)."""
        return self.scheduled.generator if self.scheduled is not None else None


def is_constant(value, depth: int = 8) -> bool:
    """Whether `value` is known before any input arrives: a constant, or computed from constants
    only (the executor evaluates those once, at compile time)."""
    if not isinstance(value, OpResult):
        return False
    op = value.owner
    if op.has_trait(ConstantLike):
        return True
    return depth > 0 and bool(op.operands) and not op.regions and all(
        is_constant(v, depth - 1) for v in op.operands)


@dataclass
class Prepack:
    """Operand `index` is a constant weight that the kernel reads in the packed layout of its
    compute (te/linalg.py `pack_b`, te/conv.py `pack_w`): packed once with numpy, not per call."""

    index: int
    shape: tuple
    pack: object  # numpy array -> packed numpy array
    layout: str = "packed"  # the placeholder is in<index>_<layout>: "packed", or "winograd" (te/winograd.py)


def prepack_for(op: Operation) -> tuple[Prepack, ...]:
    """The packings of the constant weights of `op` (or of a fused group's anchors), where its
    compute would pack them in the kernel: the weight is the op's operand 1, or for a group the
    group operand that feeds an anchor's operand 1 and nothing else. (A depthwise conv reads its
    weight as it is.) In the anchors' order, as their computes ask for their packing knobs."""
    if op.name == "nn.fused":
        anchors = [inner for inner in op.inner_ops if inner.name in ("nn.conv2d", "nn.matmul", "nn.gemm")]
        if len(anchors) > 1:  # (asking _weight_packing here would take its compute knob twice)
            anchors = [a for a in anchors if not _depthwise_like(a)]
        weights = []
        for anchor in anchors:
            weight = anchor.operands[1] if len(anchor.operands) >= 2 else None
            if not isinstance(weight, BlockArgument) or weight.block is not op.block or len(weight.uses) != 1:
                return ()  # (all or none: the packing knobs are named in the anchors' order)
            weights.append((anchor, weight.index))
    elif len(op.operands) >= 2:
        weights = [(op, 1)]
    else:
        return ()
    if not weights or not all(is_constant(op.operands[index]) for _, index in weights):
        return ()
    packings = [(index, _weight_packing(anchor)) for anchor, index in weights]
    return tuple(Prepack(index, *packing) for index, packing in packings if packing is not None)


def _depthwise_like(op: Operation) -> bool:
    """A conv2d whose compute reads its weight as it is (one input channel per group)."""
    shape = getattr(op.operands[1].type, "shape", ()) if len(op.operands) > 1 else ()
    return op.name == "nn.conv2d" and len(shape) == 4 and not packs_weight(attr(op, "group", 1), int(shape[1]))


def _weight_packing(op: Operation):
    """(packed shape, numpy packing function[, Prepack layout]) of operand 1 of a conv2d / matmul
    / gemm whose compute packs it (te/conv.py `pack_w`, te/linalg.py `pack_b`, te/winograd.py
    `pack_weight`), else None."""
    shapes = [tuple(int(d) for d in getattr(v.type, "shape", ())) for v in op.operands]
    group = attr(op, "group", 1)
    m = winograd.winograd_tile(op) if op.name == "nn.conv2d" else 0
    if m:  # (te/winograd.py: the weight transformed to Winograd's domain, in blocks of output channels)
        o, c = shapes[1][:2]
        return winograd.packed_weight_shape(o, c, m), lambda w: winograd.pack_weight(w, m), "winograd"
    if op.name == "nn.conv2d" and len(shapes[1]) == 4 and packs_weight(group, shapes[1][1]) \
            and attr(op, "weight_layout", "OIHW") == "OIHW":
        o, c, kh, kw = shapes[1]
        ob = pack_block(op, o, c, kh, kw)
        op_ = group_padded_channels(o, group, ob)  # zero weights for the channels of each group's padded last block

        def pack(w):
            per_group = w.reshape(group, o // group, c, kh, kw)
            pad = np.zeros((group, op_ // group - o // group, c, kh, kw), w.dtype)
            w = np.concatenate([per_group, pad], axis=1).reshape(op_, c, kh, kw)
            return np.ascontiguousarray(w.reshape(op_ // ob, ob, c, kh, kw).transpose(0, 2, 3, 4, 1))
        return (op_ // ob, c, kh, kw, ob), pack
    if op.name == "nn.matmul" and len(shapes[0]) >= 2 and len(shapes[1]) == 2 and shapes[0][-2] >= PACK_MIN_ROWS:
        k, n = shapes[1]
        nv = knob("pack_nv", vector_width(n), n, "columns of B")
        return (n // nv, k, nv), lambda b: np.ascontiguousarray(b.reshape(k, n // nv, nv).transpose(1, 0, 2))
    if op.name == "nn.gemm" and len(shapes[0]) == 2 and len(shapes[1]) == 2:
        ta, tb = bool(attr(op, "trans_a", 0)), bool(attr(op, "trans_b", 0))
        m = shapes[0][1] if ta else shapes[0][0]
        if not (tb or m >= PACK_MIN_ROWS):
            return None
        n, k = shapes[1] if tb else shapes[1][::-1]
        nv = knob("pack_nv", vector_width(n), n, "columns of B")
        if tb:
            return (n // nv, k, nv), lambda b: np.ascontiguousarray(b.reshape(n // nv, nv, k).transpose(0, 2, 1))
        return (n // nv, k, nv), lambda b: np.ascontiguousarray(b.reshape(k, n // nv, nv).transpose(1, 0, 2))
    return None


# Bumped when lamina builds the same scheduled kernel differently (a fix after TVM's code
# generator, a change to a package's files), so that no kernel built the old way is loaded again.
# 2: OpenCL float literals printed exactly (device_build.exact_float_literals).
BUILD_REVISION = 2

ALIGN = 64  # TVM kernels take buffers aligned to 64 bytes (from_dlpack checks it)


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
    allocated memory before and after it (see GUARD_BYTES)."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    buf = np.empty(GUARD_BYTES + nbytes + ALIGN + GUARD_BYTES, np.uint8)
    off = GUARD_BYTES + (-(buf.ctypes.data + GUARD_BYTES)) % ALIGN
    return buf[off:off + nbytes].view(dtype).reshape(shape)


class ConstantOperandsKernel:
    """A built kernel called with numpy arrays, without copies where it can:

    - constant operands (weights) become device tensors once, packed first when the compute
      reads a packed layout (`Prepack`), and are reused while the same array object comes (the
      executor hands the same constant array on every call);
    - other operands that are C-contiguous, writeable and 64-byte aligned (outputs of earlier
      kernels are) are passed by DLPack, without a copy; the rest are copied, as `Kernel.run` does;
    - outputs are aligned numpy arrays that the kernel writes into (no copy back)."""

    def __init__(self, kernel, constant: dict, library: Path | None = None):
        self.kernel = kernel
        self.library = library    # the kernel's shared library in the kernel cache
        self.constant = constant  # operand index -> packing function or None
        self._source: dict = {}   # index -> the array last seen (held, so its id stays unique)
        self._tensor: dict = {}   # index -> its device tensor
        self._function = None

    @property
    def function(self):
        """The compiled entry point, looked up once (the executor calls it with prebuilt
        argument lists: inputs, then outputs, as device tensors)."""
        if self._function is None:
            self._function = self.kernel.module[self.kernel.entry]
        return self._function

    def constant_argument(self, index: int, array):
        """Constant operand `index` as the device tensor the kernel reads (packed first when
        the compute reads a packed layout); made once per array object."""
        if self._source.get(index) is not array:
            pack = self.constant[index]
            host = pack(np.asarray(array)) if pack is not None else np.asarray(array, order="C")
            self._tensor[index] = tvm.device_tensor(host)
            self._source[index] = array
        return self._tensor[index]

    @staticmethod
    def _view(a):
        """`a` as a device tensor sharing its memory, or None when it cannot be shared."""
        if (isinstance(a, np.ndarray) and a.size and a.dtype != np.bool_ and a.flags.c_contiguous
                and a.flags.writeable and a.ctypes.data % ALIGN == 0):
            try:
                return tvm.shared_tensor(a)
            except Exception:
                return None
        return None

    def _args(self, inputs):
        args = []
        for i, a in enumerate(inputs):
            if i not in self.constant:
                t = self._view(a)
                args.append(t if t is not None else tvm.device_tensor(a))
                continue
            args.append(self.constant_argument(i, a))
        return args

    def _outs(self, output_shapes, output_dtypes):
        arrays, tensors = [], []
        for s, d in zip(output_shapes, output_dtypes):
            arr = aligned_empty(tuple(s), d)
            t = self._view(arr)
            if t is None:
                arr, t = None, tvm.empty_tensor(s, d)
            arrays.append(arr)
            tensors.append(t)
        return arrays, tensors

    def run(self, inputs, output_shapes, output_dtypes):
        args = self._args(inputs)
        arrays, outs = self._outs(output_shapes, output_dtypes)
        self.function(*args, *outs)
        return [a if a is not None else t.numpy() for a, t in zip(arrays, outs)]

    def time(self, inputs, output_shapes, output_dtypes, number: int = 10, repeat: int = 3) -> float:
        args = [*self._args(inputs), *self._outs(output_shapes, output_dtypes)[1]]
        return tvm.median_seconds(self.kernel.module, self.kernel.entry, args, number, repeat)


def lower_op(op: Operation, prepacks: tuple[Prepack, ...] = ()):
    """The op's IRModule (one PrimFunc), ready to schedule. Each operand of `prepacks` is a
    placeholder of the packed layout (named in<i>_packed, or in<i>_winograd; the compute reads it as its packed
    weight). An `nn.fused` group lowers all its ops into the one PrimFunc (`lower_group`)."""
    inputs = _placeholders(op, prepacks)
    if op.name == "nn.fused":
        return lower_group(op, inputs)
    return tvm.prim_func(inputs, _apply_compute(op, inputs))


def lower_group(group: Operation, inputs: list):
    """A fused group as ONE PrimFunc: its block arguments are the placeholders `inputs`, each
    inner op's compute (COMPUTES) is applied to the TE tensors of its operands, and the yielded
    tensors are the outputs. The blocks of the inner ops keep their compute names (TVM makes
    repeated names unique: add, add_1, ...); the schedule inlines what it can (schedules/cpu.py)."""
    tensors = dict(zip(group.block.args, inputs))
    in_place = _strided_depthwise_after_pointwise(group)
    for inner in group.inner_ops:
        compute = conv2d_in_place if inner is in_place else None
        tensors.update(zip(inner.results, _apply_compute(inner, [tensors[v] for v in inner.operands], compute)))
    # a yielded block argument (left by a rewrite inside the group) is an output all the same: copy it
    yielded = [_copy(tensors[v]) if isinstance(v, BlockArgument) else tensors[v]
               for v in group.block.last_op.operands]
    return tvm.prim_func(inputs, yielded)


def _strided_depthwise_after_pointwise(group: Operation):
    """The strided depthwise conv of a group that holds a 1x1 conv and the depthwise conv that
    reads it (compiler/passes/fuse.py `pointwise_depthwise_fits`), else None: its compute reads
    the 1x1 conv's result in place (te/conv.py `conv2d_in_place`), which the schedule lays out
    channels innermost (schedules/fused_conv.py)."""
    from lamina.compiler.passes.fuse import pointwise_depthwise_fits

    convs = [op for op in group.inner_ops if op.name == "nn.conv2d"]
    if len(convs) == 2 and pointwise_depthwise_fits(*convs):
        return convs[1]
    return None


def _copy(t):
    return tvm.te.compute(t.shape, lambda *i: t[i], name="copy")


def _placeholders(op: Operation, prepacks: tuple[Prepack, ...]) -> list:
    inputs = []
    for i, v in enumerate(op.operands):
        t = v.type
        if not getattr(t, "has_static_shape", False):
            raise BuildError(f"operand #{i} of '{op.name}' has type {t}; lowering needs a static shape",
                             pos=op.source_pos, hint="pin dynamic input dims with --input-shape")
        packed = next((p for p in prepacks if p.index == i), None)
        if packed is not None:
            inputs.append(tvm.placeholder(packed.shape, dtype_of(t.element_type), f"in{i}_{packed.layout}"))
        else:
            inputs.append(tvm.placeholder(t.shape, dtype_of(t.element_type), f"in{i}"))
    return inputs


def _apply_compute(op: Operation, tensors: list, compute=None) -> list:
    """The TE tensors of `op`'s results, from its compute (`compute`, else the op's own in
    COMPUTES) applied to its operands' tensors."""
    compute = compute or COMPUTES.get(op.name)
    if compute is None:
        raise BuildError(f"'{op.name}' has no TE lowering yet", pos=op.source_pos,
                         hint=f"lowered ops: {', '.join(sorted(COMPUTES))}")
    try:
        outs = compute(op, *tensors)
    except LoweringError as e:
        raise BuildError(str(e), pos=op.source_pos) from None
    return list(outs) if isinstance(outs, (list, tuple)) else [outs]


class EmptyKernel:
    """Stands in for a kernel whose outputs all have no elements (a slice that selects nothing):
    there is nothing to compute. (A kernel with only some empty outputs, a split with an empty
    piece, is built; the schedule leaves loops of extent 0 alone.) The executor makes no call
    for it (`function` is None)."""

    function = None

    def run(self, inputs, output_shapes, output_dtypes):
        return [np.empty(s, d) for s, d in zip(output_shapes, output_dtypes)]


@dataclass
class ScheduledKernel:
    """A kernel ready to compile: its unscheduled module, its schedule program (`sched.schedule`)
    and the scheduled module, with the packed weight (if any) and the compute knobs it used."""

    name: str
    module: object
    program: object
    scheduled: object
    prepacks: tuple[Prepack, ...]
    knobs: dict
    generator: str = "file"  # the schedule generator that wrote `program`; "file": a user's schedule
    choices: dict = field(default_factory=dict)  # its choice knobs -> the values each offers (builder.py)


DLIGHT = "tvm-dlight"  # as a kernel's program: TVM's s_tir.dlight default GPU schedules, a peer


def schedule_op(op: Operation, target, name: str = "kernel", program=None) -> ScheduledKernel:
    """Lower `op` and schedule it for `target` (a lowering.targets.Target): with `program`, a
    sched.schedule written for it (its knobs set the compute's packing blocks; it is verified
    against the kernel and the target before TVM applies it), else the target's default
    generator's. `program=DLIGHT` (GPU targets) schedules it with TVM's dlight rules instead:
    no schedule IR, the peer `lamina bench` measures lamina's GPU schedules against."""
    from .schedules import default_schedule, verify_schedule

    if isinstance(program, str) and program == DLIGHT:
        if target.family != "gpu":
            raise BuildError(f"TVM's dlight schedules are for GPU targets, not {target.name}")
        with compute_knobs({}, target.family) as used:
            prepacks = prepack_for(op)
            module = lower_op(op, prepacks)
        return ScheduledKernel(name, module, None, tvm.dlight_schedule(module, target.tvm_target()), prepacks,
                               used, DLIGHT)

    overrides = program.knobs() if program is not None else {}
    try:
        with compute_knobs(overrides, target.family) as used:
            prepacks = prepack_for(op)
            module = lower_op(op, prepacks)
    except LoweringError as e:
        raise BuildError(str(e), pos=getattr(program, "source_pos", None) or op.source_pos) from None
    if program is None:
        builder = default_schedule(name, module, target)
        for knob_name, value in used.items():  # a compute knob the schedule did not use: still editable
            builder.knob(knob_name, value)
        return ScheduledKernel(name, module, builder.program, builder.mod, prepacks, used,
                               builder.generator or "default", builder.choices)
    verify_schedule(program, target, tvm.kernel_info(module))
    return ScheduledKernel(name, module, program, tvm.apply_schedule(module, program, target), prepacks, used)


def build_op(op: Operation, target="llvm", threads: int | None = None, stats: BuildStats | None = None,
             name: str = "kernel", program=None) -> BuiltKernel:
    """One kernel for `op` (an nn op or an nn.fused group), built for `target` (a name or a
    lowering.targets.Target) with its default schedule or `program`; cached on disk."""
    target = targets.get(target, threads=threads) if isinstance(target, str) else target
    stats = stats if stats is not None else BuildStats()
    if all(0 in getattr(r.type, "shape", ()) for r in op.results):
        return BuiltKernel(EmptyKernel(), "empty", "", name=name)
    scheduled = schedule_op(op, target, name, program)
    text = tvm.script(scheduled.scheduled)
    tvm_target = target.tvm_target()
    key = hashlib.sha256(f"{text}\n{tvm_target}\n{tvm.VERSION}\n{BUILD_REVISION}".encode()).hexdigest()[:32]
    if key in stats._memory:
        stats.from_memory += 1
        return _with_constants(op, stats._memory[key], scheduled, target)
    if target.family == "gpu":
        return _with_constants(op, _build_device(scheduled, target, key, text, stats), scheduled, target)
    suffix = ".tar" if target.cross else ".so"
    found = kernel_cache.find(key, suffix, (lambda p: CrossKernel(target.name, p)) if target.cross
                              else (lambda p: tvm.load(str(p))))
    if found is not None:
        path, kernel = found
        stats.from_disk += 1
    else:
        executable = tvm.compile_module(scheduled.scheduled, tvm_target)
        path = kernel_cache.store(key, suffix, lambda tmp: tvm.export(executable, tmp))
        kernel = CrossKernel(target.name, path) if target.cross else tvm.Kernel(executable.mod)
        stats.built += 1
    built = BuiltKernel(kernel, key, text, path)
    stats._memory[key] = built
    return _with_constants(op, built, scheduled, target)


def _build_device(scheduled: "ScheduledKernel", target, key: str, text: str, stats: BuildStats) -> BuiltKernel:
    """A GPU target's kernel: its device plan (lowering/device_build.py; for CUDA with its PTX,
    cubin and resources, lowering/cuda_compile.py), cached on disk as JSON."""
    import json

    from lamina.runtime.device_executor import DeviceKernel
    from lamina.runtime.device_plan import DevicePlan

    from .device_build import build_device_kernel

    found = kernel_cache.find(key, ".json", lambda p: DevicePlan.from_json(json.loads(p.read_text())))
    if found is not None:
        path, plan = found
        stats.from_disk += 1
    else:
        plan = build_device_kernel(scheduled.scheduled, target, scheduled.name)
        if plan.language == "cuda":  # to PTX and a cubin, its resources checked against the target
            from .cuda_compile import compile_plan

            plan = compile_plan(plan, target, scheduled.name)
        path = kernel_cache.store(key, ".json", lambda tmp: Path(tmp).write_text(json.dumps(plan.to_json())))
        stats.built += 1
    built = BuiltKernel(DeviceKernel(plan, library=path), key, text, path)
    stats._memory[key] = built
    return built


def link_cross_kernels(kernels, compiler: str) -> None:
    """Link each cross-built kernel's object files into a shared library with `compiler` (a C
    compiler for the target, e.g. aarch64-linux-android21-clang or aarch64-linux-gnu-gcc: tvmc's
    `cross`), kept beside the objects in the kernel cache; the kernels then name the `.so`."""
    done: dict = {}  # key -> the linked library
    tag = hashlib.sha256(compiler.encode()).hexdigest()[:8]
    for built in kernels:
        kernel = built.kernel
        if not isinstance(kernel, CrossKernel) or kernel.library.suffix != ".tar":
            continue
        if built.key not in done:
            found = kernel_cache.find(f"{built.key}.{tag}", ".so", lambda p: p)
            done[built.key] = found[0] if found is not None else kernel_cache.store(
                f"{built.key}.{tag}", ".so", lambda out: _link(kernel.library, out, compiler))
        kernel.library = built.library = done[built.key]


def _link(archive: Path, out: str, compiler: str) -> None:
    """The object files of `archive` (export_library's .tar) linked into the shared library `out`."""
    import shlex
    import subprocess
    import tarfile

    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp, filter="data")
        objects = sorted(str(p) for p in Path(tmp).rglob("*.o"))
        cmd = [*shlex.split(compiler), "-shared", "-fPIC", "-o", out, *objects]
        try:
            result = subprocess.run(cmd, capture_output=True, text=True)
        except OSError as e:
            raise BuildError(f"--cross-compiler {compiler!r} cannot run: {e}",
                             hint="give a C compiler for the target, e.g. aarch64-linux-gnu-gcc") from None
        if result.returncode:
            first = (result.stderr.strip().splitlines() or ["(no message)"])[0]
            raise BuildError(f"--cross-compiler {compiler!r} failed to link a kernel: {first}")


class CrossKernel:
    """A kernel built for another machine (object files in the kernel cache): it goes into a
    package, and cannot run here."""

    function = None
    entry = "main"

    def __init__(self, target_name: str, library: Path, constant: dict | None = None):
        self.target_name = target_name
        self.library = library    # a .tar of object files (TVM's export_library), or a linked .so
        self.constant = constant or {}  # operand index -> packing function or None, as ConstantOperandsKernel

    def run(self, inputs, output_shapes, output_dtypes):
        raise BuildError(f"this kernel was built for {self.target_name}; it runs on that device",
                         hint=f"write a package (lamina compile ... --target {self.target_name} -o model.tar) "
                              "and run it there")


def _with_constants(op: Operation, built: BuiltKernel, scheduled: ScheduledKernel, target) -> BuiltKernel:
    """The kernel for this op: its constant operands (weights in their packed layout) held as
    device tensors of its own; the compiled kernel is shared between ops of the same shape. The schedule program
    goes with it (`lamina compile --emit-schedules`)."""
    constant = {i: None for i, v in enumerate(op.operands) if is_constant(v)}
    for prepack in scheduled.prepacks:
        constant[prepack.index] = prepack.pack
    kernel = built.kernel
    if isinstance(kernel, tvm.Kernel):
        kernel = ConstantOperandsKernel(kernel, constant, built.library)
    elif isinstance(kernel, CrossKernel):
        kernel = CrossKernel(kernel.target_name, kernel.library, constant)
    elif target.family == "gpu":
        kernel = type(kernel)(kernel.plan, constant, kernel.library)
    return BuiltKernel(kernel, built.key, built.script, built.library, scheduled, scheduled.name)
