"""Every call into TVM goes through this module, so a TVM upgrade touches one file.

TVM 0.27 (see ../shared/docs/tvm-0.27-notes.md): TE computes become a PrimFunc with
`te.create_prim_func`, are scheduled with `tvm.s_tir.Schedule`, and built with `tvm.compile` for a
JSON-dict `Target` (made from lowering/targets.py's registry by `make_target`). The compute table
(the `te/` package, one module per op family) writes expressions with the names re-exported here
(`te`, `tir`, `topi`); a schedule program (the sched dialect) is applied by `ScheduleState`, op by
op, and schedule generators drive one through lowering/schedules/builder.py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
import numpy as np
import tvm
from tvm import te, topi  # noqa: F401  (re-exported for the compute table)
from tvm import tirx as tir  # noqa: F401

Schedule = tvm.s_tir.Schedule


def placeholder(shape, dtype: str, name: str):
    return te.placeholder(tuple(int(d) for d in shape), dtype=dtype, name=name)


def prim_func(inputs: list, outputs: list):
    """The TE graph from `inputs` to `outputs` as one PrimFunc (inputs first, then outputs)."""
    return tvm.IRModule({"main": te.create_prim_func([*inputs, *outputs])})


def script(module) -> str:
    """TVMScript text: what a kernel looks like after scheduling, and the key of the disk cache."""
    return module.script()


def set_num_threads(threads: int | None = None) -> int:
    """TVM's runtime uses TVM_NUM_THREADS; unset, it ran parallel loops as slowly as one thread
    on the 2-core machines. Default it to the target's thread count (the cores)."""
    n = os.environ.get("TVM_NUM_THREADS") or str(threads or os.cpu_count() or 1)
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


def median_seconds(module, entry: str, args, number: int = 10, repeat: int = 3, flush_bytes: int = 0) -> float:
    """The median over `repeat` blocks of `number` calls of each block's seconds per call; with
    `flush_bytes`, TVM writes that many bytes before each block (evicting the kernel's data)."""
    timer = module.time_evaluator(entry, tvm.cpu(), number=number, repeat=repeat, cache_flush_bytes=flush_bytes)
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


def make_target(spec: dict, host: dict | None = None):
    """TVM's Target from the registry's JSON forms (lowering/targets.py)."""
    return tvm.target.Target(spec, host=host) if host else tvm.target.Target(spec)


# ---------------------------------------------------------------------------------------------
# Schedules: a sched.schedule program applied to a PrimFunc with tvm.s_tir.Schedule


_ITER_KINDS = {0: "spatial", 2: "reduce"}


def kernel_info(module):
    """The blocks of a kernel's PrimFunc in order, each with its loops (name, extent, kind)
    before any scheduling: what the schedule verifier checks a program against."""
    from .schedules.verify import KernelInfo, LoopInfo

    sch = Schedule(module)
    info = KernelInfo()
    for b in sch.get_child_blocks(sch.get_sblock("root")):
        block = sch.get(b)
        kinds = [_ITER_KINDS.get(int(iv.iter_type), "other") for iv in block.iter_vars]
        loops = sch.get_loops(b)
        if len(loops) != len(kinds):
            kinds = [None] * len(loops)
        info.blocks[str(block.name_hint)] = [
            LoopInfo(str(sch.get(l).loop_var.name), int(sch.get(l).extent), k) for l, k in zip(loops, kinds)]
    return info


def _tvm_message(e: Exception) -> str:
    """The one sentence TVM's ScheduleError says, without the IR dump around it."""
    text = str(e)
    for marker in ("Error message:", "error:"):
        if marker in text:
            text = text.split(marker, 1)[1]
            break
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(e).__name__)
    return line[:300]


