"""GPU schedule generators (CUDA, OpenCL, OpenCL-Adreno): every loop nest split and bound to
blocks and threads, written as schedule IR like the CPU ones (builder.py). `gpu_schedule` is the
entry point; it reads the limits from the target (lowering/targets.py), never a constant here.

It tries the tiled generators of gpu_tiled.py by the kernel's anchor block, as cpu.py's
`cpu_schedule` does: matmul / gemm (`gpu_matmul_schedule`, or `gpu_gemv_schedule` for a matmul
of a few rows), conv2d and conv2d_nchwc (`gpu_conv_schedule`); a kernel without an anchor but
with a reduction tries `gpu_row_reduction_schedule` (softmax, layer_norm) then
`gpu_reduce_schedule` (reduce_*, pooling, lrn). The first that does not raise, and whose kernel
builds for the target, is taken; else the default.

The default (`default_gpu_schedule`), correct for any kernel:
  1. Inline every block that can be (padding, broadcasting, elementwise producers) into its
     consumers; then try to inline the kernel's last elementwise blocks into the block before
     them (a reduction's epilogue: conv + bias + relu write once).
  2. Each remaining block is its own device function (TVM makes one per bound nest, with a
     scratch buffer between them), bound in one of two ways:
     - one thread per output element: the spatial loops fused, split by `threads` (knob, the
       target's threads per block, at most 256), the outer part bound to blockIdx.x, the
       inner to threadIdx.x; a reduction runs inside its thread;
     - one block per output element, its threads sharing the reduction (TVM lowers the thread-
       bound reduction loop to a tree in local memory on OpenCL, warp shuffles on CUDA): when
       there are few outputs and long reductions (global pooling, a row sum), where one thread
       per output would leave the device idle. Not for a reduction TVM cannot share (lamina's
       max and min: their identities are +-inf, which no TVM reducer has): the default is built
       once to see, and a reduction it refuses runs in one thread per output.
"""

from __future__ import annotations

from .common import REDUCE, SPATIAL, NotThisShape
from .gpu_tiled import (build_problem, gpu_conv_schedule, gpu_gemv_schedule, gpu_matmul_schedule,
                        gpu_reduce_schedule, gpu_row_reduction_schedule, is_gemv)

# generators that build each tiling they try (gpu_tiled.py `_first_that_fits`); the others'
# schedules are built once here before they are taken
SELF_CHECKED = (gpu_matmul_schedule, gpu_conv_schedule, gpu_gemv_schedule, gpu_reduce_schedule)

CROSS_THREAD_MIN_REDUCE = 64     # a reduction this long or longer may be shared by a block's threads
CROSS_THREAD_MAX_OUTPUTS = 4096  # ... when the kernel has at most this many outputs


def gpu_schedule(b):
    """The schedule of a kernel for a GPU target: its anchor op's tiled one (gpu_tiled.py:
    matmul / gemm, a GEMV, conv2d), else the reduction ones (rows reduced then used, or one
    reduction with its elementwise neighbours), else the default. A generator that raises
    (NotThisShape, or TVM refusing a step on a shape not foreseen) is dropped for the next.
    Returns the builder holding the schedule, with the generator's name in `generator`."""
    names = b.block_names()
    tried = []
    for anchor in ("matmul", "gemm", "conv2d", "conv2d_nchwc"):
        if anchor in names:
            if anchor.startswith("conv2d"):
                tried.append((gpu_conv_schedule, (anchor,)))
            else:
                try:
                    gemv = is_gemv(b, anchor)
                except NotThisShape:
                    break
                tried.append((gpu_gemv_schedule if gemv else gpu_matmul_schedule, (anchor,)))
            break
    else:
        if any(REDUCE in b.kinds_of(n) for n in names):
            tried += [(gpu_row_reduction_schedule, ()), (gpu_reduce_schedule, ())]
    for fn, args in tried:
        trial = b.fork()
        try:
            fn(trial, *args)
        except Exception:  # NotThisShape, or a TVM schedule error (tests/test_schedules_gpu.py
            continue       # checks that the zoo's kernels take the specialised generators)
        if fn not in SELF_CHECKED and build_problem(trial):
            continue
        trial.generator = fn.__name__
        return trial
    trial = b.fork()
    if default_gpu_schedule(trial) and build_problem(trial):
        # a reduction TVM cannot share among threads (lamina's max and min, whose identity is
        # -inf / +inf, match none of TVM's reducers): one thread per output instead
        default_gpu_schedule(b, cross_thread=False)
    else:
        b = trial
    b.generator = default_gpu_schedule.__name__
    return b


