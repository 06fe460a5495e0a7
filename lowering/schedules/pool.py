"""The CPU schedule generator for pooling kernels: max_pool2d and avg_pool2d (a window over
each output element), global_avg_pool and global_max_pool (a whole image per
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
  - strided window pools read their input dealt into column phases (te/conv.py `_pool_input`,
    as a strided conv reads it), the padding inlined into the dealing: the rows of a chunk of
    output rows are dealt as it starts, and a vector of output columns then reads contiguous
    columns, where on the input itself it is a gather that TVM loads a lane at a time (1.7 ms
    for SqueezeNet's 3x3/2 max pool over 64x111x111, against 0.14 for the default's scalar
    loop). In the model, 2 threads, the default (after a copy of the whole padded input) against
    the dealt rows: ResNet-18's 3x3/2 max pool over 64x112x112 0.189 -> 0.137 ms, Inception v1's
    (ceil mode) 0.356 -> 0.133 and over 192x56x56 0.282 -> 0.110, DenseNet-121's 2x2/2 average
    pools 0.109 -> 0.065, 0.084 -> 0.047 and 0.047 -> 0.030 ms (the default ran the sum and the
    division as two loop nests); SqueezeNet's unpadded 3x3/2 within the noise (0.104 -> 0.100 ms
    alone). Unpadded max pools whose windows do not overlap (VGG's 2x2/2) are not dealt: they
    read each input element once in place, and dealt ran 0.67 -> 0.95 ms. Nor is a concat fused
    before the pool: dealing it selects between its inputs at every element, which LLVM leaves
    scalar (SqueezeNet's concat + 3x3/2 over 128x55x55: 0.052 -> 0.098 ms alone), so such a
    kernel takes the default, which reads the concat's inputs in place.
A global pool of under PARALLEL_POOL_WORK elements runs on one thread, where the default's
loop is as fast (ResNet's 512x7x7: 0.004 ms).
(`lamina.kernel(...)` timings but the strided pools': TVM's one thread.)

`pool_schedule` raises NotThisShape for a loop nest it does not take, and the caller falls back
to the default schedule.
"""

from __future__ import annotations

import math

from .common import (REDUCE, SPATIAL, STAGE_BYTES, NotThisShape, block_name_of, deal_loop, divisor, epilogues,
                     vectorize_own)

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
    names = b.block_names()
    dealt = name in WINDOW_POOLS and "phases" in names  # strided: the input dealt into column phases
    if dealt and "concat" in names:
        raise NotThisShape  # a concat dealt into phases: LLVM does not vectorize the deal (see above)
    if name in WINDOW_POOLS and not dealt and any(int(shape[-1]) > w_ext + kw - 1 for _, shape in b.reads(block)):
        raise NotThisShape  # strided, read in place: a vector of output columns is a gather (see above)
    # the copy staged by rows: the padding, or the phases with the padding inlined into them
    copy = "phases" if dealt else "pad" if name in WINDOW_POOLS and "pad" in names else None
    for other in names[: names.index(name)]:  # a concat, views, elementwise producers
        if other != copy:
            b.compute_inline(b.get_block(other))
    block = b.get_block(name)
    batch, channel, row, column, ry, rx = b.get_loops(block)
    write_back = b.cache_write(block, 0, "local")
    epilogues(b, block_name_of(b, write_back))
    if name in WINDOW_POOLS:
        vw = max(d for d in range(1, min(w_ext, MAX_POOL_LANES) + 1) if w_ext % d == 0)
        jo, ji = b.split(column, [b.knob("vw", vw)])
        ro, ri = b.split(row, [b.knob("rows", _staged_rows(b, copy, h_ext, kh) if copy else 1)])
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
    if copy:  # the input rows a chunk of output rows reads, copied as it starts
        b.compute_at(b.get_block(copy), rows)
        if dealt:
            deal_loop(b)
        else:
            vectorize_own(b, b.get_block(copy), block)
    init = b.decompose_reduction(block, ry)
    vectorize_own(b, init, block)


def _staged_rows(b, copy: str, height: int, window: int) -> int:
    """Output rows that share one copy of their padded (or dealt) input rows: the largest divisor
    of the height whose input rows fit STAGE_BYTES (as the depthwise conv's chunk)."""
    ext = b.block_loop_extents(copy)
    padded_height, per_row = ext[2], math.prod(ext[3:]) * 4
    stride = max(1, padded_height // height)
    fits = [d for d in range(1, height + 1)
            if height % d == 0 and min(padded_height, (d - 1) * stride + window) * per_row <= STAGE_BYTES]
    return max(fits, default=1)
