"""The default CPU schedule for a one-op kernel: simple, safe, and already parallel.

The algorithm:
  1. Inline every block but the last (padding, broadcasting helpers) into its consumer.
  2. In the output block, the loops over spatial axes come first (TE writes them that way).
     Fuse the outer spatial loops until there is enough work for every core, and run the fused
     loop in parallel.
  3. If the innermost loop is spatial (nothing is reduced inside it) and short, vectorize it.

Reductions keep their loop order; a real schedule for conv/matmul (tiling, packing, register
blocking) is the work of the fusion and schedule issues.
"""

from __future__ import annotations

from .tvm_adapter import Schedule

SPATIAL, REDUCE = 0, 2  # tvm IterVar iter_type values for data-parallel and reduction axes
MAX_VECTOR = 64


def default_cpu_schedule(sch: Schedule, threads: int) -> Schedule:
    blocks = sch.get_child_blocks(sch.get_sblock("root"))
    for block in blocks[:-1]:  # 1.
        try:
            sch.compute_inline(block)
        except Exception:  # not inlinable (a reduction feeding another): leave it as its own loop nest
            pass
    out = sch.get_child_blocks(sch.get_sblock("root"))[-1]
    kinds = [iv.iter_type for iv in sch.get(out).iter_vars]
    loops = sch.get_loops(out)
    if len(loops) != len(kinds):
        return sch
    n_spatial = 0
    while n_spatial < len(kinds) and kinds[n_spatial] == SPATIAL:
        n_spatial += 1
    if n_spatial == 0:
        return sch
    extents = [int(sch.get(l).extent) for l in loops]
    if 0 in extents:  # an empty output (a split's empty piece): nothing to run, TVM cannot vectorize it
        return sch
    # 3. vectorize the innermost loop when it is spatial and short (before fusing changes loops)
    if n_spatial == len(loops) and len(loops) > 1 and extents[-1] <= MAX_VECTOR:
        sch.vectorize(loops[-1])
        outer = loops[: n_spatial - 1]
    else:
        outer = loops[: n_spatial] if n_spatial < len(loops) else loops[: n_spatial - 1] or loops[:1]
    # 2. fuse outer spatial loops until there is work for each thread, then parallelize
    take, work = 0, 1
    while take < len(outer) and work < threads * 4:
        work *= extents[take]
        take += 1
    if take == 0:
        return sch
    fused = sch.fuse(*outer[:take]) if take > 1 else outer[0]
    sch.parallel(fused)
    return sch
