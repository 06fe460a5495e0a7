"""Convolution and pooling. The computes are written in NCHW; an op in another layout (NHWC,
NCHW{c}c) reads through a view of its input in NCHW and writes through a view back (te/layout.py),
which the schedule inlines. A group-1 or depthwise conv2d in NCHW{c}c with its weight packed to
match ("OIHW{c}i{c}o", "OIHW{c}o") has a direct blocked compute instead (`conv2d_nchwc`)."""

from __future__ import annotations

from lamina.dialects.nn.layout import NCHW, OIHW, Layout, blocked_channels, image_layout

from ..tvm_adapter import te, tir
from . import lowers
from .common import ORDER_KEY_DTYPES, accumulator, attr, const, keyed, knob, max_reducer, order_key, out_shape, rounded, unkeyed
from .layout import view
from .winograd import conv2d_winograd, winograd_tile


def _layout(op) -> Layout:
    return image_layout(attr(op, "layout", "NCHW"))


def _nchw(op, x):
    """`x` seen as NCHW, and a function that turns an NCHW result back into the op's layout."""
    layout = _layout(op)
    if layout == NCHW:
        return x, lambda t, name: t
    sizes = layout.sizes([int(d) for d in x.shape])
    nchw = view(x, layout, NCHW, [sizes[a] for a in "NCHW"], "to_nchw")

    def back(t, name):
        return view(t, NCHW, layout, out_shape(op), name)
    return nchw, back


def _oihw(op, w):
    """The weight seen as OIHW (a view when its `weight_layout` is another)."""
    wl = Layout.parse(attr(op, "weight_layout", "OIHW"))
    if wl == OIHW:
        return w
    sizes = wl.sizes([int(d) for d in w.shape])
    return view(w, wl, OIHW, [sizes[a] for a in "OIHW"], "to_oihw")


def _padded(x, pads, value, name="pad"):
    top, left, bottom, right = pads
    n, c, h, w = (int(d) for d in x.shape)
    if not any(pads):
        return x
    return te.compute((n, c, h + top + bottom, w + left + right), lambda b, ch, i, j: tir.Select(
        tir.all(i >= top, i < top + h, j >= left, j < left + w),
        x[b, ch, tir.min(tir.max(i - top, 0), h - 1), tir.min(tir.max(j - left, 0), w - 1)], value), name=name)


# The CPU's column block (schedules/cpu.py `_column_block`, which reads these): a dense conv with
# at most COLUMN_MAX_REDUCTION multiply-adds per output whose rows are whole COLUMN_LANES-lane
# vectors is computed a block of column vectors at a time. A strided one reads its input dealt
# into column phases here, so that its output columns are contiguous reads. MobileNetV2's stem,
# 3 -> 32 channels from 224x224 to 112x112, 1 thread: 0.33 -> 0.22 ms. Dealt for the channel
# block instead (SqueezeNet's stem, 111 columns), the conv was slower (0.49 -> 0.60 ms).
COLUMN_LANES = 16          # one AVX-512 vector of output columns
COLUMN_MAX_REDUCTION = 64  # multiply-adds per output up to which the column block wins (measured)


