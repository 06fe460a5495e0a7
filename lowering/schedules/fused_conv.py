"""The CPU schedule generators for a depthwise conv fused into the 1x1 conv that reads it (one
kernel: compiler/passes/fuse.py, option `depthwise-pointwise`), for a 1x1 conv fused into the
strided depthwise conv that reads it (option `pointwise-depthwise`, below), for both at once, a
whole inverted residual block (both options), and for conv branches with their concat fused into
the 1x1 conv that reads it (option `concat-pointwise`, at the end).

Why one kernel: in MobileNetV2's inverted residual block the depthwise conv's output is the
block's largest tensor (144 x 56 x 56 floats, 1.8 MB). Written by one kernel and read by the
next, most of it has left the core's L2 by the time the 1x1 conv reads it: that conv ran twice as
long after the depthwise conv as after itself (0.19 against 0.095 ms, 2 threads). Here each
output row of the 1x1 conv first computes the depthwise rows it reads, all channels of one row
(224 bytes a channel at 56 columns), and reads them while they are in L1.

The kernel's blocks (te/conv.py): [pad] -> conv2d (depthwise) -> its epilogue (bias, clip) ->
[pack_w] -> conv2d_1 (1x1) -> its epilogue (bias, residual add, ...). The schedule:
  1. The 1x1 conv as the dense conv's channel block (cpu.py `conv_schedule`): ob channels x wb
     columns in registers, summed over the input channels, output rows outermost and parallel
     (loop order rows, oo, jo | c | wb, ob), written back through its epilogue.
  2. The depthwise conv's write-back (its epilogue inlined into it) computed at that row loop:
     per row, each channel's row of columns, one vector loop.
  3. The depthwise conv computed at the write-back's channel loop, its columns one vector summed
     over the window in registers; the padded input rows it reads copied there too.
A stride-2 depthwise conv (its input dealt into column phases, te/conv.py) is not fused: with its
phases computed per channel row too it gained nothing over its two kernels in MobileNetV2 (96
channels from 112x112 to 56x56, then 1x1 to 24: 0.28 against 0.19 + 0.12 ms; 144 from 56x56 to
28x28, then to 32: 0.17 against 0.07 + 0.05 ms, in the model). The 1x1 conv before it is:

A 1x1 conv fused into the depthwise conv with stride 2 that reads it (`pointwise_depthwise_schedule`).
In MobileNetV2's downsampling blocks the 1x1 conv's output is the largest tensor (96 x 112 x 112
floats, 4.8 MB): alone, that conv is bound by writing it (0.26-0.34 ms in the model for 39
MFLOP), and the depthwise conv by reading it and dealing its columns into phases (te/conv.py),
most of its time. Here each parallel task (a block of channels x a chunk of output rows) first
computes the 1x1 rows its depthwise rows read, channels innermost (`transform_layout`), so that
a vector of channels is contiguous at every pixel and the stride 2 is a step of the address: the
depthwise conv reads its input in place (te/conv.py `conv2d_in_place`), a register block of one
vector of channels x wb output columns, the padding a bounds test on the pixel. The kernel's
blocks: conv2d (1x1, weight packed at compile time) -> its epilogue -> [pad] -> conv2d_1
(depthwise) -> its epilogue. The schedule:
  1. The depthwise conv's register block (one vector of channels x `depthwise_columns` output
     columns), the taps unrolled, its weights copied channels innermost first; the tasks are
     blocks of the channels (`task_vectors` vectors) x chunks of `task_rows` output rows, in
     parallel; the block written back to NCHW through its epilogue (a transpose).
  2. The 1x1 conv's output rows the task reads (2 a row, and the one it shares with the next
     task again) computed at the task, channels innermost: a register block of the task's
     vectors of channels x pwb columns, summed over the input channels (each input pixel
     broadcast), written back through its epilogue as whole vectors.
In the model, 2 threads, one process, two kernels against one (best of 8 rounds): MobileNetV2's
16 -> 96 at 112x112 then 3x3/2 0.487 -> 0.296 ms, 24 -> 144 at 56x56 0.236 -> 0.135, 32 -> 192
at 28x28 0.104 -> 0.066, 96 -> 576 at 14x14 0.168 -> 0.102; the sum of the model's kernels 4.65
-> 4.06 ms, end to end 4.55 -> 4.40 (another run: 4.14 -> 3.83 and 4.21 -> 4.03). (Computed a
channel plane at a time into a copy dealt into phases, as the depthwise conv alone reads it, the
pair was slower than its two kernels, 0.485 against 0.43 ms: the deal of 96 channels was 44% of
that kernel.)

MobileNetV2's inverted residual block, 1x1 conv -> stride-1 depthwise conv -> 1x1 conv (->
residual add), in one kernel (`inverted_residual_schedule`). Its tasks are chunks of output rows
(`block_rows`), all channels: each computes the first 1x1 conv's rows its depthwise rows read
(and the two it shares with its neighbours again), then those depthwise rows, both channels
innermost as above, then the last 1x1 conv's rows from them, the dense conv's channel block (its
input pixels' channels contiguous, its output written back to NCHW through its epilogue). Neither
the first 1x1 output nor the depthwise output goes to memory; both 1x1 weights are packed at
compile time (build.py `prepack_for`). In the model, 2 threads, one process, two kernels (the
first 1x1 conv; the depthwise conv with the last 1x1 conv) against one, best of 10 rounds:
MobileNetV2's blocks at 56x56 (24 -> 144 -> 24) 0.551 -> 0.355 ms, at 28x28 (32 -> 192 -> 32)
0.211 -> 0.141 and 0.209 -> 0.144, at 14x14 (64 -> 384 -> 64) 0.171/0.174/0.174 ->
0.126/0.124/0.120, (64 -> 384 -> 96) 0.198 -> 0.144, (96 -> 576 -> 96) 0.322 -> 0.253 and 0.325 ->
0.256; the sum of the model's kernels 5.30 -> 4.59 ms, end to end 5.53 -> 4.68 (a noisy hour:
another run 4.09 -> 3.59).
SqueezeNet's fire module (a 1x1 conv to fewer channels, the squeeze; then a 1x1 and a 3x3 conv
of its output, concatenated) with the next module's squeeze conv, in one kernel
(`concat_pointwise_schedule`). The concat is the module's largest tensor (128 x 55 x 55 floats,
1.5 MB): written by the two branch kernels (each its slice, runtime/memory_plan.py) and read back
by the squeeze conv, it went through memory twice. The kernel's tasks are rows (`concat_rows`):
each computes its rows of both branches channels innermost, copies them into its rows of the
concat, and sums the squeeze conv's rows from those. In the model, 2 threads, one process, three
kernels against one (best of 10 rounds): at 55x55 (16 -> 64 + 64 -> 16) 0.471 -> 0.345 ms, at
27x27 (32 -> 128 + 128 -> 32) 0.355 -> 0.295; SqueezeNet end to end 3.49 -> 3.33 ms. Not at 13x13
(fuse.py CONCAT_POINTWISE_MIN_ROWS): its 13 row tasks leave a thread idle for one, and the sum of
the model's kernels moved within the noise (3.20 against 3.18 ms) while end to end it ran longer
(3.29 against 3.37).
Each generator raises NotThisShape when the kernel is not its group; cpu_schedule then tries the
others.
"""

