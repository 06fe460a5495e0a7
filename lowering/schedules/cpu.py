"""CPU schedule generators for kernels of one op or of a fused group (`nn.fused`, one PrimFunc
whose blocks are its ops' computes): a default one for every kernel, and blocked ones for kernels
with an anchor op. Each emits schedule IR (builder.py), its choices as knobs. `cpu_schedule` is
the entry point.

The default (`default_schedule`), simple, safe, and already parallel:
  1. Inline every block but the last (padding, broadcasting helpers) into its consumer.
  2. In the output block, the loops over spatial axes come first (TE writes them that way).
     Fuse the outer spatial loops until there is enough work for every core, and run the fused
     loop in parallel.
  3. If the innermost loop is spatial (nothing is reduced inside it), vectorize it when short, or
     a piece of it (knob `vector`: 16, 8 or 4 lanes that divide it) when long; rows that are not
     whole vectors in planes that are, as one loop of 16-lane pieces (`_plane_in_vectors`).
     Reductions keep their loop order.

Anchor ops, picked by the name of the kernel's reduction block:
  - matmul / gemm (`matmul_schedule`): B packed [N/nv, K, nv] (te/linalg.py, knob `pack_nv`), an
    mb x (nj*nv) block of C in registers, k unrolled by ku, vectorized, parallel over the blocks;
  - conv2d (`conv_schedule`): dense and grouped, with weights packed [O/ob, C/G, KH, KW, ob]
    (te/conv.py, knob `pack_ob`) and an ob-channel x wb-column block in registers (large weights
    summed a chunk of input channels at a time over all rows: `_streams_weights`), or, for a
    short reduction over rows of whole vectors, a block of cb channels x nv column vectors;
    depthwise with a block of hb rows x vw columns, reading a strided conv's input split into
    column phases;
  - conv2d_nchwc (nchwc.py);
  - a depthwise conv fused into the 1x1 conv that reads it, a 1x1 conv fused into the strided
    depthwise conv that reads it, and the three convs of an inverted residual block
    (fused_conv.py), tried first.
Either falls back to the default when the loop nest is not the shape it expects. A fused group's
epilogue (the blocks after the anchor: bias, batch_norm, residual add, relu, ...) is computed in
the register block's write-back (`epilogues`); a group without an anchor (a chain of elementwise
and injective ops, a reduction with its producers) takes the row-reduction schedule (reduce.py)
when it fits, else the default, which inlines the producers and keeps the reductions.
"""

from __future__ import annotations

import math

from ..te.conv import COLUMN_LANES, COLUMN_MAX_REDUCTION, block_columns
from .builder import DecisionError
from .common import (MAX_VECTOR, MIN_PARALLEL_ELEMENTS, REDUCE, SPATIAL, STAGE_BYTES, NotThisShape, block_name_of,
                     channel_block_write_back, deal_loop, divisor, epilogues, group_output_nest, parallel_spatial,
                     vectorize_own)
from .fused_conv import (concat_pointwise_schedule, depthwise_pointwise_schedule, inverted_residual_schedule,
                         is_concat_pointwise, is_depthwise_pointwise, is_inverted_residual, is_pointwise_depthwise,
                         pointwise_depthwise_schedule)
from .nchwc import nchwc_conv_schedule
from .pool import POOL_BLOCKS, pool_schedule
from .reduce import NotRowReduction, row_reduction_schedule
from .winograd import is_winograd, winograd_schedule


def cpu_schedule(b, threads: int):
    """The schedule for a kernel (one op or a fused group): its anchor op's own, else the
    row-reduction one, else the default. Returns the builder that holds it, with the name of the
    generator that wrote it in `generator`."""
    names = b.block_names()
    for fits, generator in ((is_winograd, winograd_schedule),  # Winograd convs (winograd.py)
                            (is_depthwise_pointwise, depthwise_pointwise_schedule),  # fused convs (fused_conv.py)
                            (is_pointwise_depthwise, pointwise_depthwise_schedule),
                            (is_inverted_residual, inverted_residual_schedule),
                            (is_concat_pointwise, concat_pointwise_schedule)):
        if fits(b):
            trial = _attempt(b, generator, threads)
            if trial is not None:
                return trial
    for name, fn in (("matmul", matmul_schedule), ("gemm", matmul_schedule), ("conv2d", conv_schedule),
                     ("conv2d_nchwc", nchwc_conv_schedule), *((n, pool_schedule) for n in POOL_BLOCKS)):
        if name in names:
            trial = _attempt(b, fn, name, threads)
            if trial is not None:
                return trial
            break  # (tests/test_schedules_cpu.py checks the zoo's shapes do take the blocked one)
    trial = b.fork()
    try:
        row_reduction_schedule(trial, threads)
        trial.generator = row_reduction_schedule.__name__
        return trial
    except NotRowReduction:
        pass
    default_schedule(b, threads)
    b.generator = default_schedule.__name__
    return b


def _attempt(b, generator, *args):
    """`generator` written into a fork of `b`: the fork, or None when it does not fit the kernel
    (NotThisShape, or a TVM schedule error on a shape not foreseen). A choice given a value the
    generator does not offer (DecisionError) is raised, never a fallback."""
    trial = b.fork()
    try:
        generator(trial, *args)
    except DecisionError:
        raise
    except Exception:
        return None
    trial.generator = generator.__name__
    return trial


