"""GPU schedule generators (CUDA, OpenCL, OpenCL-Adreno): every loop nest split and bound to
blocks and threads, written as schedule IR like the CPU ones (builder.py). `gpu_schedule` is the
entry point; it reads the limits from the target (lowering/targets.py), never a constant here.

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
       per output would leave the device idle.
"""

from __future__ import annotations

from .common import REDUCE, SPATIAL, NotThisShape

CROSS_THREAD_MIN_REDUCE = 64     # a reduction this long or longer may be shared by a block's threads
CROSS_THREAD_MAX_OUTPUTS = 4096  # ... when the kernel has at most this many outputs


def gpu_schedule(b):
    """The schedule of a kernel for a GPU target. Returns the builder holding it, with the
    generator's name in `generator`."""
    default_gpu_schedule(b)
    b.generator = default_gpu_schedule.__name__
    return b


def threads_per_block(target) -> int:
    return min(target.max_threads_per_block, 256)


def default_gpu_schedule(b) -> None:
    _inline_producers(b)
    _inline_epilogue(b)
    for name in b.block_names():
        bind_block(b, name)


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


def bind_block(b, name: str) -> None:
    """Bind block `name`'s loops: one thread per output element, or one block per output with
    its threads sharing the reduction (see the module's docstring)."""
    block = b.get_block(name)
    kinds = b.iter_kinds(block)
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
    if reduce and all(k == REDUCE for k in kinds[n_spatial:]) and (not spatial or (
            reduced >= CROSS_THREAD_MIN_REDUCE and outputs <= CROSS_THREAD_MAX_OUTPUTS)):
        _block_per_output(b, name, spatial, reduce, reduced)
        return
    if not spatial:
        raise NotThisShape(f"block {name} has no spatial loop")
    fused = b.fuse(*spatial) if len(spatial) > 1 else spatial[0]
    threads = min(threads_per_block(b.target), max(outputs, 1))
    bx, tx = b.split(fused, [b.knob(f"threads_{name}", threads)])
    b.bind(bx, "blockIdx.x")
    b.bind(tx, "threadIdx.x")


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