from __future__ import annotations

from ..te.conv import block_columns
from .common import (REDUCE, SPATIAL, NotThisShape, block_name_of, channel_block_write_back, divisor, epilogues,
                     parallel_spatial, vectorize_own)

DEPTHWISE, POINTWISE = "conv2d", "conv2d_1"
CONV_KINDS = [SPATIAL] * 4 + [REDUCE] * 3


def is_depthwise_pointwise(b) -> bool:
    """Whether the kernel holds a depthwise conv and, after it, a 1x1 conv (the fused pair)."""
    names = b.block_names()
    if DEPTHWISE not in names or POINTWISE not in names:
        return False
    dw, pw = (b.block_loop_extents(n) for n in (DEPTHWISE, POINTWISE))
    return len(dw) == len(pw) == 7 and dw[4] == 1 and pw[5:] == [1, 1]


def _pointwise_loops(extents) -> bool:
    """Whether a conv block's loop extents are a 1x1 conv's (7 loops, a 1x1 window)."""
    return len(extents) == 7 and extents[5:] == [1, 1]


def _depthwise_loops(extents) -> bool:
    """Whether a conv block's loop extents are a depthwise conv's (one input channel, a window)."""
    return len(extents) == 7 and extents[4] == 1 and extents[5] * extents[6] > 1


