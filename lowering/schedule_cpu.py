"""CPU schedules for kernels, of one op or of a fused group (`nn.fused`, one PrimFunc whose blocks
are its ops' computes): a default one for every kernel, and blocked ones for kernels with an
anchor op. `cpu_schedule` is the entry point (build.py).

The default (`default_cpu_schedule`), simple, safe, and already parallel:
  1. Inline every block but the last (padding, broadcasting helpers) into its consumer.
  2. In the output block, the loops over spatial axes come first (TE writes them that way).
     Fuse the outer spatial loops until there is enough work for every core, and run the fused
     loop in parallel.
  3. If the innermost loop is spatial (nothing is reduced inside it), vectorize it when short, or
     a piece of it (16, 8 or 4 lanes that divide it) when long. Reductions keep their loop order.

Anchor ops, picked by the name of the kernel's reduction block:
  - matmul / gemm (`matmul_schedule`): B packed [N/nv, K, nv] (te/linalg.py), an mb x (nj*nv)
    block of C in registers, k unrolled, vectorized, parallel over the blocks;
  - conv2d (`conv_schedule`): group 1 with weights packed [O/ob, C, KH, KW, ob] (te/conv.py) and
    an ob-channel x wb-column block in registers; depthwise with a vector of output columns.
Either falls back to the default when the loop nest is not the shape it expects. A fused group's
epilogue (the blocks after the anchor: bias, batch_norm, residual add, relu, ...) is computed in
the register block's write-back (`_epilogues`); a group without an anchor (a chain of elementwise
and injective ops, a reduction with its producers) takes the default, which inlines the
producers and keeps the reductions.
"""

from __future__ import annotations

from .tvm_adapter import Schedule

SPATIAL, REDUCE = 0, 2  # tvm IterVar iter_type values for data-parallel and reduction axes
MAX_VECTOR = 64
MIN_PARALLEL_ELEMENTS = 16384  # below this many loop iterations a kernel runs on one thread


def cpu_schedule(sch: Schedule, threads: int) -> Schedule:
    """The schedule for a kernel (one op or a fused group): its anchor op's own, else the default."""
    names = {sch.get(b).name_hint: b for b in sch.get_child_blocks(sch.get_sblock("root"))}
    from .schedule_nchwc import nchwc_conv_schedule  # (imported here: it uses this module's helpers)
    for name, fn in (("matmul", matmul_schedule), ("gemm", matmul_schedule), ("conv2d", conv_schedule),
                     ("conv2d_nchwc", nchwc_conv_schedule)):
        if name in names:
            try:
                return fn(sch.copy(), names[name], threads)
            except Exception:  # _NotThisShape, or a TVM schedule error on a shape not foreseen
                break  # (tests/test_schedules_cpu.py checks the zoo's shapes do take the blocked one)
    from .schedule_reduce import NotRowReduction, row_reduction_schedule
    try:
        return row_reduction_schedule(sch.copy(), threads)
    except NotRowReduction:
        pass
    return default_cpu_schedule(sch, threads)