class ScheduleState:
    """A kernel's TVM schedule and the values of a schedule program's handles: `apply(op)` runs
    one sched op on it. Schedule generators drive one (through schedules/builder.py) and read
    the kernel from it (`block_names`, `extent`, `iter_kinds`, `reads`); a schedule file is run
    through one op by op. Ops are checked before TVM sees them (schedules/verify.py's checks,
    on the real loops), and an error TVM still raises comes back as a ScheduleError at the op.
    """

    def __init__(self, module, target=None):
        self.sch = Schedule(module) if module is not None else None
        self.target = target
        self.values: dict = {}   # sched Value -> BlockRV / LoopRV / int
        self.consumed: dict = {}

    def copy(self) -> "ScheduleState":
        other = ScheduleState(None, self.target)
        other.sch = self.sch.copy()
        other.values = dict(self.values)
        other.consumed = dict(self.consumed)
        return other

    @property
    def mod(self):
        return self.sch.mod

    # -- queries ---------------------------------------------------------------------------------

    def block_names(self) -> list[str]:
        return [str(self.sch.get(b).name_hint) for b in self.sch.get_child_blocks(self.sch.get_sblock("root"))]

    def has_block(self, name: str) -> bool:
        return name in self.block_names()

    def extent(self, loop) -> int:
        return int(self.sch.get(self.values[loop]).extent)

    def extent_bound(self, loop) -> int:
        """The largest extent `loop` can have: its extent, or where that depends on outer loops
        (a copy computed at a tile that does not divide its data), the bound TVM's arithmetic
        analyzer proves for it."""
        extent = self.sch.get(self.values[loop]).extent
        if isinstance(extent, tvm.tirx.IntImm):
            return int(extent)
        from tvm.sym.analyzer import Analyzer

        return int(Analyzer().const_int_bound(extent).max_value)

    def loop_name(self, loop) -> str:
        return str(self.sch.get(self.values[loop]).loop_var.name)

    def iter_kinds(self, block) -> list[str]:
        return [_ITER_KINDS.get(int(iv.iter_type), "other") for iv in self.sch.get(self.values[block]).iter_vars]

    def kinds_of(self, name: str) -> list[str]:
        return [_ITER_KINDS.get(int(iv.iter_type), "other") for iv in self.sch.get(self.sch.get_sblock(name)).iter_vars]

    def loop_count(self, block) -> int:
        return len(self.sch.get_loops(self.values[block]))

    def reads(self, block) -> list[tuple[str, tuple]]:
        """(buffer name, shape) of what the block reads."""
        return [(str(r.source.name), tuple(int(d) for d in r.source.shape)) for r in self.sch.get(self.values[block]).reads]

    def reads_of(self, name: str) -> list[tuple[str, tuple]]:
        """`reads` of block `name`, without a handle to it."""
        return [(str(r.source.name), tuple(int(d) for d in r.source.shape))
                for r in self.sch.get(self.sch.get_sblock(name)).reads]

    def same_loop(self, a, b) -> bool:
        return self.sch.get(self.values[a]).same_as(self.sch.get(self.values[b]))

    def loops_of(self, block_name: str) -> list:
        """The TVM loops of a block by name (for the generators' shared-loop tests)."""
        return [self.sch.get(l) for l in self.sch.get_loops(self.sch.get_sblock(block_name))]

    # -- applying --------------------------------------------------------------------------------

    def apply(self, op) -> None:
        from .schedules.verify import error

        for v in op.operands:
            if v in self.consumed:
                by = self.consumed[v]
                where = f"at {by.source_pos.line}:{by.source_pos.col}" if by.source_pos else f"by '{by.name}'"
                raise error(op, f"uses a handle that '{by.name}' {where} consumed",
                            "take a fresh handle (sched.get_loops / sched.get_block) after that primitive")
        kind = op.name.split(".", 1)[1]
        try:
            getattr(self, "_" + kind)(op)
        except Exception as e:
            from .schedules.verify import ScheduleError

            if isinstance(e, ScheduleError):
                raise
            raise error(op, f"was refused by TVM: {_tvm_message(e)}") from None

    def _v(self, value):
        return self.values[value]

    def _knob(self, op):
        self.values[op.result] = op.decision

    def _get_block(self, op):
        from .schedules.verify import error

        name = op.block_name.value
        if name not in self.block_names():
            raise error(op, f"names block @{name}, which the kernel does not have (here)",
                        f"its blocks: {', '.join('@' + b for b in self.block_names())}")
        self.values[op.result] = self.sch.get_sblock(name)

    def _get_loops(self, op):
        from .schedules.verify import error

        loops = self.sch.get_loops(self._v(op.target))
        if len(loops) != len(op.results):
            names = ", ".join(str(self.sch.get(l).loop_var.name) for l in loops)
            raise error(op, f"names {len(op.results)} loops, but the block has {len(loops)} here ({names})")
        self.values.update(zip(op.results, loops))

    def _split(self, op):
        from .schedules.verify import check_split, error

        factors = [self._v(f) for f in op.factors]
        extent = int(self.sch.get(self._v(op.loop)).extent)
        check_split(op, extent, factors, bool(op.exact))
        want = len(factors) + (0 if op.exact else 1)
        if len(op.results) != want:
            raise error(op, f"gives {want} loops, not {len(op.results)}")
        loops = self.sch.split(self._v(op.loop), factors if op.exact else [None, *factors])
        self.values.update(zip(op.results, loops))
        self.consumed[op.loop] = op

    def _fuse(self, op):
        self.values[op.result] = self.sch.fuse(*[self._v(v) for v in op.loops])
        for v in op.loops:
            self.consumed[v] = op

    def _add_unit_loop(self, op):
        self.values[op.result] = self.sch.add_unit_loop(self._v(op.block))

    def _reorder(self, op):
        self.sch.reorder(*[self._v(v) for v in op.loops])

    def _bind(self, op):
        from .schedules.verify import check_bind

        if self.target is not None:
            check_bind(op, self.target, op.thread.value, int(self.sch.get(self._v(op.loop)).extent))
        self.sch.bind(self._v(op.loop), op.thread.value)

    def _parallel(self, op):
        self.sch.parallel(self._v(op.loop))

    def _vectorize(self, op):
        self.sch.vectorize(self._v(op.loop))

    def _unroll(self, op):
        self.sch.unroll(self._v(op.loop))

    def _annotate(self, op):
        self.sch.annotate(self._v(op.target), op.key.value, op.annotation)

    def _compute_at(self, op):
        self.sch.compute_at(self._v(op.block), self._v(op.loop), preserve_unit_loops=bool(op.preserve_unit_loops))

    def _reverse_compute_at(self, op):
        self.sch.reverse_compute_at(self._v(op.block), self._v(op.loop),
                                    preserve_unit_loops=bool(op.preserve_unit_loops))

    def _compute_inline(self, op):
        self.sch.compute_inline(self._v(op.block))
        self.consumed[op.block] = op

    def _reverse_compute_inline(self, op):
        self.sch.reverse_compute_inline(self._v(op.block))
        self.consumed[op.block] = op

    def _cache_read(self, op):
        self.values[op.result] = self.sch.cache_read(self._v(op.block), int(op.buffer_index.value), op.scope.value)

    def _cache_write(self, op):
        self.values[op.result] = self.sch.cache_write(self._v(op.block), int(op.buffer_index.value), op.scope.value)

    def _set_scope(self, op):
        self.sch.set_scope(self._v(op.block), int(op.buffer_index.value), op.scope.value)

    def _decompose_reduction(self, op):
        self.values[op.result] = self.sch.decompose_reduction(self._v(op.block), self._v(op.loop))

    def _rfactor(self, op):
        self.values[op.result] = self.sch.rfactor(self._v(op.loop), int(op.factor_axis.value))

    def _transform_layout(self, op):
        axes = op.axes
        self.sch.transform_layout(self._v(op.block), (op.buffer.value, op.buffer_index),
                                  lambda *idx: tuple(idx[a] for a in axes))

    def _merge_axes(self, op):
        block = self._v(op.block)
        first, last = op.first_last
        if op.target.value == "iters":
            extents = [int(iv.dom.extent) for iv in self.sch.get(block).iter_vars]
        else:
            regions = self.sch.get(block).writes if op.target.value == "write" else self.sch.get(block).reads
            extents = [int(d) for d in regions[op.buffer_index].source.shape]
        if last >= len(extents):
            from .schedules.verify import error

            raise error(op, f"merges axes {first}..{last}, but the {op.target.value} has {len(extents)}")

        def merged(*idx):
            flat = idx[first]
            for k in range(first + 1, last + 1):
                flat = flat * extents[k] + idx[k]
            return (*idx[:first], flat, *idx[last + 1:])

        if op.target.value == "iters":  # in the dtype of the block's iterators
            dtype = str(self.sch.get(block).iter_vars[0].var.ty)
            self.sch.transform_block_layout(block, tvm.tirx.IndexMap.from_func(merged, ndim=len(extents),
                                                                               index_dtype=dtype))
        else:
            self.sch.transform_layout(block, (op.target.value, op.buffer_index), merged)


