"""The CPU schedule of a conv2d in NCHW{c}c (te/conv.py `conv2d_nchwc`), after TVM's x86
conv2d_NCHWc schedule.

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
Raises when the loop nest is not the one it expects; cpu_schedule then uses the default.
"""

from __future__ import annotations

from .tvm_adapter import Schedule

SPATIAL, REDUCE = 0, 2
MAX_COLUMNS = 14  # output columns per register block: 14 accumulators + the input + the weight


def _columns(width: int) -> int:
    """The largest block of output columns (at most MAX_COLUMNS) that divides the row."""
    return max(d for d in range(1, MAX_COLUMNS + 1) if width % d == 0)


def nchwc_conv_schedule(sch: Schedule, block, threads: int) -> Schedule:
    from .schedule_cpu import _epilogues, _parallel_spatial, _vectorize_own

    kinds = [iv.iter_type for iv in sch.get(block).iter_vars]
    loops = sch.get_loops(block)
    if len(loops) != len(kinds) or kinds[:5] != [SPATIAL] * 5 or set(kinds[5:]) != {REDUCE}:
        raise ValueError("not an NCHW{c}c conv loop nest")
    extents = [int(sch.get(l).extent) for l in loops]
    if 0 in extents:
        raise ValueError("empty conv")
    group_one = len(loops) == 9
    if not group_one and len(loops) != 7:
        raise ValueError("not an NCHW{c}c conv loop nest")
    names = [sch.get(b).name_hint for b in sch.get_child_blocks(sch.get_sblock("root"))]
    for name in names[: names.index(sch.get(block).name_hint)]:  # 1.
        if name != "pad":
            sch.compute_inline(sch.get_sblock(name))
    wb = _columns(extents[3])
    local = sch.cache_write(block, 0, "local")  # 2.
    _epilogues(sch, local)  # 3.
    if group_one:
        n, ob, i, j, oi, rco, ky, kx, rci = sch.get_loops(block)
        jo, ji = sch.split(j, [None, wb])
        sch.reorder(n, ob, i, jo, rco, ky, kx, rci, ji, oi)
        first_reduce = rco
    else:
        n, ob, i, j, oi, ky, kx = sch.get_loops(block)
        jo, ji = sch.split(j, [None, wb])
        sch.reorder(n, ob, i, jo, ky, kx, ji, oi)
        first_reduce = ky
    sch.reverse_compute_at(local, jo)
    _vectorize_own(sch, local, block)
    sch.parallel(sch.fuse(n, ob, i))  # 4.
    sch.vectorize(oi)
    sch.unroll(ji)
    init = sch.decompose_reduction(block, first_reduce)
    _vectorize_own(sch, init, block)
    if "pad" in names:
        _parallel_spatial(sch, sch.get_sblock("pad"), threads)
    return sch
