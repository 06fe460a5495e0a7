"""The CPU schedule generator for pooling kernels: max_pool2d and avg_pool2d with stride 1 (a
window over each output element), global_avg_pool and global_max_pool (a whole image per
channel), with what is fused before them (a concat of branches, an elementwise producer) and
after them (avg's division by the window's size, a layout view).

The default schedule (cpu.py) keeps a pool's reduction innermost and scalar: one output element
at a time, its window's taps one after another. Here:

  - stride-1 window pools: the padded input rows of a chunk of output rows are copied first
    (`pad`, computed at the chunk: no bounds test in the inner loop), then a vector of `vw`
    output columns (the largest divisor of the row up to 64 lanes) is accumulated in registers
    over the window's taps and written back with the epilogue. avg_pool 3x3 over 64x56x56:
    0.150 -> 0.093 ms.
  - global pools: `cb` channels (unrolled, each its own chain of adds) are summed together over
    the image, so their chains overlap instead of each waiting on the latency of the one add
    before it. SqueezeNet's average pool over 1000x13x13: 0.064 -> 0.042 ms.
Strided window pools keep the default: a vector of output columns is then a gather, which TVM
loads a lane at a time, and reading the input dealt into phases first (as the strided depthwise
conv does) costs two copies of it. SqueezeNet's 3x3/2 max pool over 64x111x111: default 0.14
ms, vectors over a gather 1.7 ms, over phases 0.23 ms; ResNet's (padded) 0.27, 1.9 and 0.28 ms.
A global pool of under PARALLEL_POOL_WORK elements runs on one thread, where the default's
loop is as fast (ResNet's 512x7x7: 0.004 ms).
(`lamina.kernel(...)` timings: TVM's one thread.)

`pool_schedule` raises NotThisShape for a loop nest it does not take, and the caller falls back
to the default schedule.
"""

from __future__ import annotations

import math

from .common import REDUCE, SPATIAL, STAGE_BYTES, NotThisShape, block_name_of, divisor, epilogues, vectorize_own

WINDOW_POOLS = ("max_pool", "window_sum")
GLOBAL_POOLS = ("gsum", "gmax")
POOL_BLOCKS = WINDOW_POOLS + GLOBAL_POOLS
MAX_POOL_LANES = 64  # the longest vector of output columns accumulated at once (4 AVX-512 registers)
PARALLEL_POOL_WORK = 65536  # window taps (or image elements) below which a pool runs on one thread


def pool_schedule(b, name: str, threads: int) -> None:
    block = b.get_block(name)
    if b.iter_kinds(block) != [SPATIAL] * 4 + [REDUCE] * 2 or b.loop_count(block) != 6:
        raise NotThisShape
    batch, channel, row, column, ry, rx = b.get_loops(block)
    _, c_ext, h_ext, w_ext, kh, kw = b.extents([batch, channel, row, column, ry, rx])
    work = c_ext * h_ext * w_ext * kh * kw
    if name in GLOBAL_POOLS and work < PARALLEL_POOL_WORK:
        raise NotThisShape  # one thread either way, and the default's loop is as fast (ResNet's 512x7x7)
    if name in WINDOW_POOLS and any(int(shape[-1]) > w_ext + kw - 1 for _, shape in b.reads(block)):
        raise NotThisShape  # strided: a vector of output columns is a gather (see above)
    names = b.block_names()
    padded = name in WINDOW_POOLS and "pad" in names  # the padding stays a copy, staged by rows
    for other in names[: names.index(name)]:  # a concat, views, elementwise producers
        if other != "pad" or not padded:
            b.compute_inline(b.get_block(other))
    block = b.get_block(name)
    batch, channel, row, column, ry, rx = b.get_loops(block)
    write_back = b.cache_write(block, 0, "local")
    epilogues(b, block_name_of(b, write_back))
    if name in WINDOW_POOLS:
        vw = max(d for d in range(1, min(w_ext, MAX_POOL_LANES) + 1) if w_ext % d == 0)
        jo, ji = b.split(column, [b.knob("vw", vw)])
        ro, ri = b.split(row, [b.knob("rows", _staged_rows(b, h_ext, kh) if padded else 1)])
        b.reorder(batch, channel, ro, ri, jo, ry, rx, ji)
        b.reverse_compute_at(write_back, jo)
        vectorize_own(b, write_back, block)
        b.vectorize(ji)
        rows = b.fuse(batch, channel, ro)
    else:
        co, ci = b.split(channel, [b.knob("cb", divisor(c_ext, (16, 8, 4, 2)))])
        b.reorder(batch, co, row, column, ry, rx, ci)
        b.reverse_compute_at(write_back, co)
        b.unroll(ci)
        rows = b.fuse(batch, co)
    if work >= PARALLEL_POOL_WORK:
        b.parallel(rows)
    if padded:  # the input rows a chunk of output rows reads, copied as it starts
        b.compute_at(b.get_block("pad"), rows)
        vectorize_own(b, b.get_block("pad"), block)
    init = b.decompose_reduction(block, ry)
    vectorize_own(b, init, block)


def _staged_rows(b, height: int, window: int) -> int:
    """Output rows that share one copy of their padded input rows: the largest divisor of the
    height whose input rows fit STAGE_BYTES (as the depthwise conv's chunk)."""
    ext = b.block_loop_extents("pad")
    padded_height, per_row = ext[2], math.prod(ext[3:]) * 4
    fits = [d for d in range(1, height + 1)
            if height % d == 0 and min(padded_height, d - 1 + window) * per_row <= STAGE_BYTES]
    return max(fits, default=1)