def _conv_blocks(b) -> list[str]:
    """The kernel's conv blocks, in order (not their register blocks' write-backs)."""
    return [n for n in b.block_names() if n.startswith("conv2d") and not n.endswith("_local")]


def _packed_weight(buffer: str) -> bool:
    """Whether a buffer a conv reads is its weight packed (`pack_w` in the kernel, or `*_packed`
    at compile time: build.py `prepack_for`)."""
    return buffer.startswith("pack_w") or buffer.endswith("_packed")


def _packing_knob(b, name: str) -> str:
    """The compute knob that sizes the blocks of conv `name`'s packed weight (te/conv.py
    `pack_block`: pack_ob, pack_ob_1, ... in the order of the kernel's convs that read a packed
    weight). A split of that conv's channels by it stays the packing's block whatever value a
    candidate gives it."""
    packed = [n for n in _conv_blocks(b) if any(_packed_weight(read) for read, _ in b.reads_of(n))]
    index = packed.index(name)
    return "pack_ob" if index == 0 else f"pack_ob_{index}"


def _packed_ob(b, block, conv: str) -> int:
    """The output channels of a block of the packed weight that conv `block` reads (`pack_w`, or
    packed at compile time); NotThisShape when it reads its weight unpacked (`conv` names it)."""
    packed = [shape for name, shape in b.reads(block) if _packed_weight(name)]
    if not packed:
        raise NotThisShape(f"{conv}'s weight is not packed")
    return int(packed[0][-1])


def _pack_weights_in_parallel(b, threads: int) -> None:
    """The 1x1 weights not known at compile time (`pack_w`, `pack_w_1`: build.py packs the
    constant ones once), packed in parallel as the kernel starts."""
    for name in b.block_names():
        if name.startswith("pack_w"):
            parallel_spatial(b, name, threads)


def depthwise_pointwise_schedule(b, threads: int) -> None:
    if not is_depthwise_pointwise(b) or any(b.kinds_of(n) != CONV_KINDS for n in (DEPTHWISE, POINTWISE)):
        raise NotThisShape("not a depthwise conv fused into a 1x1 conv")
    names = b.block_names()
    for other in names[: names.index(DEPTHWISE)]:  # a prologue (slice) into the padded copy
        if other != "pad":
            b.compute_inline(b.get_block(other))
    pw = b.get_block(POINTWISE)
    *_, w_ext, c_ext, _, _ = b.extents(b.get_loops(pw))
    ob = _packed_ob(b, pw, "the 1x1 conv")
    # 1. the 1x1 conv's register block, written back through its epilogue
    out = channel_block_write_back(b, pw)
    bb, o, i, j, rc, ry, rx = b.get_loops(pw)
    oo, oi = b.split(o, [b.knob("pack_ob", ob)])
    jo, ji = b.split(j, [b.knob("wb", block_columns(w_ext, ob, 1, c_ext))])
    b.reorder(bb, i, oo, jo, rc, ry, rx, ji, oi)
    b.reverse_compute_at(out, jo)
    vectorize_own(b, out, pw)
    rows = b.fuse(bb, i)
    b.parallel(rows)
    b.vectorize(oi)
    b.unroll(ji)
    # 2. the depthwise rows of each output row, their epilogue in their write-back
    dw = b.get_block(DEPTHWISE)
    dw_back = b.cache_write(dw, 0, "local")
    epilogues(b, block_name_of(b, dw_back), before="pack_w" if "pack_w" in b.block_names() else POINTWISE)
    b.compute_at(dw_back, rows)
    *_, channel, column = b.get_loops(dw_back)
    b.vectorize(column)
    # 3. the depthwise conv per channel, its columns one vector summed in registers
    b.compute_at(dw, channel)
    *_, dj, dry, drx = b.get_loops(dw)
    b.reorder(dry, drx, dj)
    b.vectorize(dj)
    if "pad" in b.block_names():  # the padded rows it reads
        pad = b.get_block("pad")
        b.compute_at(pad, channel)
        vectorize_own(b, pad, dw)
    # the reductions' initial values last: splitting them off consumes the loops they are at
    b.decompose_reduction(dw, dry)
    init = b.decompose_reduction(pw, rc)
    vectorize_own(b, init, pw)
    _pack_weights_in_parallel(b, threads)