class _NotThisShape(Exception):
    pass


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
    elif n_spatial == len(loops) and extents[-1] > MAX_VECTOR and _divisor(extents[-1], (16, 8, 4)) > 1:
        # a long innermost loop (an image row, a flat tensor): vectorize a piece that divides it
        v = _divisor(extents[-1], (16, 8, 4))
        lo, li = sch.split(loops[-1], [None, v])
        sch.vectorize(li)
        outer = [*loops[: n_spatial - 1], lo]
        extents = [*extents[:-1], extents[-1] // v]
    else:
        outer = loops[: n_spatial] if n_spatial < len(loops) else loops[: n_spatial - 1] or loops[:1]
    # 2. fuse outer spatial loops until there is work for each thread, then parallelize; not
    # when the whole kernel is small: waking the thread pool cost ~3 us per call, more than an
    # add or relu on a few thousand floats takes on one core (the MLP's 256-wide epilogues)
    total = 1
    for extent in extents:
        total *= extent
    if total < MIN_PARALLEL_ELEMENTS:
        return sch
    take, work = 0, 1
    while take < len(outer) and work < threads * 4:
        work *= extents[take]
        take += 1
    if take == 0:
        return sch
    fused = sch.fuse(*outer[:take]) if take > 1 else outer[0]
    sch.parallel(fused)
    return sch


# ---------------------------------------------------------------------------------------------
# matmul / gemm


def _divisor(n: int, choices) -> int:
    """The first of `choices` that divides n (1 if none does)."""
    for c in choices:
        if n % c == 0:
            return c
    return 1


def _kinds(sch, block):
    return [iv.iter_type for iv in sch.get(block).iter_vars]


def _extents(sch, loops):
    return [int(sch.get(l).extent) for l in loops]


def _parallel_spatial(sch, block, threads: int, vector_last: bool = True):
    """A data-parallel block (a packing copy, a pad): outer loops fused and parallel, the
    innermost vectorized."""
    loops = sch.get_loops(block)
    ext = _extents(sch, loops)
    if len(loops) > 1 and vector_last and ext[-1] <= MAX_VECTOR:
        sch.vectorize(loops[-1])
        loops = loops[:-1]
        ext = ext[:-1]
    take, work = 0, 1
    while take < len(loops) and work < threads * 4:
        work *= ext[take]
        take += 1
    if take:
        sch.parallel(sch.fuse(*loops[:take]) if take > 1 else loops[0])


def _epilogues(sch, producer):
    """Compute the elementwise blocks after `producer` (the register block's write-back) in it:
    the op's own (gemm_out, round, bias_add) and a fused group's epilogue (batch_norm, relu, a
    residual add, ...). Each but the last is inlined into its consumers (`compute_inline`; an
    epilogue that reads a value twice, x * erf(x), then reads the producer twice), and the last,
    the kernel's output, into the producer (`reverse_compute_inline`), so the block is written
    to memory once, finished."""
    blocks = sch.get_child_blocks(sch.get_sblock("root"))
    names = [sch.get(b).name_hint for b in blocks]
    after = names[names.index(sch.get(producer).name_hint) + 1:]
    for name in after[:-1]:
        sch.compute_inline(sch.get_sblock(name))
    if after:
        sch.reverse_compute_inline(sch.get_sblock(after[-1]))


def _vectorize_own(sch, blk, nest) -> None:
    """Vectorize the innermost loop of `blk` that is its own (not shared with block `nest`): a
    loop of extent 1 disappears in compute-at, and the shared loop around a reduction must not
    be vectorized."""
    shared = [sch.get(l) for l in sch.get_loops(nest)]
    own = [l for l in sch.get_loops(blk) if not any(sch.get(l).same_as(x) for x in shared)]
    if own:
        sch.vectorize(own[-1])


REGISTER_FLOATS = 256  # accumulators kept in registers: 16 AVX-512 registers of 16 floats


def matmul_schedule(sch: Schedule, block, threads: int) -> Schedule:
    """C[..., i, j] = sum_k A[..., i, k] * B'[..., k, j], B' packed [N/nv, K, nv] or read in place.

    An mb x (nj*nv) block of C is summed in a local buffer (registers) while k runs (unrolled by
    ku); its nv columns are one vector, its mb rows and nj vectors unrolled. The loops over
    batch, row blocks and column blocks are fused and parallel; the packing copy is its own
    parallel loop nest. The block then goes to C through the epilogue (alpha/beta/bias, a cast).
    """
    kinds = _kinds(sch, block)
    loops = sch.get_loops(block)
    if len(loops) != len(kinds) or len(kinds) < 3 or kinds[-1] != REDUCE or REDUCE in kinds[:-1]:
        raise _NotThisShape
    ext = _extents(sch, loops)
    if 0 in ext:
        raise _NotThisShape
    *batch_ext, m, n, k = ext
    names = {sch.get(b).name_hint: b for b in sch.get_child_blocks(sch.get_sblock("root"))}
    packed = [r.source for r in sch.get(block).reads if str(r.source.name).endswith("_packed")]
    if "pack_b" in names:
        nv = _extents(sch, sch.get_loops(names["pack_b"]))[-1]
    elif packed:
        nv = int(packed[0].shape[-1])
    else:
        nv = _divisor(n, (32, 16, 8, 4, 2))
    mb = _divisor(m, (8, 6, 4, 3, 2))
    ku = _divisor(k, (4, 2))
    batch = 1
    for d in batch_ext:
        batch *= d
    nj = 1
    for cand in range(max(1, REGISTER_FLOATS // (mb * nv)), 0, -1):
        if (n // nv) % cand == 0 and batch * (m // mb) * (n // (nv * cand)) >= min(2 * threads, batch * (m // mb) * (n // nv)):
            nj = cand
            break

    order = list(names)
    for name in order[: order.index(sch.get(block).name_hint)]:  # stages before it but the packing
        if name != "pack_b":
            sch.compute_inline(sch.get_sblock(name))
    wb = sch.cache_write(block, 0, "local")
    _epilogues(sch, wb)
    *bl, i, j, kk = sch.get_loops(block)
    io, ii = sch.split(i, [None, mb])
    jo, jm, ji = sch.split(j, [None, nj, nv])
    ko, ki = sch.split(kk, [None, ku])
    sch.reorder(*bl, io, jo, ko, ki, ii, jm, ji)
    sch.reverse_compute_at(wb, jo)
    _vectorize_own(sch, wb, block)
    outer = sch.fuse(*bl, io, jo)
    sch.parallel(outer)
    sch.vectorize(ji)
    sch.unroll(jm)
    sch.unroll(ii)
    sch.unroll(ki)
    init = sch.decompose_reduction(block, ko)
    _vectorize_own(sch, init, block)
    if "pack_b" in names:
        _parallel_spatial(sch, sch.get_sblock("pack_b"), threads)
    return sch


# ---------------------------------------------------------------------------------------------
# conv2d (NCHW; an NHWC op reads and writes through transposes that are inlined)


def _conv_prologue(sch, block):
    """Inline the layout views before the conv (to_nchw); keep `pad` and `pack_w` as their own
    loop nests (a padded copy makes the inner loop read without a bounds test)."""
    blocks = sch.get_child_blocks(sch.get_sblock("root"))
    names = [sch.get(b).name_hint for b in blocks]
    for name in names[: names.index(sch.get(block).name_hint)]:
        if name not in ("pad", "pack_w"):
            sch.compute_inline(sch.get_sblock(name))


def _finish_spatial(sch, threads):
    for name in ("pad", "pack_w"):
        try:
            blk = sch.get_sblock(name)
        except Exception:
            continue
        _parallel_spatial(sch, blk, threads)


def conv_schedule(sch: Schedule, block, threads: int) -> Schedule:
    """Direct convolution, register-blocked.

    Group 1 (weights packed by `pack_w` to [O/ob, C, KH, KW, ob]): an ob x wb block of the output
    (ob channels, one vector; wb output columns, unrolled) is summed in registers over (c, ky,
    kx). Depthwise (one input channel per group): a vector of output columns of one channel is
    summed in registers over (ky, kx). Other grouped convs keep the default schedule.
    """
    kinds = _kinds(sch, block)
    loops = sch.get_loops(block)
    if len(loops) != 7 or kinds[:4] != [SPATIAL] * 4 or kinds[4:] != [REDUCE] * 3:
        raise _NotThisShape
    ext = _extents(sch, loops)
    if 0 in ext:
        raise _NotThisShape
    _, o_ext, h_ext, w_ext, c_ext, _, _ = ext
    names = [sch.get(b).name_hint for b in sch.get_child_blocks(sch.get_sblock("root"))]
    packed = [r.source for r in sch.get(block).reads if str(r.source.name).endswith("_packed")]
    if "pack_w" in names or packed:
        ob = int(packed[0].shape[-1]) if packed else _extents(sch, sch.get_loops(sch.get_sblock("pack_w")))[-1]
        wb = max(d for d in range(1, 15) if w_ext % d == 0)
        _conv_prologue(sch, block)
        wbk = sch.cache_write(block, 0, "local")
        # the register block's channels innermost, so that one vector is contiguous
        sch.transform_layout(block, ("write", 0), lambda b, o, i, j: (b, i, j, o))
        _epilogues(sch, wbk)
        b, o, i, j, rc, ry, rx = sch.get_loops(block)
        oo, oi = sch.split(o, [None, ob])
        jo, ji = sch.split(j, [None, wb])
        sch.reorder(b, oo, i, jo, rc, ry, rx, ji, oi)
        sch.reverse_compute_at(wbk, jo)
        _vectorize_own(sch, wbk, block)
        sch.parallel(sch.fuse(b, oo, i))
        sch.vectorize(oi)
        sch.unroll(ji)
        init = sch.decompose_reduction(block, rc)
        _vectorize_own(sch, init, block)
    elif c_ext == 1:  # depthwise (or any one-channel-per-group conv)
        vw = _divisor(w_ext, (16, 14, 8, 7, 4, 2))
        _conv_prologue(sch, block)
        if "pad" in names and _extents(sch, sch.get_loops(sch.get_sblock("pad")))[-1] >= 2 * w_ext - 1:
            # strided: the padded copy costs more than the bounds tests it saves (measured)
            sch.compute_inline(sch.get_sblock("pad"))
        wbk = sch.cache_write(block, 0, "local")
        _epilogues(sch, wbk)
        b, o, i, j, rc, ry, rx = sch.get_loops(block)
        jo, ji = sch.split(j, [None, vw])
        sch.reorder(b, o, i, jo, rc, ry, rx, ji)
        sch.reverse_compute_at(wbk, jo)
        _vectorize_own(sch, wbk, block)
        sch.parallel(sch.fuse(b, o))
        sch.vectorize(ji)
        init = sch.decompose_reduction(block, rc)
        _vectorize_own(sch, init, block)
    else:
        raise _NotThisShape
    _finish_spatial(sch, threads)
    return sch