def apply_schedule(module, program, target=None):
    """The scheduled IRModule: `program` (a verified sched.schedule op) applied in order."""
    state = ScheduleState(module, target)
    for op in program.block:
        state.apply(op)
    return state.mod


def block_reads(module) -> dict[str, list[str]]:
    """The names of the buffers each block of an unscheduled kernel reads."""
    sch = Schedule(module)
    return {str(sch.get(b).name_hint): [str(r.source.name) for r in sch.get(b).reads]
            for b in sch.get_child_blocks(sch.get_sblock("root"))}


def lowered_loops(scheduled_module, target) -> str:
    """The scheduled kernel after TVM's loop lowering (the first part of its default TIR
    pipeline, tvm/s_tir/pipeline.py: blocks made opaque, buffers flattened, loops vectorized and
    unrolled), before host/device splitting and codegen: the loop nest the machine code follows."""
    from tvm import s_tir as st

    passes = [
        tir.transform.BindTarget(target),
        st.transform.CanonicalizeLoop(), st.transform.LowerInitBlock(),
        st.transform.PlanAndUpdateBufferAllocationLocation(), st.transform.ConvertBlocksToOpaque(),
        st.transform.CompactBufferAllocation(), st.transform.LowerMatchBuffer(), st.transform.StmtSimplify(),
        st.transform.LowerOpaqueBlock(), tir.transform.FlattenBuffer(), tir.transform.NarrowDataType(32),
        st.transform.LoopPartition(), tir.transform.VectorizeLoop(True), tir.transform.StorageRewrite(),
        tir.transform.UnrollLoop(), tir.transform.StmtSimplify(), tir.transform.RemoveNoOp(),
    ]
    return tvm.ir.transform.Sequential(passes)(scheduled_module).script()


def dlight_schedule(module, target):
    """`module` scheduled by TVM's own default GPU rules (`s_tir.dlight`: matmul, GEMV,
    reductions, and a fallback that binds any loop nest): the peer lamina's GPU schedules are
    measured against, not lamina's default. `target` is TVM's Target."""
    from tvm.s_tir import dlight as dl

    with target:
        return dl.ApplyDefaultSchedule(dl.gpu.Matmul(), dl.gpu.GEMV(), dl.gpu.Reduction(),
                                       dl.gpu.GeneralReduction(), dl.gpu.Fallback())(module)