# ---------------------------------------------------------------------------------------------
# a 1x1 conv fused into the strided depthwise conv that reads it (fuse.py `pointwise-depthwise`)

EXPAND, STRIDED = "conv2d", "conv2d_1"  # the 1x1 conv and the depthwise conv after it
PROJECT = "conv2d_2"                    # the 1x1 conv after them, in an inverted residual block
LANES = 16                              # channels in a vector
REGISTER_VECTORS = 28                   # accumulators of a register block (of 32 AVX-512 registers)
TASK_ROWS_BYTES = 512 * 1024            # the 1x1 conv's output rows one task computes, at most


def is_pointwise_depthwise(b) -> bool:
    """Whether the kernel holds a 1x1 conv and, after it, a depthwise conv that reads its input
    in place (te/conv.py `conv2d_in_place`: no `phases`)."""
    names = b.block_names()
    if EXPAND not in names or STRIDED not in names or "phases" in names or PROJECT in names:
        return False
    return _pointwise_loops(b.block_loop_extents(EXPAND)) and _depthwise_loops(b.block_loop_extents(STRIDED))


def task_rows(out_rows: int, in_columns: int, channels: int, tasks_across: int, threads: int) -> int:
    """Output rows of the depthwise conv per parallel task: the most (a divisor of its height)
    whose rows of the 1x1 conv (2 rows + 1 a row, stride 2) fit TASK_ROWS_BYTES, while there
    are at least two tasks a thread. Each task computes the 1x1 conv's row that it shares with
    the next task again."""
    fits = [r for r in range(1, out_rows + 1)
            if out_rows % r == 0 and (2 * r + 1) * in_columns * channels * 4 <= TASK_ROWS_BYTES]
    many = [r for r in fits if tasks_across * (out_rows // r) >= 2 * threads]
    return max(many or fits or [1])


def depthwise_columns(width: int) -> int:
    """Output columns of the depthwise conv's register block (one vector of channels each): 16
    or 8 where they divide the row, else the largest divisor up to 14. Its write-back turns the
    block into rows of its channels, and a row of 8 (a half vector) is built faster than one of 14
    (MobileNetV2's 96 channels at 56 columns: 0.293 against 0.312 ms)."""
    whole = divisor(width, (16, 8))
    return whole if whole > 1 else max(d for d in range(1, 15) if width % d == 0)


def pointwise_depthwise_schedule(b, threads: int) -> None:
    """A 1x1 conv fused into the strided depthwise conv that reads it (the module's docstring)."""
    if not is_pointwise_depthwise(b) or any(b.kinds_of(n) != CONV_KINDS for n in (EXPAND, STRIDED)):
        raise NotThisShape("not a 1x1 conv fused into a strided depthwise conv")
    _, channels, _, in_w, _, _, _ = b.block_loop_extents(EXPAND)
    _, _, out_h, out_w, _, _, _ = b.block_loop_extents(STRIDED)
    if channels % LANES:
        raise NotThisShape("channels not in whole vectors")
    if "pad" in b.block_names():  # the depthwise conv reads the 1x1 conv's output through its bounds test
        b.compute_inline(b.get_block("pad"))
    tc = divisor(channels, (32, 48, 16))  # channels a task computes
    # 1. the depthwise conv: a register block of one vector of channels x wb output columns,
    # written back to NCHW through its epilogue (the write-backs last conv first: each is found
    # by its name, the first of the same name in the kernel)
    dw = b.get_block(STRIDED)
    dw_back = b.cache_write(dw, 0, "local")
    b.transform_layout(dw, "write", 0, (0, 2, 3, 1))
    epilogues(b, block_name_of(b, dw_back))
    pw_back = _expansion_write_back(b)
    bb, o, i, j, rc, ry, rx = b.get_loops(dw)
    # a vector of channels is whole vectors or a part of one: with 6, 12 or 24 channels (of 96;
    # 9, 18, 36 of 144), as tuning drew them as divisors, the kernel loaded the 1x1 conv's input
    # row above the image before the bounds test TVM puts around it (gdb: the fault is that
    # load), a segfault against the executor's guard pages (MobileNetV2's 16 -> 96 block at
    # 112x112, 2 threads). A choice, so that tuning tries only these.
    b.choice("lanes", LANES, [v for v in range(2, channels + 1)
                              if channels % v == 0 and (v % LANES == 0 or LANES % v == 0)])
    lanes = b.knob("lanes", LANES)
    oo, om, ov = b.split(o, [b.knob("task_vectors", tc // LANES), lanes])
    rows = task_rows(out_h, in_w, tc, channels // tc, threads)
    io, ii = b.split(i, [b.knob("rows", rows)])
    jo, ji = b.split(j, [b.knob("wb", depthwise_columns(out_w))])
    b.reorder(bb, oo, io, om, ii, jo, rc, ry, rx, ji, ov)
    b.reverse_compute_at(dw_back, jo)
    vectorize_own(b, dw_back, dw)
    task = b.fuse(bb, oo, io)
    b.parallel(task)
    _depthwise_taps(b, dw, channels, ry, rx, ji, ov)
    # 2. the 1x1 conv's rows the task reads, channels innermost
    expansion = _expansion_at(b, task, lanes, in_w, pw_back)
    b.decompose_reduction(dw, rc)
    _decompose_expansion(b, expansion)
    _pack_weights_in_parallel(b, threads)


def _depthwise_taps(b, dw, channels: int, ry, rx, columns, lanes) -> None:
    """The depthwise conv's register block over its window: the taps (`ry`, `rx`) and the block's
    `columns` unrolled, its vector of channels (`lanes`) vectorized, its weights channels innermost."""
    _depthwise_weights_innermost(b, dw, channels)
    b.unroll(ry)
    b.unroll(rx)
    b.unroll(columns)
    b.vectorize(lanes)


def _depthwise_weights_innermost(b, dw, channels: int) -> None:
    """The depthwise conv's weights [C, 1, KH, KW] copied channels innermost as the kernel starts,
    so that a tap's vector of them is one load, not a gather at a stride of KH x KW."""
    weight = [index for index, (_, shape) in enumerate(b.reads(dw)) if [int(d) for d in shape[:2]] == [channels, 1]]
    if len(weight) == 1:
        copy = b.cache_read(dw, weight[0], "global")
        b.transform_layout(copy, "write", 0, (1, 2, 3, 0))
        vectorize_own(b, copy, dw)


def _expansion_write_back(b, name: str = EXPAND, before: str | None = STRIDED):
    """The register block of conv `name` (the 1x1 conv, EXPAND) and its write-back through its
    epilogue (the blocks up to `before`; None: up to the next branch or the concat,
    `_epilogue_end`), both channels innermost; before any conv moves (the epilogue is found by the
    order of the blocks). Returns the write-back."""
    pw = b.get_block(name)
    pw_back = b.cache_write(pw, 0, "local")
    b.transform_layout(pw, "write", 0, (0, 2, 3, 1))
    epilogues(b, block_name_of(b, pw_back), before=before or _epilogue_end(b, pw_back))
    b.transform_layout(pw_back, "write", 0, (0, 2, 3, 1))
    return pw_back


def _expansion_at(b, task, lanes, width: int, pw_back, name: str = EXPAND, knobs=("pw_vectors", "pwb")):
    """Conv `name` (the 1x1 conv, EXPAND) and its write-back (`_expansion_write_back`) computed at
    loop `task`, the rows and channels the task reads: a register block of a few vectors of
    channels x pwb columns, summed over the input channels and the window (each input pixel
    broadcast), written back as whole vectors. Returns the conv's block and its reduction loop
    (for `_decompose_expansion`)."""
    pw = b.get_block(name)
    b.compute_at(pw_back, task, preserve_unit_loops=True)
    b.compute_at(pw, task, preserve_unit_loops=True)  # (so that its loops are the seven of a conv)
    _, po, pr, pc, prc, pry, prx = b.get_loops(pw)[-7:]
    task_vectors = b.extent(po) // LANES
    vectors = divisor(task_vectors, (2, 3)) if task_vectors > 3 else task_vectors
    poo, pom, pov = b.split(po, [b.knob(knobs[0], vectors), lanes])
    pwb = max(d for d in range(1, REGISTER_VECTORS // vectors + 1) if width % d == 0)
    pjo, pji = b.split(pc, [b.knob(knobs[1], pwb)])
    b.reorder(pr, poo, pjo, prc, pry, prx, pji, pom, pov)
    b.reverse_compute_at(pw_back, pjo, preserve_unit_loops=True)
    _, back_channels, _, back_columns = b.own_loops(pw, b.get_loops(pw_back))
    b.reorder(back_columns, back_channels)
    b.vectorize(back_channels)
    b.unroll(pji)
    b.unroll(pom)
    b.vectorize(pov)
    return pw, prc


def _decompose_expansion(b, expansion) -> None:
    """The 1x1 conv's initial values split off at its reduction loop (`_expansion_at`'s block and
    loop), vectorized: last, as splitting them off consumes the loops they are at."""
    pw, prc = expansion
    init = b.decompose_reduction(pw, prc)
    vectorize_own(b, init, pw)


# ---------------------------------------------------------------------------------------------
# MobileNetV2's inverted residual block: 1x1 conv -> stride-1 depthwise conv -> 1x1 conv


def is_inverted_residual(b) -> bool:
    """Whether the kernel holds a 1x1 conv, a depthwise conv that reads it, and a 1x1 conv that
    reads that (fuse.py `expansion_fits` with `depthwise_pointwise_fits`)."""
    names = b.block_names()
    if any(n not in names for n in (EXPAND, STRIDED, PROJECT)) or "phases" in names:
        return False
    return (_pointwise_loops(b.block_loop_extents(EXPAND)) and _depthwise_loops(b.block_loop_extents(STRIDED))
            and _pointwise_loops(b.block_loop_extents(PROJECT)))


BLOCK_MAX_ROWS = 7  # output rows of an inverted residual block's task, at most


def block_rows(height: int, threads: int) -> int:
    """Output rows per parallel task of an inverted residual block: the most, up to
    BLOCK_MAX_ROWS, that divide the height and leave a task for each thread. Each task computes
    the first 1x1 conv's two rows it shares with its neighbours again (9 rows for 7), but with
    tasks of more rows the cores wait on each other. In the model, 2 threads, one process, rows a
    task: MobileNetV2's block at 56x56 (144 channels) 28: 0.386 ms, 14: 0.355, 7: 0.342, 4: 0.364;
    at 28x28 (192) 14: 0.141 and 0.133, 7: 0.141 and 0.141, 4: 0.168 and 0.167; at 14x14 (384)
    7: 0.123, 14 (one task): 0.219."""
    return max((d for d in range(1, min(height, BLOCK_MAX_ROWS) + 1) if height % d == 0 and height // d >= threads),
               default=1)


def _row_tasks(b, conv, write_back, rows: int, ob: int, width: int, channels: int, name: str):
    """The 1x1 conv `conv` (block `name`) that ends a fused kernel, over `channels` input
    channels: the dense conv's channel block (ob channels, its packing's block, x wb columns of
    the `width`) written back to NCHW through `write_back`, the kernel's parallel tasks chunks of
    `rows` output rows. Returns the task loop and the conv's reduction loop."""
    bb, o, i, j, rc, ry, rx = b.get_loops(conv)
    io, ii = b.split(i, [b.knob("rows", rows)])
    oo, oi = b.split(o, [b.knob(_packing_knob(b, name), ob)])
    jo, ji = b.split(j, [b.knob("wb", block_columns(width, ob, 1, channels))])
    b.reorder(bb, io, ii, oo, jo, rc, ry, rx, ji, oi)
    b.reverse_compute_at(write_back, jo)
    vectorize_own(b, write_back, conv)
    task = b.fuse(bb, io)
    b.parallel(task)
    b.vectorize(oi)
    b.unroll(ji)
    return task, rc


def inverted_residual_schedule(b, threads: int) -> None:
    """MobileNetV2's inverted residual block in one kernel (the module's docstring)."""
    if not is_inverted_residual(b) or any(b.kinds_of(n) != CONV_KINDS for n in (EXPAND, STRIDED, PROJECT)):
        raise NotThisShape("not an inverted residual block")
    _, channels, _, in_w, _, _, _ = b.block_loop_extents(EXPAND)
    _, _, out_h, out_w, project_c, _, _ = b.block_loop_extents(PROJECT)
    if channels % LANES:
        raise NotThisShape("channels not in whole vectors")
    project = b.get_block(PROJECT)
    ob = _packed_ob(b, project, "the last 1x1 conv")
    if "pad" in b.block_names():  # the depthwise conv reads the 1x1 conv's output through its bounds test
        b.compute_inline(b.get_block("pad"))
    # the register blocks' write-backs through their epilogues, the last conv's first (each is
    # found by its name, the first of the same name in the kernel), before any block moves
    out = channel_block_write_back(b, project)
    dw = b.get_block(STRIDED)
    dw_back = b.cache_write(dw, 0, "local")
    b.transform_layout(dw, "write", 0, (0, 2, 3, 1))
    names = b.block_names()
    epilogues(b, block_name_of(b, dw_back),
              before=next(n for n in names[names.index(STRIDED) + 1:] if n.startswith("pack_w") or n == PROJECT))
    b.transform_layout(dw_back, "write", 0, (0, 2, 3, 1))  # (the last 1x1 conv reads it channels innermost)
    pw_back = _expansion_write_back(b)
    # 1. the last 1x1 conv in tasks of rows
    task, rc = _row_tasks(b, project, out, block_rows(out_h, threads), ob, out_w, project_c, PROJECT)
    # 2. the depthwise conv's rows the task reads, channels innermost: a register block of one
    # vector of channels x dwb columns, written back as whole vectors
    b.compute_at(dw_back, task, preserve_unit_loops=True)
    b.compute_at(dw, task, preserve_unit_loops=True)
    _, do, di, dj, drc, dry, drx = b.get_loops(dw)[-7:]
    lanes = b.knob("lanes", LANES)
    dom, dov = b.split(do, [lanes])
    djo, dji = b.split(dj, [b.knob("dwb", depthwise_columns(out_w))])
    b.reorder(di, dom, djo, drc, dry, drx, dji, dov)
    b.reverse_compute_at(dw_back, djo, preserve_unit_loops=True)
    _, back_channels, _, back_columns = b.own_loops(dw, b.get_loops(dw_back))
    b.reorder(back_columns, back_channels)
    b.vectorize(back_channels)
    _depthwise_taps(b, dw, channels, dry, drx, dji, dov)
    # 3. the first 1x1 conv's rows the depthwise rows read, channels innermost
    expansion = _expansion_at(b, task, lanes, in_w, pw_back)
    b.decompose_reduction(dw, drc)
    _decompose_expansion(b, expansion)
    init = b.decompose_reduction(project, rc)
    vectorize_own(b, init, project)
    _pack_weights_in_parallel(b, threads)


# ---------------------------------------------------------------------------------------------
# conv branches and their concat in the 1x1 conv that reads it (fuse.py `concat-pointwise`)

CONCAT = "concat"


def _concat_reader(b):
    """The name of the conv block that reads the concat, else None."""
    return next((n for n in _conv_blocks(b) if any(read == CONCAT for read, _ in b.reads_of(n))), None)


def is_concat_pointwise(b) -> bool:
    """Whether the kernel holds conv branches, their concat, and a 1x1 conv that reads it."""
    if CONCAT not in b.block_names():
        return False
    reader = _concat_reader(b)
    return reader is not None and len(_conv_blocks(b)) >= 3 and _pointwise_loops(b.block_loop_extents(reader))


def concat_rows(height: int, threads: int) -> int:
    """Output rows per parallel task of a concat-pointwise kernel: the most, up to BLOCK_MAX_ROWS,
    that divide the height into tasks the threads share evenly (the last round of tasks at most
    5% short of full). SqueezeNet's 55 and 27 rows give 1: in 11 tasks of 5 rows one thread
    would run 6 and the other 5."""
    def uneven(rows):
        tasks = height // rows
        return -(-tasks // threads) * threads / tasks - 1

    return max(d for d in range(1, min(height, BLOCK_MAX_ROWS) + 1)
               if height % d == 0 and (d == 1 or uneven(d) <= 0.05))


def _epilogue_end(b, write_back) -> str:
    """The first block after a branch's write-back that is not its epilogue: the next branch's
    (its padded input, its weights packed, its conv) or the concat."""
    names = b.block_names()
    after = names[names.index(block_name_of(b, write_back)) + 1:]
    return next(n for n in after if n == CONCAT or n.startswith(("pad", "pack_w", "conv2d")))


def concat_pointwise_schedule(b, threads: int) -> None:
    """SqueezeNet's fire module and the squeeze conv after it in one kernel (fuse.py
    `concat_pointwise_fits`). Its tasks are chunks of output rows (`concat_rows`), all channels;
    each computes, channels innermost, the rows of every branch conv (`_expansion_at`: a register
    block of vectors of channels x columns, summed over the input channels and the window, the
    padded input rows it reads copied first), then the concat's rows from them (a copy in cache,
    one vector of channels at a time), then the 1x1 conv's rows from the concat, the dense conv's
    channel block written back to NCHW through its epilogue. The concat never goes to memory."""
    if not is_concat_pointwise(b):
        raise NotThisShape("not conv branches concatenated into a 1x1 conv")
    reader = _concat_reader(b)
    names = b.block_names()
    branches = [n for n in _conv_blocks(b) if names.index(n) < names.index(CONCAT)]
    if any(b.kinds_of(n) != CONV_KINDS for n in [*branches, reader]):
        raise NotThisShape("not a conv loop nest")
    _, _, out_h, out_w, reader_c, _, _ = b.block_loop_extents(reader)
    computed = 0
    for name in branches:
        _, channels, h, w, _, _, _ = b.block_loop_extents(name)
        if channels % LANES or (h, w) != (out_h, out_w):
            raise NotThisShape("a branch's channels not in whole vectors")
        computed += channels
    if computed != b.block_loop_extents(CONCAT)[1]:
        # a branch's weight packed past its channels (a packing knob, as tuning tries them): its
        # padded channels were written past the branch's rows in the task's buffers, corrupting
        # the heap (SqueezeNet's 27x27 fire module with pack_ob_1 = 256 for 128 channels)
        raise NotThisShape("a branch's channels padded past its output")
    consumer = b.get_block(reader)
    ob = _packed_ob(b, consumer, "the 1x1 conv")
    # the register blocks' write-backs through their epilogues, the last conv's first (each is
    # found by its name, the first of the same name in the kernel), before any block moves
    out = channel_block_write_back(b, consumer)
    backs = {}
    for name in reversed(branches):
        backs[name] = _expansion_write_back(b, name, before=None)
    # 1. the 1x1 conv in tasks of rows
    task, rc = _row_tasks(b, consumer, out, concat_rows(out_h, threads), ob, out_w, reader_c, reader)
    # 2. the concat's rows of the task, channels innermost, a vector of channels at a time
    concat = b.get_block(CONCAT)
    b.transform_layout(concat, "write", 0, (0, 2, 3, 1))
    b.compute_at(concat, task, preserve_unit_loops=True)
    lanes = b.knob("lanes", LANES)
    _, channel, row, column = b.own_loops(consumer, b.get_loops(concat))[-4:]
    vector_of, vector = b.split(channel, [lanes])
    b.reorder(row, column, vector_of, vector)
    b.unroll(vector_of)
    b.vectorize(vector)
    # 3. each branch's rows of the task, channels innermost, its padded input rows copied first
    expansions = [_expansion_at(b, task, lanes, out_w, backs[name], name,
                                (f"{name}_vectors", f"{name}_columns"))
                  for name in reversed(branches)]
    for name in b.block_names():
        if name.startswith("pad"):
            pad = b.get_block(name)
            b.compute_at(pad, task)
            vectorize_own(b, pad, consumer)
    for expansion in expansions:
        _decompose_expansion(b, expansion)
    init = b.decompose_reduction(consumer, rc)
    vectorize_own(b, init, consumer)
    _pack_weights_in_parallel(b, threads)
