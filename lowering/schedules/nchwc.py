"""The CPU schedule generator for a conv2d in NCHW{c}c (te/conv.py `conv2d_nchwc`), after TVM's
x86 conv2d_NCHWc schedule.

The compute's loops are (n, ob, i, j, oi | rco, ky, kx, rci) for group 1 and (n, ob, i, j, oi |
ky, kx) for depthwise; oi runs over the c channels of an output block, the innermost axis of the
output and of the packed weight, so it is one vector. The schedule:
  1. Keep the padded input (`pad`) as its own parallel loop nest, so the inner loop reads without
     bounds tests; inline any other producer.
  2. Sum a block of wb output columns x c channels in registers (`cache_write` to "local"): the
     loop order is n, ob, i, jo | rco, ky, kx, rci | ji, oi, with ji unrolled (wb vectors) and oi
     vectorized: each weight vector is loaded once and used for wb columns.
  3. Write the block out through the epilogue (bias add, a cast) placed at jo.
  4. Run n, ob, i fused in parallel.
Raises NotThisShape when the loop nest is not the one it expects; cpu_schedule then uses the
default.
"""

from __future__ import annotations

from .common import REDUCE, SPATIAL, NotThisShape, block_name_of, epilogues, parallel_spatial, vectorize_own

MAX_COLUMNS = 14  # output columns per register block: 14 accumulators + the input + the weight


def _columns(width: int) -> int:
    """The largest block of output columns (at most MAX_COLUMNS) that divides the row."""
    return max(d for d in range(1, MAX_COLUMNS + 1) if width % d == 0)


def nchwc_conv_schedule(b, name: str, threads: int) -> None:
    block = b.get_block(name)
    kinds = b.iter_kinds(block)
    if b.loop_count(block) != len(kinds) or kinds[:5] != [SPATIAL] * 5 or set(kinds[5:]) != {REDUCE}:
        raise NotThisShape("not an NCHW{c}c conv loop nest")
    loops = b.get_loops(block)
    extents = b.extents(loops)
    if 0 in extents:
        raise NotThisShape("empty conv")
    group_one = len(loops) == 9
    if not group_one and len(loops) != 7:
        raise NotThisShape("not an NCHW{c}c conv loop nest")
    names = b.block_names()
    for other in names[: names.index(name)]:  # 1.
        if other != "pad":
            b.compute_inline(b.get_block(other))
    wb = _columns(extents[3])
    local = b.cache_write(block, 0, "local")  # 2.
    epilogues(b, block_name_of(b, local))  # 3.
    if group_one:
        n, ob, i, j, oi, rco, ky, kx, rci = b.get_loops(block)
        jo, ji = b.split(j, [b.knob("wb", wb)])
        b.reorder(n, ob, i, jo, rco, ky, kx, rci, ji, oi)
        first_reduce = rco
    else:
        n, ob, i, j, oi, ky, kx = b.get_loops(block)
        jo, ji = b.split(j, [b.knob("wb", wb)])
        b.reorder(n, ob, i, jo, ky, kx, ji, oi)
        first_reduce = ky
    b.reverse_compute_at(local, jo)
    vectorize_own(b, local, block)
    b.parallel(b.fuse(n, ob, i))  # 4.
    b.vectorize(oi)
    b.unroll(ji)
    init = b.decompose_reduction(block, first_reduce)
    vectorize_own(b, init, block)
    if "pad" in names:
        parallel_spatial(b, "pad", threads)
