"""Winograd convolution F(m x m, 3 x 3) (Lavin and Gray 2016), for the CPU's 3x3 stride-1 convs.

A direct 3x3 conv does 9 multiply-adds per output and input channel; Winograd's minimal
filtering computes an m x m tile of outputs from an (m+2) x (m+2) tile of inputs with
(m+2)^2 / m^2 of them (F(4x4, 3x3): 2.25, 4x fewer; F(2x2, 3x3): 4), at the cost of transforms
before and after. On a machine where the direct conv already runs at the FMA peak (lamina's do,
at 92-97%: ResNet-50's 3x3 convs on this project's 2-core machine) it is the way to go faster.
With alpha = m + 2, per tile p (P of them over the output) and channel:

    V[e, n, p, c] = (B^T d_{p,c} B)[e, n]          input transform: d is the input's alpha x alpha tile
    U[e, n, k, c] = (G g_{k,c} G^T)[e, n]          weight transform: g is the 3x3 filter (at compile time)
    M[e, n, k, p] = sum over c of U[e, n, k, c] V[e, n, p, c]    alpha^2 matrix products (a 1x1 conv each)
    Y[k, tile p]  = A^T M[:, :, k, p] A            output transform: an m x m tile of the output

The matrices are Toom-Cook's, from TVM's topi (nn/winograd_util.py, the points TVM's own Winograd
schedules use). Each transform is computed as two one-sided products (B^T d, then (.) B), which
needs about a third of the multiply-adds of the two-sided sum. Rounding: F(4x4)'s matrices have
entries from 1/4 to 8, so its error is a few times the direct conv's: against onnxruntime, a
relative error of 1e-6 to 1e-5 of the output's largest value on convs of 64 to 512 channels.

Layouts, for the CPU schedule (schedules/winograd.py): output channels in blocks of LANES (one
AVX-512 vector: M and U are [.., K/LANES, .., LANES], padded to whole blocks with zero weights,
never read back), input channels innermost in V (a vector of channels per tile, padded to whole
vectors with zero inputs, which the products do not read). A grouped conv (AlexNet's) sums each
vector of output channels over its group's input channels, so a group's output channels are
whole vectors. The weight U is packed at compile time from a constant weight (build.py
`_weight_packing`, `pack_weight` here); a weight that is a kernel
argument is transformed in the kernel (`winograd_weight`)."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

from ..tvm_adapter import te, tir
from . import LoweringError
from .common import attr, const, dtype_of, knob, out_shape, target_family

LANES = 16                  # output channels of a vector in M and U; input channels of one in V
TILES = (2, 4)              # the output tile sizes m offered (compute knob `winograd`; 0: direct)
MIN_CHANNELS = 16           # fewer input or output channels: the direct conv (a short GEMM)
WIDE_TILE_MIN_OUTPUTS = 100 # output pixels from which F(4x4) beats F(2x2): 7x7 took 0.73 / 1.00 ms


_ENABLED: ContextVar = ContextVar("lamina_winograd", default=True)


@contextmanager
def disabled():
    """Lower every conv with the direct compute while inside (to compare the two, or to test the
    direct conv's schedules on shapes Winograd would take)."""
    token = _ENABLED.set(False)
    try:
        yield
    finally:
        _ENABLED.reset(token)


def transform_matrices(m: int):
    """(A, B, G) of F(m x m, 3 x 3) as float64 numpy arrays: A is alpha x m, B alpha x alpha,
    G alpha x 3 (TVM topi's Toom-Cook construction)."""
    from tvm.topi.nn.winograd_util import _cook_toom_convolution, _interpolation_points

    a, b, g = _cook_toom_convolution(_interpolation_points(m + 2), m, 3)
    return tuple(np.asarray(x, np.float64) for x in (a, b, g))


def qualifies(op) -> bool:
    """Whether conv2d `op` may be computed by Winograd: float32, 3x3, stride 1, no dilation, NCHW
    with an OIHW weight, at least MIN_CHANNELS channels in and out of each group (a grouped conv's
    output channels a group in whole vectors, so that a vector of M sums one group's channels),
    alone in its kernel among the anchors (a fused group of several convs has its own
    generator), for a CPU."""
    from lamina.compiler.passes.fuse import Pattern, op_pattern

    if op.name != "nn.conv2d" or target_family() != "cpu" or not _ENABLED.get():
        return False
    x, w = op.operands[0].type, op.operands[1].type
    if dtype_of(x.element_type) != "float32" or len(getattr(w, "shape", ())) != 4:
        return False
    k, c_per_group, kh, kw = (int(d) for d in w.shape)
    group = attr(op, "group", 1)
    if (kh, kw) != (3, 3) or tuple(attr(op, "strides", (1, 1))) != (1, 1):
        return False
    if tuple(attr(op, "dilations", (1, 1))) != (1, 1) or attr(op, "layout", "NCHW") != "NCHW":
        return False
    if attr(op, "weight_layout", "OIHW") != "OIHW" or min(k // group, c_per_group) < MIN_CHANNELS:
        return False
    if group > 1 and (k // group) % LANES:
        return False
    parent = op.parent_op
    if parent is not None and parent.name == "nn.fused":
        anchors = [o for o in parent.inner_ops if op_pattern(o) == Pattern.OUT_ELEMENTWISE_FUSABLE]
        if anchors != [op]:
            return False
    return True


def winograd_tile(op) -> int:
    """The output tile m of conv2d `op`'s Winograd compute, 0 for the direct conv: compute knob
    `winograd` where the conv qualifies (by default 4, or 2 on small images: F(4x4)'s GEMMs
    then have too few tiles), else 0 without a knob."""
    if not qualifies(op):
        return 0
    _, _, oh, ow = out_shape(op)
    default = 4 if oh * ow >= WIDE_TILE_MIN_OUTPUTS else 2
    m = knob("winograd", default)
    if m not in (0, *TILES):
        raise LoweringError(f"knob winograd = {m}: the Winograd output tile is one of "
                            f"{', '.join(map(str, TILES))}, or 0 for the direct conv")
    return m


def blocks(n: int) -> int:
    """n channels in whole LANES blocks."""
    return -(-n // LANES)


def packed_weight_shape(out_c: int, in_per_group: int, m: int) -> tuple:
    """U's shape: [alpha, alpha, K/LANES, C/G, LANES]."""
    alpha = m + 2
    return (alpha, alpha, blocks(out_c), in_per_group, LANES)


def pack_weight(w: np.ndarray, m: int) -> np.ndarray:
    """The constant weight [K, C/G, 3, 3] transformed (G g G^T, in float64) and packed as U."""
    _, _, g = transform_matrices(m)
    k, c = w.shape[:2]
    u = np.einsum("ea,kcab,nb->enkc", g, w.astype(np.float64), g)
    kp = blocks(k) * LANES
    u = np.pad(u, ((0, 0), (0, 0), (0, kp - k), (0, 0)))
    u = u.reshape(m + 2, m + 2, kp // LANES, LANES, c).transpose(0, 1, 2, 4, 3)
    return np.ascontiguousarray(u.astype(w.dtype))


def _coefficient(matrix: np.ndarray, i, j):
    """matrix[i, j] for index expressions i, j: a chain of selects over its non-zero entries,
    which folds to the constant where the schedule unrolls both loops."""
    value = const(0.0, "float32")
    for a in range(matrix.shape[0]):
        for b in range(matrix.shape[1]):
            if matrix[a, b] != 0:
                value = tir.Select(tir.all(i == a, j == b), const(float(matrix[a, b]), "float32"), value)
    return value


def winograd_weight(w, m: int):
    """U computed in the kernel from a weight argument [K, C/G, 3, 3] (a constant one is packed
    at compile time instead)."""
    k_n, c_n = (int(d) for d in w.shape[:2])
    _, _, g = transform_matrices(m)
    shape = packed_weight_shape(k_n, c_n, m)
    ra = te.reduce_axis((0, 3), name="wa")
    rb = te.reduce_axis((0, 3), name="wb")

    def at(e, n, ko, c, ki):
        k = ko * LANES + ki
        tap = tir.Select(k < k_n, w[tir.min(k, k_n - 1), c, ra, rb], const(0.0, w.dtype))
        return te.sum(tap * _coefficient(g, e, ra) * _coefficient(g, n, rb), axis=[ra, rb])
    return te.compute(shape, at, name="winograd_weight")


def conv2d_winograd(op, x, w, bias, m: int):
    """conv2d of `op` (NCHW, 3x3, stride 1; `qualifies`) by F(m x m, 3 x 3): the blocks
    winograd_patch (the input tiles, channels innermost), winograd_rows (B^T d), winograd_input (V),
    winograd_gemm (M), winograd_cols (M A), winograd_tiles (A^T M A) and the output
    `winograd_output` (with the bias), named so the schedule finds them."""
    a_mat, b_mat, _ = transform_matrices(m)
    alpha = m + 2
    n_b, c_n, h, w_n = (int(d) for d in x.shape)
    _, k_n, oh, ow = out_shape(op)
    top, left, _, _ = attr(op, "pads", (0, 0, 0, 0))
    th, tw = -(-oh // m), -(-ow // m)
    tiles = n_b * th * tw
    cp, kb = blocks(c_n) * LANES, blocks(k_n)
    u = w if w.op.name.endswith("_winograd") else winograd_weight(w, m)  # (build.py packed it: `pack_weight`)
    in_per_group = int(u.shape[3])
    blocks_per_group = kb // (c_n // in_per_group)  # (one group: all of them)
    zero = const(0.0, x.dtype)

    def pixel(p, a, b, c):  # the input under tile p's (a, b), zero in the padding and past C
        bi, t = p // (th * tw), p % (th * tw)
        i, j = t // tw * m + a - top, t % tw * m + b - left
        inside = tir.all(i >= 0, i < h, j >= 0, j < w_n, c < c_n)
        return tir.Select(inside, x[bi, tir.min(c, c_n - 1), tir.min(tir.max(i, 0), h - 1),
                                    tir.min(tir.max(j, 0), w_n - 1)], zero)
    d = te.compute((tiles, alpha, alpha, cp), pixel, name="winograd_patch")
    rb = te.reduce_axis((0, alpha), name="rb")
    rows = te.compute((tiles, alpha, alpha, cp), lambda p, a, n, c: te.sum(
        d[p, a, rb, c] * _coefficient(b_mat, rb, n), axis=rb), name="winograd_rows")
    ra = te.reduce_axis((0, alpha), name="ra")
    v = te.compute((alpha, alpha, tiles, cp), lambda e, n, p, c: te.sum(
        rows[p, ra, n, c] * _coefficient(b_mat, ra, e), axis=ra), name="winograd_input")
    rc = te.reduce_axis((0, in_per_group), name="rc")
    gemm = te.compute((alpha, alpha, kb, tiles, LANES), lambda e, n, ko, p, ki: te.sum(
        u[e, n, ko, rc, ki] * v[e, n, p, ko // blocks_per_group * in_per_group + rc], axis=rc),
        name="winograd_gemm")
    sb = te.reduce_axis((0, alpha), name="sb")
    cols = te.compute((kb, tiles, alpha, m, LANES), lambda ko, p, e, j, ki: te.sum(
        gemm[e, sb, ko, p, ki] * _coefficient(a_mat, sb, j), axis=sb), name="winograd_cols")
    sa = te.reduce_axis((0, alpha), name="sa")
    out_tiles = te.compute((kb, tiles, m, m, LANES), lambda ko, p, i, j, ki: te.sum(
        cols[ko, p, sa, j, ki] * _coefficient(a_mat, sa, i), axis=sa), name="winograd_tiles")

    def output(b, k, i, j):
        value = out_tiles[k // LANES, (b * th + i // m) * tw + j // m, i % m, j % m, k % LANES]
        return value + bias[0][k].astype(x.dtype) if bias else value
    return te.compute((n_b, k_n, oh, ow), output, name="winograd_output")
