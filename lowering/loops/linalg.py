"""Matrix products -> a nest over the output and an scf.for over k carrying the sum.

    nn.matmul %a, %b : (tensor<4x3xf32>, tensor<3x5xf32>) -> tensor<4x5xf32>

becomes

    scf.for %i = %c0 to %c4 step %c1 {
      scf.for %j = %c0 to %c5 step %c1 {
        %acc = scf.for %k = %c0 to %c3 step %c1 iter_args(%acc_1 = %cst) -> (f32) {
          %a = memref.load %a[%i, %k] : memref<4x3xf32>
          %b = memref.load %b[%k, %j] : memref<3x5xf32>
          %p = arith.mulf %a, %b : f32
          %s = arith.addf %acc_1, %p : f32
          scf.yield %s : f32
        }
        memref.store %acc, %out0[%i, %j] : memref<4x5xf32>
      }
    }

matmul follows numpy.matmul (batch dims broadcast; a 1-D a is a row, a 1-D b a column, and
their dim is dropped from the result); gemm is ONNX's alpha * op(a) @ op(b) + beta * c.
"""

from __future__ import annotations

from lamina.dialects.nn.base import py

from .builder import Loops, lowers
from .elementwise import names_for


def _dot(L: Loops, k_extent: int, a_at, b_at, zero):
    """sum over k of a_at(k) * b_at(k), as an scf.for with the sum in its iter_args."""
    def step(ivs, accs):
        (k,), (acc,) = ivs, accs
        product = L.mulf(L.load(*a_at(k), name="a"), L.load(*b_at(k), name="b"), name="p")
        return [L.addf(acc, product, name="s")]
    return L.accumulate([k_extent], ["k"], [zero], step)[0]


@lowers("nn.matmul")
def lower_matmul(L: Loops, op, inputs, outputs):
    (a, b), (c,) = inputs, outputs
    a_rank, b_rank = len(a.type.shape), len(b.type.shape)
    k_extent = a.type.shape[-1]
    out_shape = c.type.shape
    batch_rank = len(out_shape) - (a_rank > 1) - (b_rank > 1)
    zero = L.constant(0.0, c.type.element_type)
    names = names_for(batch_rank) + ["i"] * (a_rank > 1) + ["j"] * (b_rank > 1)
    names = [n if n not in ("i", "j") or k >= batch_rank else f"b{k}" for k, n in enumerate(names)]

    def batch_of(buffer, ivs, matrix_dims):
        shape = buffer.type.shape[:len(buffer.type.shape) - matrix_dims]
        lead = batch_rank - len(shape)
        return [L.index(0) if d == 1 else ivs[lead + n] for n, d in enumerate(shape)]

    def body(ivs):
        rest = ivs[batch_rank:]
        i = rest[0] if a_rank > 1 else None
        j = rest[-1] if b_rank > 1 else None
        a_batch = batch_of(a, ivs, 2) if a_rank > 1 else []
        b_batch = batch_of(b, ivs, 2) if b_rank > 1 else []
        total = _dot(L, k_extent,
                     lambda k: (a, a_batch + ([i] if a_rank > 1 else []) + [k]),
                     lambda k: (b, b_batch + [k] + ([j] if b_rank > 1 else [])), zero)
        L.store(total, c, ivs)

    L.nest(out_shape, names, body)


@lowers("nn.gemm")
def lower_gemm(L: Loops, op, inputs, outputs):
    (y,) = outputs
    a, b, *c = inputs
    trans_a, trans_b = py(op.trans_a), py(op.trans_b)
    alpha, beta = py(op.alpha), py(op.beta)
    k_extent = a.type.shape[0] if trans_a else a.type.shape[1]
    t = y.type.element_type
    zero = L.constant(0.0, t)

    def body(ivs):
        i, j = ivs
        total = _dot(L, k_extent,
                     lambda k: (a, [k, i] if trans_a else [i, k]),
                     lambda k: (b, [j, k] if trans_b else [k, j]), zero)
        if alpha != 1.0:
            total = L.mulf(L.constant(alpha, t), total, name="scaled")
        if c:
            bias = L.load_broadcast(c[0], ivs, name="c")
            if beta != 1.0:
                bias = L.mulf(L.constant(beta, t), bias)
            total = L.addf(total, bias, name="y")
        L.store(total, y, ivs)

    L.nest(y.type.shape, ["i", "j"], body)
