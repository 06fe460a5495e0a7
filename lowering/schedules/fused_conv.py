"""The CPU schedule generator for a depthwise conv fused into the 1x1 conv that reads it (one
kernel: compiler/passes/fuse.py, option `depthwise-pointwise`).

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
28x28, then to 32: 0.17 against 0.07 + 0.05 ms, in the model).
Raises NotThisShape when the kernel is not such a pair; cpu_schedule then tries the others.
"""

from __future__ import annotations

from ..te.conv import block_columns
from .common import (REDUCE, SPATIAL, NotThisShape, block_name_of, epilogues, padded_write_back, parallel_spatial,
                     vectorize_own)

DEPTHWISE, POINTWISE = "conv2d", "conv2d_1"
CONV_KINDS = [SPATIAL] * 4 + [REDUCE] * 3


def is_depthwise_pointwise(b) -> bool:
    """Whether the kernel holds a depthwise conv and, after it, a 1x1 conv (the fused pair)."""
    names = b.block_names()
    if DEPTHWISE not in names or POINTWISE not in names:
        return False
    dw, pw = (b.block_loop_extents(n) for n in (DEPTHWISE, POINTWISE))
    return len(dw) == len(pw) == 7 and dw[4] == 1 and pw[5:] == [1, 1]


def depthwise_pointwise_schedule(b, threads: int) -> None:
    if not is_depthwise_pointwise(b) or any(b.kinds_of(n) != CONV_KINDS for n in (DEPTHWISE, POINTWISE)):
        raise NotThisShape("not a depthwise conv fused into a 1x1 conv")
    names = b.block_names()
    for other in names[: names.index(DEPTHWISE)]:  # a prologue (slice) into the padded copy
        if other != "pad":
            b.compute_inline(b.get_block(other))
    pw = b.get_block(POINTWISE)
    *_, w_ext, c_ext, _, _ = b.extents(b.get_loops(pw))
    packed = [shape for name, shape in b.reads(pw) if name == "pack_w" or name.endswith("_packed")]
    if not packed:
        raise NotThisShape("the 1x1 conv's weight is not packed")
    ob = int(packed[0][-1])
    # 1. the 1x1 conv's register block, written back through its epilogue
    out = b.cache_write(pw, 0, "local")
    b.transform_layout(pw, "write", 0, (0, 2, 3, 1))
    if "unpad" in b.block_names():  # channels padded to whole blocks: the bounds test is in the last block
        out = padded_write_back(b, out)
    else:
        epilogues(b, block_name_of(b, out))
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
    if "pack_w" in b.block_names():
        parallel_spatial(b, "pack_w", threads)
