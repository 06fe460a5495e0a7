"""The CPU schedule generator for kernels that reduce rows and then use the result elementwise:
softmax, log_softmax, layer_norm (and a fused group holding one, e.g. scale -> add mask ->
softmax).

The default schedule (cpu.py) leaves each reduction as a loop nest of its own over the whole
tensor, one thread, scalar: softmax over 4x128x128 floats took 0.36 ms so. Here the work is done
a row at a time, as TVM's x86 softmax schedule does:

  1. Inline every block that can be (elementwise producers) except the ones a reduction reads
     whole rows of and the output reads again (softmax's exp: computed once, kept for the row).
  2. The output block's loops are all spatial; a reduction block's own spatial loops are a
     prefix of them (the rows), its reduced axes the rest. Each remaining block is computed at
     the output's loop of its last row axis (`compute_at`, consumers first), so one row's max,
     exp, sum and output are computed together while the row is in cache.
  3. A reduction over one innermost axis that LANES divides is summed in lanes (`rfactor` of
     the axis split by knob `lanes_<block>`): a vector of partial results, then those summed.
     Left scalar, a row's reduction is one chain of dependent adds (or maxes), each waiting
     for the one before: 4 cycles an element. The transformer block, 2 threads, in the model:
     softmax over 4x128x128 0.097 -> 0.038 ms, each layer_norm over 128x256 0.056 -> 0.006 ms,
     end to end 0.945 -> 0.783 ms.
  4. The row loops are fused and run in parallel (not when the output is small: choice
     `threads`, as in cpu.py's default schedule); the output's innermost loop and every
     elementwise block's innermost loop are vectorized (knob `vector_<block>` when a piece of a
     long row).

`row_reduction_schedule` raises `NotRowReduction` when the kernel is not of this shape (a
reduction over a leading axis, a reduction feeding another's row loop in a different order), and
the caller keeps the default schedule.
"""

from __future__ import annotations

import math

from .builder import DecisionError
from .common import MAX_VECTOR, MIN_PARALLEL_ELEMENTS, REDUCE, SPATIAL

LANES = (16, 8)  # partial results of a row reduction: one vector of 16 (or 8) floats


class NotRowReduction(Exception):
    pass


def row_reduction_schedule(b, threads: int) -> None:
    names = b.block_names()
    kinds = {n: b.kinds_of(n) for n in names}
    if not any(REDUCE in kinds[n] for n in names[:-1]) or REDUCE in kinds[names[-1]]:
        raise NotRowReduction
    in_lanes = {n: _lanes(b, n) for n in names[:-1] if REDUCE in kinds[n]}
    if not any(in_lanes.values()) and not any(n.endswith("_exp") for n in names):
        # measured: with their reductions scalar, layer_norm and log_softmax ran no faster a row
        # at a time than with the default schedule; softmax ran 4.7x faster
        raise NotRowReduction
    out_name = names[-1]
    out_ext = b.block_loop_extents(out_name)
    if len(out_ext) < 2 or 0 in out_ext:
        raise NotRowReduction
    # 1. inline elementwise blocks, except those whose values a reduction and the output share
    for name in names[:-1]:
        if REDUCE in kinds[name] or name.endswith("_exp"):
            continue
        trial = b.fork()
        try:
            trial.compute_inline(trial.get_block(name))
        except Exception:  # read by a reduction in a way that cannot inline: keep it
            continue
        b.compute_inline(b.get_block(name))
    kept = b.block_names()[:-1]
    # 2. the row depth of each kept block: how many leading output loops its spatial loops match
    depth = {}
    for name in kept:
        block_kinds = kinds[name]
        ext = b.block_loop_extents(name)
        spatial = [e for k, e in zip(block_kinds, ext) if k == SPATIAL]
        if REDUCE in block_kinds:
            if block_kinds[: len(spatial)] != [SPATIAL] * len(spatial):
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
        depth[name] = n
    rows = min(depth.values())
    out = b.get_block(out_name)
    # 3. (before compute_at: TVM's rfactor wants the block alone under its loops)
    lane_blocks = [_rfactor_lanes(b, name, lanes) for name, lanes in in_lanes.items() if lanes]
    kept = b.block_names()[:-1]
    for name in reversed(kept):  # consumers first: compute_at needs them under the loop already
        b.compute_at(b.get_block(name), b.get_loops(out)[rows - 1])
    # 4. parallel rows, vectorized inner loops
    out_loops = b.get_loops(out)
    _vectorize_inner(b, out, out_name)
    for name in kept:
        if name not in lane_blocks and REDUCE not in kinds[name]:
            _vectorize_inner(b, b.get_block(name), name)
    small = math.prod(out_ext) < MIN_PARALLEL_ELEMENTS
    if threads > 1 and b.choice("threads", 1 if small else threads, (1, threads)) > 1:
        b.parallel(b.fuse(*out_loops[:rows]) if rows > 1 else out_loops[0])
    # the lanes' initial values split off last: TVM parallelizes a loop only over blocks that
    # still hold their init
    for rf in lane_blocks:
        block = b.get_block(rf)
        *_, lanes, steps = b.get_loops(block)  # compute_at made the rf block's loops lanes, then steps
        b.reorder(steps, lanes)
        b.vectorize(lanes)
        init = b.decompose_reduction(block, steps)
        b.vectorize(b.get_loops(init)[-1])


def _vectorize_inner(b, block, name: str) -> None:
    """Vectorize the innermost loop, or a 16/8/4-wide piece of it when it is long."""
    loops = b.get_loops(block)
    if not loops:
        return
    extent = b.extent(loops[-1])
    if extent <= MAX_VECTOR:
        b.vectorize(loops[-1])
        return
    for width in (16, 8, 4):
        if extent % width == 0:
            _, inner = b.split(loops[-1], [b.knob(f"vector_{name}", width)])
            b.vectorize(inner)
            return


def _lanes(b, name: str) -> int | None:
    """How many lanes reduction block `name` is summed in (step 3), or None: it must reduce one
    axis, its innermost, that the lanes divide at least twice over."""
    block = b.get_block(name)
    kinds = b.iter_kinds(block)
    if kinds.count(REDUCE) != 1 or kinds[-1] != REDUCE or b.loop_count(block) != len(kinds):
        return None
    extent = b.block_loop_extents(name)[-1]
    # a divisor only: TVM 0.27 miscomputes an rfactor of an uneven split once computed at (verify.py)
    return next((lanes for lanes in LANES if extent % lanes == 0 and extent >= 2 * lanes), None)


def _rfactor_lanes(b, name: str, lanes: int) -> str:
    """Split reduction `name`'s axis into steps x lanes and rfactor the lanes: a block `name`_rf
    of partial results, before `name`, which then sums them. Returns the rf block's name."""
    block = b.get_block(name)
    row = b.get_loops(block)[-1]
    knob = b.knob(f"lanes_{name}", lanes)
    taken, extent = int(knob.owner.decision), b.extent(row)
    if extent % taken or extent < 2 * taken:  # (a tuner's value) uneven, or no loop of steps left
        raise DecisionError(f"lanes_{name} must divide the row of {extent} at least twice, not {taken}")
    _, inner = b.split(row, [knob])
    b.rfactor(inner, 0)
    names = b.block_names()
    return names[names.index(name) - 1]
