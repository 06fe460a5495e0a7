"""The CPU schedule of a Winograd conv (te/winograd.py): three loop nests, each parallel.

1. Input transform, a task per (tile, vector of input channels): the tile's alpha x alpha input
   pixels gathered into registers (`winograd_patch`, channels innermost), B^T d (`winograd_rows`)
   and (.) B (`winograd_input`) on whole vectors, all unrolled; V written channels innermost.
2. The alpha^2 matrix products (`winograd_gemm`), blocked as the direct conv's 1x1 case is: a
   register block of `gemm_kb` vectors of output channels x `gemm_pb` tiles, summed over the input
   channels (a broadcast of V and a vector of U per multiply-add); a task per (e, n, channel block).
3. Output transform, a task per (vector of output channels, row of tiles): M A (`winograd_cols`)
   and A^T (.) (`winograd_tiles`) in registers per tile, then the tile's m x m outputs through the
   fused epilogue (bias, batch norm, activation, a residual add) to the output, a vector of
   output columns at a time.

The transforms' intermediates live in registers ("local"): computed per tile, in a buffer the
size of one tile, never in memory. Measured on this project's 2-core machine (AMD EPYC, 2
threads, the conv with its ReLU alone, against the direct conv's 1.02-1.03 ms for each shape):
ResNet-50's 3x3 convs of 64 channels at 56x56 0.45 ms, 128 at 28x28 0.36, 256 at 14x14 0.42 (F(4x4)),
512 at 7x7 0.70 (F(2x2))."""

from __future__ import annotations

from ..te.winograd import LANES, TILES
from .common import NotThisShape

GEMM_BLOCK_TILES = 16  # tiles summed in registers by default (x one vector of output channels)


def is_winograd(b) -> bool:
    return "winograd_gemm" in b.block_names()


def winograd_schedule(b, threads: int) -> None:
    names = b.block_names()
    if any(n not in names for n in ("winograd_patch", "winograd_rows", "winograd_input", "winograd_gemm",
                                    "winograd_cols", "winograd_tiles", "winograd_output")):
        raise NotThisShape
    # the compute's tile (te/winograd.py compute knob `winograd`), a choice: tuning tries the other
    m = b.choice("winograd", b.block_loop_extents("winograd_tiles")[2], TILES)
    if "winograd_weight" in names:  # a weight argument, transformed per call
        _weight_transform(b)
    _input_transform(b)
    _gemm(b)
    _output_transform(b, m)


def _weight_transform(b) -> None:
    block = b.get_block("winograd_weight")
    e, n, ko, c, ki, wa, wb = b.get_loops(block)
    b.reorder(ko, c, e, n, wa, wb, ki)
    b.parallel(b.fuse(ko, c))
    b.vectorize(ki)


def _input_transform(b) -> None:
    block = b.get_block("winograd_input")
    e, n, p, c, ra = b.get_loops(block)
    co, ci = b.split(c, [b.knob("input_lanes", LANES)])
    b.reorder(p, co, e, n, ra, ci)
    task = b.fuse(p, co)
    b.parallel(task)
    for name in ("winograd_rows", "winograd_patch"):
        producer = b.get_block(name)
        b.compute_at(producer, task)
        b.set_scope(producer, 0, "local")
    rows = b.get_block("winograd_rows")
    *_, a, n_, c_, rb = b.get_loops(rows)
    b.reorder(rb, c_)
    for loop in (a, n_, rb):
        b.unroll(loop)
    b.vectorize(c_)
    b.decompose_reduction(rows, rb)
    patch = b.get_block("winograd_patch")
    *_, a, b_, c_ = b.get_loops(patch)
    b.unroll(a)
    b.unroll(b_)
    b.vectorize(c_)
    write_back = b.cache_write(block, 0, "local")
    b.reverse_compute_at(write_back, task)
    for loop in (e, n, ra):
        b.unroll(loop)
    b.vectorize(ci)
    b.decompose_reduction(block, e)
    b.vectorize(b.get_loops(write_back)[-1])


def _gemm(b) -> None:
    block = b.get_block("winograd_gemm")
    e, n, ko, p, ki, rc = b.get_loops(block)
    tiles = b.extent(p)
    koo, koi = b.split(ko, [b.knob("gemm_kb", 1)])
    po, pi = b.split(p, [b.knob("gemm_pb", min(GEMM_BLOCK_TILES, tiles))])
    b.reorder(e, n, koo, po, rc, koi, pi, ki)
    write_back = b.cache_write(block, 0, "local")
    b.reverse_compute_at(write_back, po)
    b.parallel(b.fuse(e, n, koo))
    b.vectorize(ki)
    b.unroll(pi)
    b.unroll(koi)
    b.decompose_reduction(block, rc)
    b.vectorize(b.get_loops(write_back)[-1])


def _output_transform(b, m: int) -> None:
    """The output (with the epilogue inlined into it) split into tiles of m x m and vectors of
    LANES output channels; the tile's transform computed at it, in registers."""
    names = b.block_names()
    after = names[names.index("winograd_output"):]
    for name in after[:-1]:  # winograd_output and the epilogue but its last block: inlined into it
        b.compute_inline(b.get_block(name))
    out = b.get_block(after[-1])
    loops = b.get_loops(out)
    if len(loops) != 4:
        raise NotThisShape
    bb, k, h, w = loops
    tile, vector = b.fixed("tile", m), b.fixed("lanes", LANES)  # the compute's, not decisions
    ko, ki = b.split(k, [vector])
    th, i = b.split(h, [tile])
    tw, j = b.split(w, [tile])
    b.reorder(bb, ko, th, tw, ki, i, j)
    b.parallel(b.fuse(bb, ko, th))
    for name in ("winograd_tiles", "winograd_cols"):
        producer = b.get_block(name)
        b.compute_at(producer, tw)
        b.set_scope(producer, 0, "local")
        *_, s1, s2, s3, r = b.get_loops(producer)
        b.reorder(r, s3)
        for loop in (s1, s2, r):
            b.unroll(loop)
        b.vectorize(s3)
        b.decompose_reduction(producer, r)
    b.unroll(ki)
    b.unroll(i)
    b.vectorize(j)
