"""CPU schedule for kernels that reduce rows and then use the result elementwise: softmax (and
a fused group holding one, e.g. scale -> add mask -> softmax).

The default schedule (schedule_cpu.py) leaves each reduction as a loop nest of its own over the
whole tensor, one thread, scalar: softmax over 4x128x128 floats took 0.36 ms so. Here the work is
done a row at a time, as TVM's x86 softmax schedule does:

  1. Inline every block that can be (elementwise producers) except the ones a reduction reads
     whole rows of and the output reads again (softmax's exp: computed once, kept for the row).
  2. The output block's loops are all spatial; a reduction block's own spatial loops are a
     prefix of them (the rows), its reduced axes the rest. Each remaining block is computed at
     the output's loop of its last row axis (`compute_at`, consumers first), so one row's max,
     exp, sum and output are computed together while the row is in cache.
  3. The row loops are fused and run in parallel; the output's innermost loop and every
     elementwise block's innermost loop are vectorized.

`row_reduction_schedule` raises `NotRowReduction` when the kernel is not of this shape (a
reduction over a leading axis, a reduction feeding another's row loop in a different order), and
the caller keeps the default schedule.
"""

from __future__ import annotations

from .schedule_cpu import MAX_VECTOR, REDUCE, SPATIAL, _extents, _kinds
from .tvm_adapter import Schedule


class NotRowReduction(Exception):
    pass


def _is_reduction(sch, block) -> bool:
    return REDUCE in _kinds(sch, block)


def row_reduction_schedule(sch: Schedule, threads: int) -> Schedule:
    root = sch.get_sblock("root")
    blocks = list(sch.get_child_blocks(root))
    if not any(_is_reduction(sch, b) for b in blocks[:-1]) or _is_reduction(sch, blocks[-1]):
        raise NotRowReduction
    if not any(sch.get(b).name_hint.endswith("_exp") for b in blocks):
        # measured: layer_norm and log_softmax ran no faster a row at a time than with the
        # default schedule (their reductions stay scalar either way); softmax ran 4.7x faster
        raise NotRowReduction
    out = blocks[-1]
    out_loops = sch.get_loops(out)
    out_ext = _extents(sch, out_loops)
    if len(out_loops) < 2 or 0 in out_ext:
        raise NotRowReduction
    # 1. inline elementwise blocks, except those whose values a reduction and the output share
    for block in blocks[:-1]:
        if _is_reduction(sch, block):
            continue
        name = sch.get(block).name_hint
        if name.endswith("_exp"):
            continue
        try:
            sch.compute_inline(block)
        except Exception:  # read by a reduction in a way that cannot inline: keep it
            pass
    kept = list(sch.get_child_blocks(root))[:-1]
    # 2. the row depth of each kept block: how many leading output loops its spatial loops match
    depth = {}
    for block in kept:
        kinds = _kinds(sch, block)
        ext = _extents(sch, sch.get_loops(block))
        spatial = [e for k, e in zip(kinds, ext) if k == SPATIAL]
        if _is_reduction(sch, block):
            if kinds[: len(spatial)] != [SPATIAL] * len(spatial):
                raise NotRowReduction
            rows = spatial
            # keepdims writes 1s for the reduced axes: drop trailing 1s the output does not have
            while rows and rows[-1] == 1 and (len(rows) > len(out_ext) or out_ext[len(rows) - 1] != 1):
                rows = rows[:-1]
        else:
            rows = spatial
            if rows == out_ext:  # a full-size elementwise block (softmax's exp): per row of the output
                rows = rows[:-1]
        n = len(rows)
        while n > 0 and rows[:n] != out_ext[:n]:
            n -= 1
        if n == 0 or n >= len(out_ext):
            raise NotRowReduction
        depth[sch.get(block).name_hint] = n
    rows = min(depth.values())
    for block in reversed(kept):  # consumers first: compute_at needs them under the loop already
        name = sch.get(block).name_hint
        sch.compute_at(sch.get_sblock(name), sch.get_loops(out)[rows - 1])
    # 3. parallel rows, vectorized inner loops
    out_loops = sch.get_loops(out)
    _vectorize_inner(sch, out)
    for block in kept:
        name = sch.get(block).name_hint
        blk = sch.get_sblock(name)
        if not _is_reduction(sch, blk):
            _vectorize_inner(sch, blk)
    fused = sch.fuse(*out_loops[:rows]) if rows > 1 else out_loops[0]
    sch.parallel(fused)
    return sch


def _vectorize_inner(sch, block) -> None:
    """Vectorize the innermost loop, or a 16/8/4-wide piece of it when it is long."""
    loops = sch.get_loops(block)
    if not loops:
        return
    extent = _extents(sch, loops[-1:])[0]
    if extent <= MAX_VECTOR:
        sch.vectorize(loops[-1])
        return
    for width in (16, 8, 4):
        if extent % width == 0:
            _, inner = sch.split(loops[-1], [None, width])
            sch.vectorize(inner)
            return