def threads_per_block(target) -> int:
    return min(target.max_threads_per_block, 256)


def default_gpu_schedule(b, cross_thread: bool = True) -> bool:
    """The default (the module's docstring); without `cross_thread`, every reduction runs in
    one thread per output. Returns whether a block's threads share a reduction."""
    _inline_producers(b)
    _inline_epilogue(b)
    shared = False
    for name in b.block_names():
        shared |= bind_block(b, name, cross_thread)
    return shared


def _inline_producers(b) -> None:
    for name in b.block_names()[:-1]:
        trial = b.fork()
        try:
            trial.compute_inline(trial.get_block(name))
        except Exception:  # not inlinable (a reduction, read by another): its own nest
            continue
        b.compute_inline(b.get_block(name))


def _inline_epilogue(b) -> None:
    """The blocks after the last reduction, inlined into it from the last one back, while TVM
    accepts (an elementwise consumer of the reduction's value)."""
    while len(b.block_names()) > 1:
        last = b.block_names()[-1]
        if REDUCE in b.kinds_of(last):
            return
        trial = b.fork()
        try:
            trial.reverse_compute_inline(trial.get_block(last))
        except Exception:
            return
        b.reverse_compute_inline(b.get_block(last))


def bind_block(b, name: str, cross_thread: bool = True) -> bool:
    """Bind block `name`'s loops: one thread per output element, or one block per output with
    its threads sharing the reduction (see the module's docstring; not without `cross_thread`,
    where a reduction to one value runs in one thread). Returns whether threads share it."""
    block = b.get_block(name)
    kinds = b.iter_kinds(block)
    if b.loop_count(block) == 0:  # a 0-d value (a reduction's mean to a scalar): one thread
        bx, tx = b.split(b.add_unit_loop(block), [b.knob(f"threads_{name}", 1)])
        b.bind(bx, "blockIdx.x")
        b.bind(tx, "threadIdx.x")
        return False
    if b.loop_count(block) != len(kinds):
        raise NotThisShape(f"block {name}'s loops are not its iteration axes")
    loops = b.get_loops(block)
    if not loops:
        raise NotThisShape(f"block {name} has no loop to bind")
    n_spatial = 0
    while n_spatial < len(kinds) and kinds[n_spatial] == SPATIAL:
        n_spatial += 1
    spatial, reduce = loops[:n_spatial], loops[n_spatial:]
    outputs = _product(b.extents(spatial))
    reduced = _product(b.extents(reduce))
    if cross_thread and reduce and all(k == REDUCE for k in kinds[n_spatial:]) and (not spatial or (
            reduced >= CROSS_THREAD_MIN_REDUCE and outputs <= CROSS_THREAD_MAX_OUTPUTS)):
        _block_per_output(b, name, spatial, reduce, reduced)
        return True
    if not spatial and reduce:  # a reduction to one value: a unit loop outside it to bind
        spatial = [b.add_unit_loop(block)]
        b.reorder(*spatial, *reduce)
    if not spatial:
        raise NotThisShape(f"block {name} has no spatial loop")
    fused = b.fuse(*spatial) if len(spatial) > 1 else spatial[0]
    threads = min(threads_per_block(b.target), max(outputs, 1))
    bx, tx = b.split(fused, [b.knob(f"threads_{name}", threads)])
    b.bind(bx, "blockIdx.x")
    b.bind(tx, "threadIdx.x")
    return False


def _block_per_output(b, name: str, spatial, reduce, reduced: int) -> None:
    threads = 1
    while threads * 2 <= min(reduced, threads_per_block(b.target)):
        threads *= 2
    if spatial:
        fused = b.fuse(*spatial) if len(spatial) > 1 else spatial[0]
        b.bind(fused, "blockIdx.x")
    r = b.fuse(*reduce) if len(reduce) > 1 else reduce[0]
    _, tx = b.split(r, [b.knob(f"reduce_threads_{name}", threads)])
    b.bind(tx, "threadIdx.x")


def _product(values) -> int:
    out = 1
    for v in values:
        out *= v
    return out