def _padded_phases(x, pads, value, stride: int):
    """x padded (`pad`), then its columns dealt into `stride` phases (`phases`): [N, C, H',
    stride, ceil(W'/stride)], column q*stride + p of the padded input at [.., p, q]. A strided
    conv reads the columns j*stride + kx, a gather; from the phases it reads [.., kx % stride,
    j + kx // stride], a contiguous vector over j. MobileNetV2's 96-channel depthwise conv from
    112x112 to 56x56 took 3.4 ms on the gather and 0.87 ms from the phases (1 thread).

    The padding is its own block, so that a schedule may deal from a padded copy with no bounds
    test: a plain strided loop, which LLVM vectorizes as wide loads and shuffles (the interleaved
    accesses of its loop vectorizer) where TVM's vectorized gather loads each lane alone. One
    thread, both copies of the whole input made before the conv, dealt with the bounds test and
    from the copy: that conv 0.87 and 0.59 ms, 144 channels at 56x56 0.28 and 0.21 ms, 32 channels
    at 224x224 2.04 and 0.60 ms. The CPU schedules now deal a few rows at a time, in cache, and
    there one copy with the bounds test beats two (schedules/cpu.py `_conv_prologue`)."""
    top, left, bottom, right = pads
    w = int(x.shape[3])
    q_ext = -(-(w + left + right) // stride)
    xp = _padded(x, (top, left, bottom, q_ext * stride - w - left), value)
    n, c, hp, _ = (int(d) for d in xp.shape)
    return te.compute((n, c, hp, stride, q_ext), lambda b, ch, i, p, q: xp[b, ch, i, q * stride + p],
                      name="phases")


def _nchw_shape(op):
    sizes = _layout(op).sizes(out_shape(op))
    return tuple(sizes[a] for a in "NCHW")


def output_channel_block(out_c: int, window: int = 1, out_w: int | None = None, in_c: int = 1,
                         pad: float = 0) -> int:
    """Output channels summed together in one register block by the conv schedule
    (schedules/cpu.py `conv_schedule`), which keeps ob channels x wb output columns in registers
    (wb: `block_columns`).

    32 channels (two AVX-512 vectors) where they divide the channels. A conv with a window larger
    than 1x1 on at least 16 input channels once took 16 channels x 14 columns instead, as 32 x 14
    spilled; `block_columns` now keeps its block to REGISTER_VECTORS accumulators, and 32 x 8 (or
    x 7) beat 16 x 14 by 5-10% (2 threads, 3x3: 64 at 56x56 0.695 -> 0.639 ms, 128 at 28 0.639
    -> 0.609, 64 -> 128 with stride 2 0.396 -> 0.381, 128 -> 256 with stride 2 0.495 -> 0.449),
    as lamina tune had found on ResNet-18; VGG-19 129 -> 110 ms, DenseNet-121 30.2 -> 28.0 ms.
    Such a conv still takes 16 when its block holds more accumulators with 16 than with 32 (ties
    to 32): a row of 13 columns (16 x 13, not 32 x 1), and of 55 (16 x 11, not 32 x 5: 32 x 11
    is 22 accumulators, which spilled, 16 of its inner loop's instructions; SqueezeNet's 16 -> 64
    3x3 at 55x55, in the model's task timed cold: 0.242 ms at 32 x 11, 0.220 at 32 x 5, 0.200 at
    16 x 11; 24 -> 64 alone 0.324 -> 0.280). At 56, 28 and 27 columns 32 stays ahead (16 -> 64
    at 56: 0.205 against 0.236 ms; at 28: 0.065 against 0.082; 32 -> 128 at 27: 0.188 against
    0.208), and so it does with fewer than 16 input channels (8 -> 64 at 55: 0.124 against
    0.152). 1x1 convs (96 <- 16 at 112: 0.36 vs 0.40 ms), ResNet's 7x7
    stem on 3 channels (1.07 vs 1.33) and 7-column rows (512 at 7: 0.94 vs 1.18) ran faster with
    32 too.

    A channel count with no power-of-two divisor from 8 up takes its largest divisor up to
    ODD_VECTOR_LANES (20 channels: 10, not 4).

    With `pad` (the most padding, as a share of the channels, that a conv whose block may run past
    the last channel takes: `padded_channels`, `pack_block`), a channel count that neither 32 nor
    16 divides still takes a full vector when the padding wastes at most that (PAD_WASTE) of the
    work, as a half-empty vector wastes more: SqueezeNet's
    512 -> 1000 1x1 conv at 13x13 ran in 0.62 ms with 32 (1024 channels, the last 24 zero)
    against 2.0 ms with 8; MobileNetV2's 144 -> 24 at 56x56 in 0.12 ms with 32 against 0.23 with 8
    (best of 15, 2 threads)."""
    narrow = (window > 1 and in_c >= 16 and out_w
              and block_columns(out_w, 16, window, in_c) > 2 * block_columns(out_w, 32, window, in_c))
    choices = (16, 32, 8, 4, 2) if narrow else (32, 16, 8, 4, 2)
    for ob in choices:
        if out_c % ob == 0:
            break
    else:
        ob = 1
    if pad and ob < 16:
        for wide in choices[:2]:
            if padded_channels(out_c, wide) - out_c <= pad * out_c:
                return wide
    if ob < 8:  # a vector that is not a power of two, of up to 16 lanes (ODD_VECTOR_LANES)
        return max(d for d in range(ob, ODD_VECTOR_LANES + 1) if out_c % d == 0)
    return ob


# The widest block a channel count that no power of two from 8 up divides takes instead of a
# narrow power of two: the largest divisor up to 16 lanes (one AVX-512 vector, partly used). 2
# threads, ShuffleNet's grouped convs (3 groups): 20 channels a group 1x1 at 28x28 0.096 -> 0.055
# ms with 10 lanes instead of 4, 3x3 0.31 -> 0.16; 60 a group 0.21 -> 0.086 with 15; 150 -> 30 in
# 5 groups 0.038 -> 0.019 with 6 instead of 2; ShuffleNet 2.98 -> 2.86 ms. Wider than 16 is not
# kept: 20 and 40 lanes ran 10-20x slower than 10 and 8.
ODD_VECTOR_LANES = 16


REGISTER_VECTORS = 20  # accumulators of a long reduction's register block: 28 (32 x 14) and 22 (32 x 11) spilled


def block_columns(out_w: int, ob: int, window: int, in_c: int) -> int:
    """Output columns in the conv schedule's register block of ob channels: the largest divisor
    of the row up to 14, and for a window larger than 1x1 on at least 16 input channels at most
    REGISTER_VECTORS accumulators (ob / 16 vectors a column): its long reduction keeps more
    operands live, and 32 x 14 spilled (ran twice as slow as 16 x 14)."""
    limit = 14
    if window > 1 and in_c >= 16:
        limit = min(limit, max(1, REGISTER_VECTORS // max(1, ob // 16)))
    return max(d for d in range(1, limit + 1) if out_w % d == 0)


PAD_WASTE = 1 / 3  # the most zero channels a padded conv computes, as a share of its real ones


def padded_channels(out_c: int, ob: int) -> int:
    """A conv's output channels rounded up to whole blocks of ob; the blocks past `out_c` are
    computed on zero weights and never written."""
    return -(-out_c // ob) * ob


def packs_weight(group: int, in_per_group: int) -> bool:
    """Whether a conv's compute reads its weight packed [O/ob, C/G, KH, KW, ob]: every conv but
    the depthwise-like ones (one input channel per group, which have their own schedule)."""
    return group == 1 or in_per_group > 1


def pack_block(op, out_c: int, in_per_group: int, kh: int, kw: int) -> int:
    """The packing block of a conv's weight (compute knob `pack_ob`): by default
    `output_channel_block` of one group, so a block never straddles two groups. Where it does not
    divide a group's output channels, each group's are padded to whole blocks
    (`group_padded_channels`): by default a group-1 conv's, and a grouped conv's with a long
    reduction (more than COLUMN_MAX_REDUCTION multiply-adds an output; on a short one the padded
    channels' write-back costs more than the wider vectors gain). The compute (`pack_w`) and
    build.py's compile-time packing both ask here."""
    group = attr(op, "group", 1)
    per_group_out = out_c // group
    long = in_per_group * kh * kw > COLUMN_MAX_REDUCTION
    default = output_channel_block(per_group_out, kh * kw, conv_output_width(op), in_per_group,
                                   pad=PAD_WASTE if group == 1 or long else 0)
    return knob("pack_ob", default)


def group_padded_channels(out_c: int, group: int, ob: int) -> int:
    """A conv's computed output channels with ob-channel blocks: each group's channels rounded up
    to whole blocks, the padding at the end of each group's (ShuffleNet's 40 a group of 3
    computed as 48: three vectors of 16, not five half vectors of 8; the output is read from them
    after the conv, `unpad_groups`). In the model, 2 threads, one process, best of 10 rounds, 8
    lanes against 16 on padded groups: ShuffleNet's 480 -> 120 1x1 conv in 3 groups at 14x14 (7
    of its kernels) 0.081 / 0.080 / 0.080 -> 0.071 / 0.072 / 0.072 ms, its 240 -> 120 0.150 ->
    0.126; the model's kernels 3.04 -> 2.92 ms, end to end 3.16 -> 3.07. Only on a long reduction
    (`pack_block`): its 24 -> 216 in 3 groups (20 multiply-adds an output, 72 channels a group)
    ran 0.098 ms with 8 lanes, 0.117 padded to 80 channels a group, 0.111 to 96."""
    return group * padded_channels(out_c // group, ob)


def conv_output_width(op) -> int:
    """The width of a conv2d's output (its W axis in the op's layout)."""
    shape = out_shape(op)
    return shape[2] if attr(op, "layout", "NCHW") == "NHWC" else shape[3]


@lowers("nn.conv2d")
def conv2d(op, x, w, *bias):
    return _conv2d(op, x, w, bias)


def conv2d_in_place(op, x, w, *bias):
    """conv2d reading its padded input in place at every stride, never dealt into column phases:
    for an input the schedule lays out channels innermost (a 1x1 conv fused before a strided
    depthwise conv, schedules/fused_conv.py), where a stride is only a step of the address."""
    return _conv2d(op, x, w, bias, deal=False)


def _conv2d(op, x, w, bias, deal: bool = True):
    # Winograd (te/winograd.py) or not: a weight packed at compile time says which, the tile
    # with it (the packing asked the knob: asked again, it would be another knob)
    if w.op.name.endswith("_winograd"):
        m = int(w.shape[0]) - 2
    else:
        m = 0 if w.op.name.endswith("_packed") else winograd_tile(op)
    if m:
        return rounded(conv2d_winograd(op, x, w, bias, m), x.dtype)
    block = blocked_channels(attr(op, "layout", "NCHW"))
    if block is not None:
        direct = conv2d_nchwc(op, x, w, bias, block)
        if direct is not None:
            return direct
    x, back = _nchw(op, x)
    w = _oihw(op, w)
    sh, sw = attr(op, "strides", (1, 1))
    dh, dw = attr(op, "dilations", (1, 1))
    group = attr(op, "group", 1)
    pads = attr(op, "pads", (0, 0, 0, 0))
    out_c = _nchw_shape(op)[1]
    if w.op.name.endswith("_packed"):  # a constant weight, packed once by build.py: [O'/ob, C, KH, KW, ob]
        _, in_per_group, kh, kw, _ = (int(d) for d in w.shape)
    else:
        _, in_per_group, kh, kw = (int(d) for d in w.shape)
    per_group_out = out_c // group
    channels = out_c  # computed: out_c, or more when each group's last block is padded

    def output_channel(o):
        """The output channel of computed channel o (where `real`), `channels` once it is known."""
        return o if group == 1 else o // (channels // group) * per_group_out + o % (channels // group)

    def real(o):
        """Whether computed channel o is an output channel, not a group's padding."""
        return o < out_c if group == 1 else o % (channels // group) < per_group_out

    rc = te.reduce_axis((0, in_per_group), name="rc")
    ry = te.reduce_axis((0, kh), name="ry")
    rx = te.reduce_axis((0, kw), name="rx")
    acc = accumulator(x.dtype)
    if w.op.name.endswith("_packed"):
        ob = int(w.shape[-1])
        channels = int(w.shape[0]) * ob

        def weight(o):
            return w[o // ob, rc, ry, rx, o % ob]
    elif packs_weight(group, in_per_group):
        # weights packed [channels/ob, in_c/group, kh, kw, ob]: ob output channels of one group
        # are one vector (each group's channels padded to whole blocks)
        ob = pack_block(op, out_c, in_per_group, kh, kw)
        channels = group_padded_channels(out_c, group, ob)
        zero = const(0, w.dtype)
        wp = te.compute((channels // ob, in_per_group, kh, kw, ob), lambda oo, c, y, x_, oi: tir.Select(
            real(oo * ob + oi), w[tir.min(output_channel(oo * ob + oi), out_c - 1), c, y, x_], zero),
            name="pack_w")

        def weight(o):
            return wp[o // ob, rc, ry, rx, o % ob]
    else:
        ob = 1

        def weight(o):
            return w[o, rc, ry, rx]

    blocks_per_group = channels // group // ob
    if deal and sw > 1 and (ob == 1 or (in_per_group * kh * kw <= COLUMN_MAX_REDUCTION
                               and _nchw_shape(op)[3] % COLUMN_LANES == 0)):
        # strided, depthwise-like or a short reduction: read the input split into column phases
        xs = _padded_phases(x, pads, const(0, x.dtype), sw)

        def pixel(b, ch, y, j, kx):
            return xs[b, ch, y, (kx * dw) % sw, j + (kx * dw) // sw]
    else:
        xp = _padded(x, pads, const(0, x.dtype))

        def pixel(b, ch, y, j, kx):
            return xp[b, ch, y, j * sw + kx * dw]

    def at(b, o, i, j):
        # the group's first input channel, written through o // ob (the packed block) so that it
        # is one value for the ob channels of a vector once the schedule splits o by ob
        ch = rc if group == 1 else (o // ob // blocks_per_group) * in_per_group + rc
        return te.sum(pixel(b, ch, i * sh + ry * dh, j, rx).astype(acc) * weight(o).astype(acc),
                      axis=[rc, ry, rx])
    n, _, oh, ow = _nchw_shape(op)
    y = te.compute((n, channels, oh, ow), at, name="conv2d")
    if bias:  # (a padded channel reads the last bias: it is never written out)
        y = te.compute(y.shape, lambda b, o, i, j: y[b, o, i, j] + bias[0][
            tir.min(output_channel(o), out_c - 1)].astype(acc), name="bias_add")
    y = rounded(y, x.dtype)
    if channels > out_c:
        if group == 1:
            y = te.compute((n, out_c, oh, ow), lambda b, o, i, j: y[b, o, i, j], name="unpad")
        else:  # (a remap TVM cannot compute at the register block: schedules/common.py)
            padded = channels // group  # (a group's channels, computed)
            y = te.compute((n, out_c, oh, ow), lambda b, o, i, j: y[
                b, o // per_group_out * padded + o % per_group_out, i, j], name="unpad_groups")
    return back(y, "to_nhwc")


def _pool_geometry(op):
    return (attr(op, "kernel_shape"), attr(op, "strides", (1, 1)), attr(op, "pads", (0, 0, 0, 0)),
            attr(op, "dilations", (1, 1)))


@lowers("nn.max_pool2d")
def max_pool2d(op, x):
    x, back = _nchw(op, x)
    (kh, kw), (sh, sw), pads, (dh, dw) = _pool_geometry(op)
    lowest, op_dtype = tir.min_value(x.dtype), str(x.dtype)
    # ceil_mode windows may run past the padded input: pad generously, padding never wins
    n, c, h, w = (int(d) for d in x.shape)
    _, _, oh, ow = _nchw_shape(op)
    extra_h = max(0, (oh - 1) * sh + (kh - 1) * dh + 1 - (h + pads[0] + pads[2]))
    extra_w = max(0, (ow - 1) * sw + (kw - 1) * dw + 1 - (w + pads[1] + pads[3]))
    edges = (pads[0], pads[1], pads[2] + extra_h, pads[3] + extra_w)
    # windows that overlap read each element more than once: the max of integer keys, each
    # computed once as the input rows are copied (see common.order_key)
    by_key = op_dtype in ORDER_KEY_DTYPES and ((kh - 1) * dh + 1 > sh or (kw - 1) * dw + 1 > sw)
    if by_key:
        x, lowest = keyed(x), order_key(lowest)
    # unpadded windows that do not overlap (VGG's 2x2/2) read each input element once, in place
    pixel = _pool_input(x, edges, lowest, sw, dw, deal=any(edges) or kw * dw > sw)
    ry, rx = te.reduce_axis((0, kh), name="ry"), te.reduce_axis((0, kw), name="rx")
    y = te.compute(_nchw_shape(op), lambda b, ch, i, j: (te.max if by_key else max_reducer)(
        pixel(b, ch, i * sh + ry * dh, j, rx), axis=[ry, rx]), name="max_pool")
    if by_key:
        y = unkeyed(y, op_dtype)
    return back(y, "to_nhwc")


def _pool_input(x, pads, value, sw: int, dw: int, deal: bool = True):
    """pixel(b, ch, y, j, kx): the input column that output column j's window tap kx reads, from
    x padded with `value`, and with a column stride (and no dilation) from x dealt into column
    phases, as a strided conv reads it (`_padded_phases`): a vector of output columns then reads
    contiguous columns, where from the padded input it is a gather, which TVM loads a lane at a
    time. Not where `deal` is false: a max pool's unpadded windows that do not overlap read each
    input element once, in place (schedules/pool.py has the figures)."""
    if deal and sw > 1 and dw == 1:
        xs = _padded_phases(x, pads, value, sw)
        return lambda b, ch, y, j, kx: xs[b, ch, y, kx % sw, j + kx // sw]
    xp = _padded(x, pads, value)
    return lambda b, ch, y, j, kx: xp[b, ch, y, j * sw + kx * dw]


@lowers("nn.avg_pool2d")
def avg_pool2d(op, x):
    x, back = _nchw(op, x)
    (kh, kw), (sh, sw), pads, _ = _pool_geometry(op)
    top, left, bottom, right = pads
    n, c, h, w = (int(d) for d in x.shape)
    _, _, oh, ow = _nchw_shape(op)
    extra_h = max(0, (oh - 1) * sh + kh - (h + top + bottom))
    extra_w = max(0, (ow - 1) * sw + kw - (w + left + right))
    pixel = _pool_input(x, (top, left, bottom + extra_h, right + extra_w), const(0, x.dtype), sw, 1)
    ry, rx = te.reduce_axis((0, kh), name="ry"), te.reduce_axis((0, kw), name="rx")
    total = te.compute(_nchw_shape(op), lambda b, ch, i, j: te.sum(pixel(b, ch, i * sh + ry, j, rx),
                                                                  axis=[ry, rx]), name="window_sum")
    include_pad = bool(attr(op, "count_include_pad", 0))

    def count(i, j):
        """Elements the window covers: of the input only, or of the padded input (ONNX)."""
        lo_h, lo_w = i * sh - top, j * sw - left
        if include_pad:
            hi_h = tir.min(lo_h + kh, h + bottom)
            hi_w = tir.min(lo_w + kw, w + right)
            return (hi_h - lo_h) * (hi_w - lo_w)
        hi_h, hi_w = tir.min(lo_h + kh, h), tir.min(lo_w + kw, w)
        return (hi_h - tir.max(lo_h, 0)) * (hi_w - tir.max(lo_w, 0))
    y = te.compute(total.shape, lambda b, ch, i, j: total[b, ch, i, j] / count(i, j).astype(x.dtype),
                   name="avg_pool")
    return back(y, "to_nhwc")


@lowers("nn.global_avg_pool", "nn.global_max_pool")
def global_pool(op, x):
    x, back = _nchw(op, x)
    n, c, h, w = (int(d) for d in x.shape)
    ry, rx = te.reduce_axis((0, h), name="ry"), te.reduce_axis((0, w), name="rx")
    if op.name == "nn.global_max_pool":
        y = te.compute((n, c, 1, 1), lambda b, ch, i, j: max_reducer(x[b, ch, ry, rx], axis=[ry, rx]), name="gmax")
    else:
        s = te.compute((n, c, 1, 1), lambda b, ch, i, j: te.sum(x[b, ch, ry, rx], axis=[ry, rx]), name="gsum")
        y = te.compute((n, c, 1, 1), lambda b, ch, i, j: s[b, ch, i, j] / const(h * w, x.dtype), name="gavg")
    return back(y, "to_nhwc")


# ---------------------------------------------------------------------------------------------
# conv2d in NCHW{c}c, read and written in blocks (TVM's conv2d_NCHWc)


def _padded_blocked(x, pads, value):
    """x [N, C/c, H, W, c] padded on H and W."""
    top, left, bottom, right = pads
    if not any(pads):
        return x
    n, cb, h, w, c = (int(d) for d in x.shape)
    return te.compute((n, cb, h + top + bottom, w + left + right, c), lambda b, o, i, j, k: tir.Select(
        tir.all(i >= top, i < top + h, j >= left, j < left + w),
        x[b, o, tir.min(tir.max(i - top, 0), h - 1), tir.min(tir.max(j - left, 0), w - 1), k], value), name="pad")


def conv2d_nchwc(op, x, w, bias, c: int):
    """y[n, ob, i, j, oi] = sum over (icb, ky, kx, ic) of x[n, icb, i*sh + ky*dh, j*sw + kx*dw, ic]
    * w[ob, icb, ky, kx, ic, oi] (group 1, weight "OIHW{c}i{c}o"), or over (ky, kx) of
    x[n, ob, ..., oi] * w[ob, 0, ky, kx, oi] (depthwise, weight "OIHW{c}o"); None for other
    convs (they go through NCHW views). The c channels of a block are the innermost axis of x, w
    and y: one vector."""
    wl = attr(op, "weight_layout", "OIHW")
    group = attr(op, "group", 1)
    sh, sw = attr(op, "strides", (1, 1))
    dh, dw = attr(op, "dilations", (1, 1))
    n, cb, h, wd, _ = (int(d) for d in x.shape)
    acc = accumulator(x.dtype)
    shape = out_shape(op)
    depthwise = group == cb * c and int(shape[1]) == cb
    if group == 1 and wl == f"OIHW{c}i{c}o":
        _, _, kh, kw, _, _ = (int(d) for d in w.shape)
    elif depthwise and wl == f"OIHW{c}o":
        _, _, kh, kw, _ = (int(d) for d in w.shape)
    else:
        return None
    xp = _padded_blocked(x, attr(op, "pads", (0, 0, 0, 0)), const(0, x.dtype))
    ry = te.reduce_axis((0, kh), name="ry")
    rx = te.reduce_axis((0, kw), name="rx")
    if group == 1:
        rco = te.reduce_axis((0, cb), name="rco")
        rci = te.reduce_axis((0, c), name="rci")

        def at(b, ob, i, j, oi):
            return te.sum(xp[b, rco, i * sh + ry * dh, j * sw + rx * dw, rci].astype(acc)
                          * w[ob, rco, ry, rx, rci, oi].astype(acc), axis=[rco, ry, rx, rci])
    else:
        def at(b, ob, i, j, oi):
            return te.sum(xp[b, ob, i * sh + ry * dh, j * sw + rx * dw, oi].astype(acc)
                          * w[ob, 0, ry, rx, oi].astype(acc), axis=[ry, rx])
    y = te.compute(shape, at, name="conv2d_nchwc")
    if bias:
        y = te.compute(shape, lambda b, ob, i, j, oi: y[b, ob, i, j, oi] + bias[0][ob * c + oi].astype(acc),
                       name="bias_add")
    return rounded(y, x.dtype)
