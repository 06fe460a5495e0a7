"""Linear algebra: matmul and gemm, summing half precision in float32.

A matmul whose B is a matrix (or a batch of them) reads B through a packed copy, `pack_b`, of
shape [..., N/nv, K, nv]: the nv columns one register block of C needs are then contiguous for
each k, whatever B's layout (a transposed gemm B included). The schedule (schedule_cpu.py) keeps
an mb x (nj*nv) block of C in registers while k runs. A matmul with few rows of A (a GEMV, batch-1
MLPs) reads B as it is when B's columns are already contiguous: packing would double its traffic.
The packed form sums the same products in the same order as the plain one.
"""

from __future__ import annotations

from ..tvm_adapter import te
from . import lowers
from .common import attr, accumulator, broadcast_index, const, knob, out_shape, rounded

PACK_MIN_ROWS = 16  # below this many rows of A (per batch), B is read in place unless transposed


def vector_width(n: int) -> int:
    """The packed width of B's columns: the widest of 32, 16, ..., 1 that divides n."""
    for nv in (32, 16, 8, 4, 2):
        if n % nv == 0:
            return nv
    return 1


def pack_b(b, transposed: bool = False):
    """B [..., K, N] (or [..., N, K] when `transposed`) as [..., N/nv, K, nv]."""
    if b.op.name.endswith("_packed"):  # a constant weight, packed once by build.py
        return b, int(b.shape[-1])
    *batch, r0, r1 = (int(d) for d in b.shape)
    k_extent, n = (r1, r0) if transposed else (r0, r1)
    nv = knob("pack_nv", vector_width(n), n, "columns of B")

    def at(*idx):
        *bi, no, k, ni = idx
        return b[(*bi, no * nv + ni, k)] if transposed else b[(*bi, k, no * nv + ni)]
    return te.compute((*batch, n // nv, k_extent, nv), at, name="pack_b"), nv


@lowers("nn.matmul")
def matmul(op, a, b):
    """numpy.matmul: batch dims broadcast; a 1-D `a` is a row (k), a 1-D `b` a column (k), and
    their dim is not in the result."""
    k = te.reduce_axis((0, int(a.shape[-1])), name="k")
    acc = accumulator(a.dtype)
    packed, nv = None, 1
    if b.op.name.endswith("_packed") or (len(a.shape) > 1 and len(b.shape) > 1 and int(a.shape[-2]) >= PACK_MIN_ROWS):
        packed, nv = pack_b(b)

    def at(*i):
        i = list(i)
        n = i.pop() if len(b.shape) > 1 else None
        m = i.pop() if len(a.shape) > 1 else None
        batch = tuple(i)
        lhs = a[(*_broadcast_batch(a, batch), m, k)] if m is not None else a[k]
        if packed is not None:  # packed [..., N/nv, K, nv]: its batch dims are all but the last 3
            rhs = packed[(*_broadcast_batch(packed, batch, 3), n // nv, k, n % nv)]
        else:
            rhs = b[(*_broadcast_batch(b, batch), k, n)] if n is not None else b[k]
        return te.sum(lhs.astype(acc) * rhs.astype(acc), axis=k)
    return rounded(te.compute(out_shape(op), at, name="matmul"), a.dtype)


def _broadcast_batch(tensor, batch: tuple, core: int = 2) -> tuple:
    dims = [int(d) for d in tensor.shape[:-core]]
    offset = len(batch) - len(dims)
    return tuple(0 if d == 1 else batch[offset + j] for j, d in enumerate(dims))


@lowers("nn.gemm")
def gemm(op, a, b, *c):
    ta, tb = bool(attr(op, "trans_a", 0)), bool(attr(op, "trans_b", 0))
    alpha, beta = attr(op, "alpha", 1.0), attr(op, "beta", 1.0)
    k_extent = int(a.shape[0] if ta else a.shape[1])
    m_extent = int(a.shape[1] if ta else a.shape[0])
    k = te.reduce_axis((0, k_extent), name="k")
    dt = accumulator(a.dtype)
    if tb or m_extent >= PACK_MIN_ROWS or b.op.name.endswith("_packed"):
        packed, nv = pack_b(b, transposed=tb)

        def rhs(n):
            return packed[n // nv, k, n % nv]
    else:
        def rhs(n):
            return b[k, n]
    prod = te.compute(out_shape(op), lambda m, n: te.sum(
        (a[k, m] if ta else a[m, k]).astype(dt) * rhs(n).astype(dt), axis=k), name="gemm")
    if not c and alpha == 1.0:
        return rounded(prod, a.dtype)
    return rounded(te.compute(out_shape(op), lambda m, n: const(alpha, dt) * prod[m, n] + (
        const(beta, dt) * broadcast_index(c[0], (m, n)).astype(dt) if c else const(0, dt)), name="gemm_out"), a.dtype)
