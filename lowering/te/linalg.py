"""Linear algebra: matmul and gemm, summing half precision in float32."""

from __future__ import annotations

from ..tvm_adapter import te
from . import lowers
from .common import _attr, accumulator, broadcast_index, const, out_shape, rounded


@lowers("nn.matmul")
def matmul(op, a, b):
    """numpy.matmul: batch dims broadcast; a 1-D `a` is a row (k), a 1-D `b` a column (k), and
    their dim is not in the result."""
    k = te.reduce_axis((0, int(a.shape[-1])), name="k")
    acc = accumulator(a.dtype)

    def at(*i):
        i = list(i)
        n = i.pop() if len(b.shape) > 1 else None
        m = i.pop() if len(a.shape) > 1 else None
        batch = tuple(i)
        lhs = a[(*_broadcast_batch(a, batch), m, k)] if m is not None else a[k]
        rhs = b[(*_broadcast_batch(b, batch), k, n)] if n is not None else b[k]
        return te.sum(lhs.astype(acc) * rhs.astype(acc), axis=k)
    return rounded(te.compute(out_shape(op), at, name="matmul"), a.dtype)


def _broadcast_batch(tensor, batch: tuple) -> tuple:
    dims = [int(d) for d in tensor.shape[:-2]]
    offset = len(batch) - len(dims)
    return tuple(0 if d == 1 else batch[offset + j] for j, d in enumerate(dims))


@lowers("nn.gemm")
def gemm(op, a, b, *c):
    ta, tb = bool(_attr(op, "trans_a", 0)), bool(_attr(op, "trans_b", 0))
    alpha, beta = _attr(op, "alpha", 1.0), _attr(op, "beta", 1.0)
    k_extent = int(a.shape[0] if ta else a.shape[1])
    k = te.reduce_axis((0, k_extent), name="k")
    dt = accumulator(a.dtype)
    prod = te.compute(out_shape(op), lambda m, n: te.sum(
        (a[k, m] if ta else a[m, k]).astype(dt) * (b[n, k] if tb else b[k, n]).astype(dt), axis=k), name="gemm")
    if not c and alpha == 1.0:
        return rounded(prod, a.dtype)
    return rounded(te.compute(out_shape(op), lambda m, n: const(alpha, dt) * prod[m, n] + (
        const(beta, dt) * broadcast_index(c[0], (m, n)).astype(dt) if c else const(0, dt)), name="gemm_out"), a.dtype)