def _plane_in_vectors(extents: list[int]) -> bool:
    """Whether the default schedule vectorizes the last two loops as one (step 3): when the rows
    are more than a vector but not whole vectors, and the planes are whole vectors (56x56, 28x28),
    so that no vector crosses into the next plane (a concat's operand or a channel's scale is
    the same for all its lanes). Vectorized whole, a row of 56 is 3.5 registers, and LLVM built
    each per-channel operand of such a vector lane by lane: DenseNet-121's concat of 6 inputs
    (224 channels at 56x56) with its batch norm and relu took 0.61 ms so, 0.097 ms as vectors of
    16 over the plane (alone, 2 threads); without the concat 0.10 -> 0.09 ms."""
    return (len(extents) > 2 and COLUMN_LANES < extents[-1] and extents[-1] % COLUMN_LANES != 0
            and extents[-1] * extents[-2] % COLUMN_LANES == 0)


def default_schedule(b, threads: int) -> None:
    names = b.block_names()
    for name in names[:-1]:  # 1.
        trial = b.fork()
        try:
            trial.compute_inline(trial.get_block(name))
        except Exception:  # not inlinable (a reduction feeding another): leave it as its own loop nest
            continue
        b.compute_inline(b.get_block(name))
    out = b.get_block(b.block_names()[-1])
    kinds = b.iter_kinds(out)
    if b.loop_count(out) != len(kinds):
        return
    loops = b.get_loops(out)
    n_spatial = 0
    while n_spatial < len(kinds) and kinds[n_spatial] == SPATIAL:
        n_spatial += 1
    if n_spatial == 0:
        return
    extents = b.extents(loops)
    if 0 in extents:  # an empty output (a split's empty piece): nothing to run, TVM cannot vectorize it
        return
    # 3. vectorize the innermost loop when it is spatial and short (before fusing changes loops)
    elements = math.prod(extents)
    if n_spatial == len(loops) and _plane_in_vectors(extents):
        # rows that are not whole vectors, planes that are: the plane as one loop, 16 lanes at a time
        lo, li = b.split(b.fuse(loops[-2], loops[-1]), [b.knob("vector", COLUMN_LANES)])
        b.vectorize(li)
        outer = [*loops[: n_spatial - 2], lo]
        extents = [*extents[:-2], extents[-2] * extents[-1] // COLUMN_LANES]
    elif n_spatial == len(loops) and len(loops) > 1 and extents[-1] <= MAX_VECTOR:
        b.vectorize(loops[-1])
        outer = loops[: n_spatial - 1]
    elif n_spatial == len(loops) and extents[-1] > MAX_VECTOR and divisor(extents[-1], (16, 8, 4)) > 1:
        # a long innermost loop (an image row, a flat tensor): vectorize a piece that divides it
        v = divisor(extents[-1], (16, 8, 4))
        lo, li = b.split(loops[-1], [b.knob("vector", v)])
        b.vectorize(li)
        outer = [*loops[: n_spatial - 1], lo]
        extents = [*extents[:-1], extents[-1] // v]
    else:
        outer = loops[: n_spatial] if n_spatial < len(loops) else loops[: n_spatial - 1] or loops[:1]
    # 2. fuse outer spatial loops until there is work for each thread, then parallelize; not
    # when the whole kernel is small: waking the thread pool cost ~3 us per call, more than an
    # add or relu on a few thousand floats takes on one core (the MLP's 256-wide epilogues)
    # (choices: `threads` 1 runs it on one thread; `parallel_loops` how many outer loops are fused)
    # (elements, not vector iterations: a flat add + relu of 65536 floats ran 6.6 us on one
    # thread, 4.6 us on two; 128x28x28 12.1 -> 8.3 us; 32768 floats 3.5 -> 3.0 us)
    small = elements < MIN_PARALLEL_ELEMENTS
    if not outer:
        return
    one_thread = b.choice("threads", 1 if small else threads, (1, threads)) == 1 if threads > 1 else small
    if one_thread:
        return
    take, work = 0, 1
    while take < len(outer) and work < threads * 4:
        work *= extents[take]
        take += 1
    take = b.choice("parallel_loops", max(take, 1), range(1, len(outer) + 1))
    fused = b.fuse(*outer[:take]) if take > 1 else outer[0]
    b.parallel(fused)


# ---------------------------------------------------------------------------------------------
# matmul / gemm


REGISTER_FLOATS = 256  # accumulators kept in registers: 16 AVX-512 registers of 16 floats


def _packed_width(b, block) -> int | None:
    packed = [shape for name, shape in b.reads(block) if name.endswith("_packed")]
    return int(packed[0][-1]) if packed else None


def matmul_schedule(b, name: str, threads: int) -> None:
    """C[..., i, j] = sum_k A[..., i, k] * B'[..., k, j], B' packed [N/nv, K, nv] or read in place.

    An mb x (nj*nv) block of C is summed in a local buffer (registers) while k runs (unrolled by
    ku); its nv columns are one vector, its mb rows and nj vectors unrolled. The loops over
    batch, row blocks and column blocks are fused and parallel; the packing copy is its own
    parallel loop nest. The block then goes to C through the epilogue (alpha/beta/bias, a cast).
    """
    block = b.get_block(name)
    kinds = b.iter_kinds(block)
    if b.loop_count(block) != len(kinds) or len(kinds) < 3 or kinds[-1] != REDUCE or REDUCE in kinds[:-1]:
        raise NotThisShape
    loops = b.get_loops(block)
    ext = b.extents(loops)
    if 0 in ext:
        raise NotThisShape
    *batch_ext, m, n, k = ext
    names = b.block_names()
    if "pack_b" in names:
        nv = b.block_loop_extents("pack_b")[-1]
    elif _packed_width(b, block):
        nv = _packed_width(b, block)
    else:
        nv = divisor(n, (32, 16, 8, 4, 2))
    mb = divisor(m, (8, 6, 4, 3, 2))
    ku = divisor(k, (4, 2))
    batch = 1
    for d in batch_ext:
        batch *= d
    nj = 1
    for cand in range(max(1, REGISTER_FLOATS // (mb * nv)), 0, -1):
        if (n // nv) % cand == 0 and batch * (m // mb) * (n // (nv * cand)) >= min(2 * threads, batch * (m // mb) * (n // nv)):
            nj = cand
            break

    for other in names[: names.index(name)]:  # stages before it but the packing
        if other != "pack_b":
            b.compute_inline(b.get_block(other))
    wb = b.cache_write(block, 0, "local")
    epilogues(b, block_name_of(b, wb))
    *bl, i, j, kk = b.get_loops(block)
    nv_knob = b.knob("pack_nv", nv) if "pack_b" in names or _packed_width(b, block) else b.knob("nv", nv)
    io, ii = b.split(i, [b.knob("mb", mb)])
    jo, jm, ji = b.split(j, [b.knob("nj", nj), nv_knob])
    ko, ki = b.split(kk, [b.knob("ku", ku)])
    b.reorder(*bl, io, jo, ko, ki, ii, jm, ji)
    b.reverse_compute_at(wb, jo)
    vectorize_own(b, wb, block)
    # choice: the column blocks in the parallel loop too (the default), or only the row blocks
    parallel = [*bl, io, jo][: b.choice("parallel_loops", len(bl) + 2, (len(bl) + 1, len(bl) + 2))]
    b.parallel(b.fuse(*parallel) if len(parallel) > 1 else parallel[0])
    b.vectorize(ji)
    b.unroll(jm)
    b.unroll(ii)
    b.unroll(ki)
    init = b.decompose_reduction(block, ko)
    vectorize_own(b, init, block)
    if "pack_b" in names:
        parallel_spatial(b, "pack_b", threads)


# ---------------------------------------------------------------------------------------------
# conv2d (NCHW; an NHWC op reads and writes through transposes that are inlined)


def _conv_prologue(b, name: str) -> None:
    """Inline the layout views before the conv (to_nchw); keep `pad`, `phases` and `pack_w` as
    their own loop nests (a padded copy makes the inner loop read without a bounds test), but
    `pad` inlined into `phases` where the input is dealt into phases: one copy, which tests the
    bounds as it deals, rather than two. 2 threads, in the model: MobileNetV2's strided depthwise
    convs, 96 channels from 112x112 0.27 -> 0.23 ms and 144 from 56x56 0.10 -> 0.075 ms, its
    stem 0.20 -> 0.19 ms."""
    names = b.block_names()
    keep = ("phases", "pack_w") if "phases" in names else ("pad", "phases", "pack_w")
    for other in names[: names.index(name)]:
        if other not in keep:
            b.compute_inline(b.get_block(other))


def _finish_spatial(b, threads: int, placed=()) -> None:
    """Parallelize the copies before the anchor that its schedule left at the root (`placed`:
    those it computed inside its own loops), and a grouped conv's output after its padded
    channels (`group_output_nest`)."""
    output = group_output_nest(b)
    if output is not None:
        parallel_spatial(b, output, threads)
    for name in ("pad", "pack_w"):
        if name in b.block_names() and name not in placed:
            parallel_spatial(b, name, threads)
    if "phases" in b.block_names():
        deal_loop(b)
        parallel_spatial(b, "phases", threads, vector_last=False)


DEPTHWISE_FLOATS = 128  # a depthwise register block: 8 AVX-512 accumulators, 8 FMA chains


def depthwise_block(width: int, height: int) -> tuple[int, int]:
    """(vw, hb): a depthwise conv's register block, hb output rows x vw columns, vw the largest
    divisor of the row up to 64 lanes and hb the largest divisor of the height that keeps the
    block within DEPTHWISE_FLOATS. Each of the block's vectors is its own chain of FMAs over the
    window: one 16-lane vector per block is one chain, which waits on the FMA's latency at every
    tap. MobileNetV2's 144-channel 3x3 conv at 56x56 took 0.43 ms with a block of one 14-lane
    vector and 0.22 ms with 2 rows x 56 columns (1 thread)."""
    vw = max(d for d in range(1, min(width, 64) + 1) if width % d == 0)
    hb = max(d for d in range(1, height + 1) if height % d == 0 and d * vw <= max(DEPTHWISE_FLOATS, vw))
    return vw, hb


def _deals_first(outer_extents: list[int]) -> bool:
    """Whether a strided depthwise conv deals its whole input into phases before it starts
    (rather than each parallel task its rows): when its register block is the whole output plane
    (the extents of the loops over blocks are 1s). Each task then deals one channel's plane into
    a stack array of constant indices, which LLVM may split into pieces written and read at
    other widths (SROA; the reads wait on store forwarding): MobileNetV2's 576 channels from
    14x14 to 7x7 took 0.238 ms so, 0.033 ms dealt first (160 channels: 0.073 -> 0.011 ms; 96
    from 16x16 to 8x8 0.012 -> 0.009). Where LLVM leaves the array whole, dealing first costs a
    pass over the copy: 13x13 to 7x7 0.032 -> 0.038 ms, 12x12 to 6x6 0.003 -> 0.005, 256
    channels 7x7 to 4x4 0.007 -> 0.011 (alone, 2 threads, one process)."""
    return all(e == 1 for e in outer_extents)


def staged_chunk(b, hb: int, height: int, window: int) -> int:
    """How many blocks of hb output rows share one copy of the padded (and dealt) input rows: the
    most whose rows (of a `window`-high kernel; 4-byte elements) fit STAGE_BYTES. A copy per
    block copies the rows two blocks share twice (a 3x3 window and hb = 2: 5 rows for 2 output
    rows, strided 5 for 1), and a copy that leaves L1 costs more than that saves. One thread, a
    copy per block against the chunk chosen here: MobileNetV2's 96-channel 3x3 conv from 112x112
    to 56x56 0.53 -> 0.39 ms, 144 channels from 56x56 0.19 -> 0.14 ms, 32 channels at 112x112
    (stride 1) 0.23 -> 0.18 ms."""
    per_row, padded_height = 0, None
    for name in ("pad", "phases"):
        if name in b.block_names():
            ext = b.block_loop_extents(name)
            padded_height = ext[2]
            per_row += math.prod(ext[3:]) * 4
    if not per_row:
        return 1
    stride = max(1, padded_height // height)

    def staged(chunk):
        return min(padded_height, (chunk * hb - 1) * stride + window) * per_row
    chunk = 1
    while chunk * hb < height and staged(chunk + 1) <= STAGE_BYTES:
        chunk += 1
    return chunk


def _data_reads(b, block) -> list:
    """(name, shape) of what a conv block reads besides its weights (packed by `pack_w`, or a
    constant weight packed once at compile time, `*_packed`)."""
    return [(name, shape) for name, shape in b.reads(block) if name != "pack_w" and not name.endswith("_packed")]


def _columns_fit(b, block, ext) -> bool:
    """Whether a dense conv takes the column block: a stride-1 conv (its input row is at most
    kw - 1 columns wider than its output row: a stride of 2 makes it twice as wide) whose rows are
    whole vectors, with a short reduction, not padded in channels. The channel block writes
    NCHW through a transpose of its ob x wb block in the write-back; with few multiply-adds per
    output (MobileNetV2's 1x1 convs at 112x112 do 16 and 32) that transpose is most of the work.
    One thread: 16 -> 96 channels at 112x112 0.64 -> 0.38 ms, 32 -> 16 0.20 -> 0.13 ms, 64 -> 64
    1.57 -> 1.32 ms; with 128 multiply-adds per output the channel block is faster (1.38 against
    1.82 ms), and at 56 columns (no whole vectors) twice as fast."""
    _, _, _, w_ext, c_ext, ky_ext, kx_ext = ext
    if _merges_rows(b, block, ext):
        return True
    if (w_ext % COLUMN_LANES or c_ext * ky_ext * kx_ext > COLUMN_MAX_REDUCTION
            or any(n.startswith("unpad") for n in b.block_names())):
        return False
    rows = _data_reads(b, block)
    if len(rows) != 1:
        return False
    name, shape = rows[0]
    return name == "phases" or (len(shape) == 4 and int(shape[-1]) <= 2 * w_ext - 2)


def _merges_rows(b, block, ext) -> bool:
    """Whether the column block runs over a 1x1 conv's output planes as one long row (rows and
    columns merged into one axis: `sched.merge_axes`): a dense, unpadded 1x1 conv with stride 1
    and the column block's short reduction, whose rows are not whole vectors but whose planes are
    (56x56: 3136 pixels, 196 vectors; 28x28), and whose output is larger than its input (an
    expansion: the other way round, _rows_first and _stages_rows). Its input and output (the same
    pixels, in the same order) are then read and written in whole vectors, where the channel
    block transposes its registers into rows of 56 columns.

    Alone, 2 threads, channel block against merged rows: ResNet-50's 64 -> 256 at 56x56 with its
    residual add and relu 0.579 -> 0.380 ms, MobileNetV2's 32 -> 192 at 28x28 0.055 -> 0.036 ms.
    In the model: ResNet-50's 64 -> 256 0.952 -> 0.659 ms, with the residual add 1.46/1.42/1.34 ->
    0.88/0.81/0.81 ms. Its 64 -> 64 at 56x56 (as large as its input) ran 0.17 -> 0.26 ms: rows
    outermost, staged, is faster there."""
    _, _, h_ext, w_ext, c_ext, ky_ext, kx_ext = ext
    if ky_ext * kx_ext != 1 or w_ext % COLUMN_LANES == 0 or (h_ext * w_ext) % COLUMN_LANES:
        return False
    if c_ext > COLUMN_MAX_REDUCTION or any(n.startswith(("unpad", "pad")) for n in b.block_names()):
        return False
    rows = _data_reads(b, block)
    return (len(rows) == 1 and [int(d) for d in rows[0][1]][1:] == [c_ext, h_ext, w_ext]
            and ext[1] > c_ext)


def _column_block(b, name: str, block, ext) -> None:
    """A dense conv's register block of cb channels x nv vectors of output columns (NCHW: each
    channel's columns contiguous), summed over (c, ky, kx) with each weight broadcast, and
    written back as whole vectors with the epilogue."""
    merged = _merges_rows(b, block, ext)
    _conv_prologue(b, name)
    wbk = b.cache_write(block, 0, "local")
    epilogues(b, block_name_of(b, wbk))
    if merged:  # rows and columns one axis: of the registers' buffer, the conv and its write-back
        b.merge_axes(block, "write", 2, 3)
        b.merge_axes(block, "iters", 2, 3)
        b.merge_axes(wbk, "iters", 2, 3)
        bb, o, j, rc, ry, rx = b.get_loops(block)
        rows = ()
    else:
        bb, o, i, j, rc, ry, rx = b.get_loops(block)
        rows = (i,)
    o_ext = b.extents([o])[0]
    lanes = b.knob("lanes", COLUMN_LANES)
    oo, oi = b.split(o, [b.knob("cb", divisor(o_ext, (8, 4, 2)))])
    jo, jv, ji = b.split(j, [b.knob("nv", 2), lanes])
    b.reorder(bb, oo, *rows, jo, rc, ry, rx, oi, jv, ji)
    b.reverse_compute_at(wbk, jo)
    _, vector = b.split(b.own_loops(block, b.get_loops(wbk))[-1], [lanes])
    b.vectorize(vector)
    b.parallel(b.fuse(bb, oo, *rows) if rows else b.fuse(bb, oo, jo))
    b.unroll(oi)
    b.unroll(jv)
    b.vectorize(ji)
    init = b.decompose_reduction(block, rc)
    vectorize_own(b, init, block)


ROWS_FIRST_MAX_WEIGHTS = 384 * 1024  # weight elements (1.5 MiB of float32): 1x1 convs up to 1024 -> 384
ROWS_FIRST_MIN_ROWS = 8  # output rows; fewer (7x7 maps) read the input again from L2 for little
EXPANDING_ROWS_FIRST_MIN_ROWS = 24  # output rows from which a 1x1 conv to more channels runs rows first


def _rows_first(b, block, ext) -> bool:
    """Whether the channel block runs output rows outermost (each row's channel blocks in turn)
    rather than channel blocks outermost (each block's rows in turn): for a 1x1 conv whose input
    is at least as large as its output (ResNet-50's 64 -> 64 at 56x56, after its max pool, took
    0.275 ms in the model channel blocks outermost, 0.166 rows outermost, 0.150 with its rows
    staged too, _stages_rows). Channel blocks outermost read the whole input once per block of
    output channels; rows outermost read each input row once, while it is in cache, and write the
    output's channel planes a row at a time. 1 thread, channel blocks outermost against rows
    outermost: ResNet-50's 256 -> 128 1x1 conv at 56x56 2.03 -> 1.45 ms, 256 -> 512 with stride 2
    1.98 -> 1.40 ms, 256 -> 64 1.01 -> 0.88 ms; but 64 -> 256 (a larger output) 0.67 -> 0.80 ms,
    and 3x3 convs, whose weights rows outermost read again for every row, 1-12% slower (on the
    whole padded input: padded a row at a time they are faster, _pads_per_row). In the
    model, 2 threads: ResNet-50 36.9 -> 35.0 ms, DenseNet-121 40.7 -> 35.5 ms, MobileNetV2 and
    ResNet-18 within the noise (4.09 / 4.12, 13.1 / 13.3 ms).

    But rows outermost read the weights once per row: weights larger than a core's share of L2
    (ROWS_FIRST_MAX_WEIGHTS) come from L3 each time. ResNet-50's 1024 -> 2048 downsample at 7x7
    (8 MB of weights) took 2.88 ms in the model rows outermost, 1.18 channel blocks outermost;
    its 2048 -> 512 convs (4 MB) 1.2 -> 0.57 ms; the model 39.0 -> 37.5 ms (2 threads, one run).

    And with few output rows (ROWS_FIRST_MIN_ROWS) the input is small enough to read again from
    L2 for each block of channels, while rows outermost still read the weights once per row. In
    the model, 2 threads, rows against channel blocks outermost at 7x7: MobileNetV2's 960 -> 320
    0.151 -> 0.117 ms, 960 -> 160 0.073 -> 0.066 and 0.082 -> 0.069, 576 -> 160 0.046 -> 0.041;
    DenseNet-121's 512 -> 128 0.040 -> 0.039. At 14x14 rows still win: ResNet-50's 1024 -> 256
    0.39 against 0.45 ms, and at 28x28 512 -> 128 0.40 against 0.64.

    A dense 1x1 conv to more channels (a larger output) runs rows outermost too from
    EXPANDING_ROWS_FIRST_MIN_ROWS rows (and, from STAGE_MIN_COLUMNS columns, copies its rows
    first: `_stages_rows`), though alone it is slower so (1 thread, ResNet-50's 64 -> 256 at
    56x56 0.67 -> 0.80 ms): in the model its output then lies where the kernels after it,
    rows outermost themselves (a 1x1 conv to fewer channels, a 3x3 conv padded a row at a time,
    `_pads_per_row`), read it, each core the rows it wrote, not half of them in the other core's
    L2. In the model, 2 threads, one process, channel blocks against rows outermost (two runs
    each): ResNet-50's 128 -> 512 at 28x28 with its residual add 0.541/0.534 -> 0.471/0.441 ms;
    SqueezeNet's 32 -> 128 at 27x27 0.052 -> 0.045 ms and the 256 -> 32 conv that reads its
    concat 0.097 -> 0.070, its 16 -> 64 at 55x55 0.076 -> 0.067 and the 128 -> 16 after it 0.116
    -> 0.107, the model 3.48 -> 3.42 ms (other runs within the noise); DenseNet-121's 96 -> 128
    at 56x56 after its batch norm and relu 0.884/0.908 -> 0.445/0.450 (staged, the copy computes
    them once a row, where each block of channels computed them again). At 14x14 the whole
    output fits in L2 and channel blocks stay ahead: ResNet-50's 256 -> 1024 with its add
    0.453/0.452 against 0.571/0.532 ms rows outermost, ShuffleNet's 120 -> 480 (3 groups)
    0.061/0.062 against 0.069/0.070. Nor grouped convs, whose blocks each read one group's
    channels: ShuffleNet's 60 -> 240 (3 groups) at 28x28 with its residual add 0.092/0.113
    against 0.107/0.105, and the model 3.31/3.43 against 3.45/3.49 ms rows outermost."""
    _, o_ext, h_ext, w_ext, c_ext, ky_ext, kx_ext = ext
    if ky_ext * kx_ext != 1 or o_ext * c_ext > ROWS_FIRST_MAX_WEIGHTS or h_ext < ROWS_FIRST_MIN_ROWS:
        return False
    inputs = _data_reads(b, block)
    if len(inputs) != 1 or len(inputs[0][1]) != 4:
        return False
    shape = [int(d) for d in inputs[0][1]]
    dense = shape[1] == c_ext  # (a grouped conv's block reads the channels of its group)
    return math.prod(shape) >= o_ext * h_ext * w_ext or (dense and h_ext >= EXPANDING_ROWS_FIRST_MIN_ROWS)


STREAM_MIN_WEIGHTS = 256 * 1024  # weight elements (1 MiB of float32), from which a conv streams them
STREAM_MAX_SUMS = 8 * 1024  # floats: the largest buffer of sums a chunked task keeps (32 KB, L1)
STREAM_MAX_PIXELS_1X1 = 64  # output pixels: a 1x1 conv on a larger map (13x13, 14x14) gains nothing


def _streams_weights(ext, ob: int, threads: int) -> bool:
    """Whether a conv run channel blocks outermost sums over its input channels in chunks, each
    chunk for all of the task's rows before the next (choice `reduction_chunks`), rather than
    each row's register block over all the input channels in turn.

    In the model a large weight comes from memory, not from cache: a whole model run has passed
    since it was last read. A task (a block of ob output channels) rows innermost reads its
    block's weights from memory during its first row, with 7 or 14 multiply-adds a vector to
    hide the wait, and its other rows find them in cache; chunked, every row uses a chunk in
    turn while the next streams in, and the sums of the task's rows (ob x H x W, at most
    STREAM_MAX_SUMS) stay in L1 between chunks. The tasks are then the channel blocks alone: at
    least two a thread.

    In the model, 2 threads, one process, not chunked against chunked (two runs each): ResNet-18's
    3x3 convs on 512 channels at 7x7 1.069/1.061 -> 0.985/0.972 ms and with the residual add
    1.073/1.067 -> 1.007/0.992, on 256 at 14x14 0.821/0.842 -> 0.778/0.775, the model 14.9/13.9
    -> 14.4/13.7 ms; ResNet-50's 1024 -> 2048 stride-2 downsample at 7x7 1.39/1.21 -> 1.09/1.07,
    the model 39.3/36.6 -> 34.6/35.3 ms; MobileNetV2's 960 -> 320 at 7x7 0.148/0.148 ->
    0.123/0.129, 320 -> 1280 0.203/0.204 -> 0.162/0.190; VGG-19's 3x3 convs on 512 at 14x14
    3.39/3.30 -> 3.26/3.23. Below STREAM_MIN_WEIGHTS the sums' loads and stores cost more than
    they hide (timed cold by the tuner's runner: MobileNetV2's 160 -> 960 at 7x7, 154K weights,
    0.079 -> 0.088 ms), and so on a 1x1 conv over more than STREAM_MAX_PIXELS_1X1 pixels, whose
    weights each serve more multiply-adds (SqueezeNet's 512 -> 1000 at 13x13 0.642/0.646 ->
    0.657/0.660 in the model; ResNet-50's 256 -> 1024 at 14x14 0.370 -> 0.384 cold)."""
    _, o_ext, h_ext, w_ext, c_ext, ky_ext, kx_ext = ext
    return (o_ext * c_ext * ky_ext * kx_ext >= STREAM_MIN_WEIGHTS and ob * h_ext * w_ext <= STREAM_MAX_SUMS
            and (ky_ext * kx_ext > 1 or h_ext * w_ext <= STREAM_MAX_PIXELS_1X1)
            and o_ext // ob >= 2 * threads and c_ext > reduction_chunk(c_ext, ky_ext * kx_ext))


def reduction_chunk(channels: int, window: int) -> int:
    """Input channels in a chunk of `_streams_weights`: 32 for a 1x1 conv (a chunk of its
    weights is then 4 KB for a block of 32 output channels; 64 and 16 measured no faster), 8
    with a window (3x3: 9 KB), or the largest smaller power of two that divides the channels.
    Cold, 3x3 convs, chunks of 8 / 16 / 32 channels: ResNet-18's 512 at 7x7 0.900 / 0.927 /
    0.977 ms (0.995 not chunked); AlexNet's 384 -> 256 (group 2) at 13x13 0.558 / 1.009 /
    0.531 (0.589), and 256 -> 384 0.975 / 1.095 / 0.970 (0.977): 16 is slow there."""
    return divisor(channels, (32, 16, 8, 4, 2) if window == 1 else (8, 4, 2))


def _data_read_index(b, block, ext) -> int | None:
    """The index among a 1x1 conv's reads of its input, the one read besides its weights; None for
    a conv with a window or a padded input."""
    if "pad" in b.block_names() or ext[5] * ext[6] != 1:
        return None
    data = _data_reads(b, block)
    return [name for name, _ in b.reads(block)].index(data[0][0]) if len(data) == 1 else None


STAGE_MIN_COLUMNS = 28  # input columns from which a 1x1 conv copies its rows first


def _stages_rows(b, block, ext, threads: int) -> bool:
    """Whether a 1x1 conv (one with a `_data_read_index`) copies the input rows each parallel
    task reads (all channels of one row, or of two with stride 2) before its register block reads
    them: one that runs rows outermost (_rows_first: its input is the larger tensor, or it is a
    dense expansion on many rows), with rows of STAGE_MIN_COLUMNS or more and at least 4 rows a
    thread. Only the rows are then parallel (`parallel_loops` 2), so that each row is copied once,
    not once per block of output channels: ResNet-50's 256 -> 512 with stride 2 at 56 -> 28 took
    1.20 ms in the model staged with rows and channel blocks parallel, 0.85 not staged, 0.74
    staged with the rows alone parallel.

    Such a conv's input is the large tensor the kernel before it has just written, most of it
    gone from L2 by then (MobileNetV2's 96 -> 24 at 56x56 took 0.09 ms alone, 0.19 in the model).
    The register block reads it a row segment of one channel plane after another, as many streams
    as input channels, and its FMAs wait on each miss; a copy loop reads the same bytes with its
    misses overlapped, and the block then reads them from L1. In the model, 2 threads: MobileNetV2's
    96 -> 24 after its strided depthwise conv 0.18 -> 0.09-0.13 ms, 144 -> 32 0.073 -> 0.049 ms,
    ResNet-50's 256 -> 128 at 56x56 0.85 -> 0.77 ms. Whole models, one process, alternating blocks,
    lamina/onnxruntime: MobileNetV2 1.31 -> 1.24 and 1.30 -> 1.28, ShuffleNet 1.15 -> 1.09,
    DenseNet-121 1.42 -> 1.34, Inception v1 1.24 -> 1.20; ResNet-50 (1.31 -> 1.32) and SqueezeNet
    (1.32 -> 1.22 in one run, 1.23 -> 1.25 in another) within the noise.

    Not where the output is the larger tensor and the conv grouped: ShuffleNet's grouped 60 ->
    240 conv after its depthwise conv took 0.117 -> 0.134 ms staged, and the model 3-7% longer
    (a dense expansion on many rows is staged: `_rows_first`). Nor on short rows,
    whose input stays in L2 and whose copy reads a partial cache line per channel: at 7x7
    MobileNetV2's 1x1 convs took 30-40% longer staged (160 -> 960 0.093 -> 0.121 ms), at 14x14
    5-10%."""
    if not _rows_first(b, block, ext):
        return False
    return int(_data_reads(b, block)[0][1][-1]) >= STAGE_MIN_COLUMNS and ext[2] >= 4 * threads


def _pads_per_row(b, ext, threads: int) -> bool:
    """Whether a padded conv with a window runs its output rows outermost and in parallel
    (`loop_order` 2, `parallel_loops` 2), each row first padding the input rows it reads, all
    channels (`pad_at` 2: 64 channels x 3 rows x 58 columns, 44 KB, for a 3x3 conv at 56x56),
    rather than reading them from a padded copy of the whole input made before the conv (860 KB,
    written out and read back). The row's channel blocks then read a small copy, its channel planes
    3 rows apart rather than a whole plane. In ResNet-18, 2 threads, in the model against channel
    blocks outermost on the padded copy: 64 -> 128 with stride 2 at 56 -> 28 0.57 -> 0.45 ms,
    128 -> 256 with stride 2 0.56 -> 0.43, 64 at 56x56 0.87-0.90 -> 0.75-0.80; whole models, one
    process, alternating blocks, lamina/onnxruntime: ResNet-18 1.20 -> 1.09, VGG-19 1.11 -> 1.01,
    DenseNet-121 1.46 -> 1.34, ResNet-50 1.58 -> 1.51, Tiny-YOLO 1.16 -> 1.07; SqueezeNet,
    Inception v1 and MobileNetV2 within the noise.

    Not where rows outermost read weights too large for a core's share of L2 once per row
    (ROWS_FIRST_MAX_WEIGHTS: ResNet's 256- and 512-channel 3x3 convs), nor with fewer than 4 rows
    a thread (only the rows are parallel), nor on fewer than 16 input channels (ResNet's stem on 3
    channels ran 0.90 -> 1.00 ms)."""
    _, o_ext, h_ext, _, c_ext, ky_ext, kx_ext = ext
    return ("pad" in b.block_names() and ky_ext * kx_ext > 1 and c_ext >= 16 and h_ext >= 4 * threads
            and o_ext * c_ext * ky_ext * kx_ext <= ROWS_FIRST_MAX_WEIGHTS)


def conv_schedule(b, name: str, threads: int) -> None:
    """Direct convolution, register-blocked.

    Weights packed by `pack_w` to [O/ob, C/G, KH, KW, ob] (group 1, and grouped convs with more
    than one input channel per group: ob divides a group's output channels, so a block's ob
    channels read the same input channels): an ob x wb block of the output (ob channels, one
    vector; wb output columns, unrolled) is summed in registers over (c, ky, kx). Depthwise (one
    input channel per group): a vector of vw output columns of one channel is summed in registers
    over (ky, kx).
    """
    block = b.get_block(name)
    kinds = b.iter_kinds(block)
    if b.loop_count(block) != 7 or kinds[:4] != [SPATIAL] * 4 or kinds[4:] != [REDUCE] * 3:
        raise NotThisShape
    loops = b.get_loops(block)
    ext = b.extents(loops)
    if 0 in ext:
        raise NotThisShape
    _, o_ext, h_ext, w_ext, c_ext, _, _ = ext
    names = b.block_names()
    packed = _packed_width(b, block)
    placed = ()
    if ("pack_w" in names or packed) and _columns_fit(b, block, ext):
        _column_block(b, name, block, ext)
    elif "pack_w" in names or packed:
        ob = packed if packed else b.block_loop_extents("pack_w")[-1]
        wb = block_columns(w_ext, ob, ext[5] * ext[6], c_ext)
        _conv_prologue(b, name)
        wbk = channel_block_write_back(b, block)
        bb, o, i, j, rc, ry, rx = b.get_loops(block)
        oo, oi = b.split(o, [b.knob("pack_ob", ob)])
        jo, ji = b.split(j, [b.knob("wb", wb)])
        # choices: `loop_order` 1 runs channel blocks outermost, 2 rows (_rows_first, _pads_per_row);
        # `parallel_loops` 3 runs both in parallel, 2 only the outer one (and the batch)
        per_row = _pads_per_row(b, ext, threads)
        data = _data_read_index(b, block, ext)  # a 1x1 conv's input: staged (_stages_rows) or not
        staged = data is not None and _stages_rows(b, block, ext, threads)
        rows_first = b.choice("loop_order", 2 if per_row or _rows_first(b, block, ext) else 1, (1, 2)) == 2
        outer = (bb, i, oo) if rows_first else (bb, oo, i)
        # choice `reduction_chunks` (channel blocks outermost): 1 sums each row's register block
        # over all input channels, 2 runs the input channels in chunks of `rc_chunk` outside the
        # rows, the block's sums in a buffer of the task's (_streams_weights)
        chunked = not rows_first and not staged and b.choice(
            "reduction_chunks", 2 if _streams_weights(ext, ob, threads) else 1, (1, 2)) == 2
        rc_outer = rc  # the outermost loop of the reduction, where its sums start
        if chunked:
            rc_outer, rc = b.split(rc, [b.knob("rc_chunk", reduction_chunk(c_ext, ext[5] * ext[6]))])
            b.reorder(bb, oo, rc_outer, i, jo, rc, ry, rx, ji, oi)
        else:
            b.reorder(*outer, jo, rc, ry, rx, ji, oi)
        b.reverse_compute_at(wbk, oo if chunked else jo)
        vectorize_own(b, wbk, block)
        if chunked:
            tasks = b.fuse(bb, oo)
        else:
            tasks = b.fuse(*outer[: b.choice("parallel_loops", 2 if per_row or staged else 3, (2, 3))])
        b.parallel(tasks)
        # choice `pad_at`: 1 pads the whole input in a loop nest of its own before the conv, 2
        # pads, as each parallel task starts, the input rows it reads (_pads_per_row)
        if "pad" in b.block_names() and b.choice("pad_at", 2 if per_row else 1, (1, 2)) == 2:
            pad = b.get_block("pad")
            b.compute_at(pad, tasks)
            vectorize_own(b, pad, block)
            placed = ("pad",)
        # choice `stage_rows` (1x1 convs): 1 reads the input where it is, 2 copies the rows a
        # parallel task reads first (_stages_rows)
        if data is not None and b.choice("stage_rows", 2 if staged else 1, (1, 2)) == 2:
            rows_read = b.cache_read(block, data, "global")
            b.compute_at(rows_read, tasks)
            vectorize_own(b, rows_read, block)
        b.vectorize(oi)
        b.unroll(ji)
        # choice `unroll_window`: 1 leaves the window loops, 2 unrolls kx, 3 ky and kx too
        if ext[5] * ext[6] > 1:
            window = b.choice("unroll_window", 1, (1, 2, 3))
            for loop in ((rx,) if window == 2 else (ry, rx) if window == 3 else ()):
                b.unroll(loop)
        init = b.decompose_reduction(block, rc_outer)
        vectorize_own(b, init, block)
    elif c_ext == 1:  # depthwise (or any one-channel-per-group conv)
        vw, hb = depthwise_block(w_ext, h_ext)
        _conv_prologue(b, name)
        wbk = b.cache_write(block, 0, "local")
        epilogues(b, block_name_of(b, wbk))
        bb, o, i, j, rc, ry, rx = b.get_loops(block)
        io, ii = b.split(i, [b.knob("hb", hb)])
        jo, ji = b.split(j, [b.knob("vw", vw)])
        # choice `phases_at` (a strided conv, its input dealt into phases): 2 deals the rows of
        # each parallel task as it starts, 1 the whole input first (_deals_first)
        deal_first = "phases" in b.block_names() and b.choice(
            "phases_at", 1 if _deals_first(b.extents([io, jo])) else 2, (1, 2)) == 1
        b.reorder(bb, o, io, jo, rc, ry, rx, ii, ji)
        b.reverse_compute_at(wbk, jo)
        vectorize_own(b, wbk, block)
        ioo, _ = b.split(io, [b.knob("chunk", staged_chunk(b, hb, h_ext, ext[5]))])
        # choice `loop_order`: 1 deals channels among the threads (each its channels' rows), 2
        # chunks of rows (each chunk's channels in turn)
        if b.choice("loop_order", 1, (1, 2)) == 2:
            b.reorder(bb, ioo, o)
            rows = b.fuse(bb, ioo, o)
        else:
            rows = b.fuse(bb, o, ioo)
        b.parallel(rows)
        b.unroll(ii)
        b.vectorize(ji)
        # the padded rows a block reads, copied as it starts (in cache), then dealt into phases
        for copy in ("phases", "pad"):
            if copy in b.block_names() and not (copy == "phases" and deal_first):
                b.compute_at(b.get_block(copy), rows)
        if "pad" in b.block_names():
            vectorize_own(b, b.get_block("pad"), block)
        if "phases" in b.block_names():
            deal_loop(b)
            if deal_first:
                parallel_spatial(b, "phases", threads, vector_last=False)
        init = b.decompose_reduction(block, rc)
        vectorize_own(b, init, block)
        return
    else:
        raise NotThisShape
    _finish_spatial(b, threads, placed)
