"""Matrix products -> the output initialized, then register tiles accumulating into it
(microkernel.py), with an i-k-j nest of scalars for what the tiles cannot do.

    nn.matmul %a, %b : (tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<64x64xf32>

becomes

    scf.for %i = %c0 to %c64 step %c1 {                   // the output starts at 0
      scf.for %j = %c0 to %c64 step %c1 {
        memref.store %cst, %out0[%i, %j] : memref<64x64xf32>
      }
    }
    scf.for %i_1 = %c0 to %c60 step %c6 {                  // 6 x 32 tiles, in registers over k
      ...
      scf.for %j_1 = %c0 to %c64 step %c32 {
        %acc00 = vector.load %out0[%i_1, %j_1] : memref<64x64xf32>, vector<16xf32>
        ...
        %acc:12 = scf.for %k = %c0 to %c64 step %c1 iter_args(...) { ... vector.fma ... }
        vector.store %acc#0, %out0[%i_1, %j_1] : memref<64x64xf32>, vector<16xf32>
        ...
      }
    }
    ...                                                    // the last 64 % 6 = 4 rows: one tile high

(microkernel.py draws the whole tiling and says why 8 rows x 3 vectors.) The tiles add onto the output
in memory, so the initialization says what a product starts from: 0, or gemm's beta * c.

The micro-kernel needs float elements of 32 or 64 bits, whole vectors of columns and B's rows
contiguous; what it cannot do keeps the i-k-j nest of scalars (`microkernel.ikj`): a 1-D b (a matrix-vector
product), f16, integers, fewer than 16 columns. Its innermost loop runs over j, the output's
unit-stride dim, with no loop-carried scalar, so LLVM's loop vectorizer vectorizes it:

    scf.for %i_1 = %c0 to %c4 step %c1 {
      scf.for %k = %c0 to %c3 step %c1 {
        %aik = memref.load %a[%i_1, %k] : memref<4x3xf16>
        scf.for %j_1 = %c0 to %c5 step %c1 {
          %bkj = memref.load %b[%k, %j_1] : memref<3x5xf16>
          %cij = memref.load %out0[%i_1, %j_1] : memref<4x5xf16>
          %p = arith.mulf %aik, %bkj : f16
          %s = arith.addf %cij, %p : f16
          memref.store %s, %out0[%i_1, %j_1] : memref<4x5xf16>
        }
      }
    }

Both sum the same terms in the same k order (the tiles with one rounding per fused multiply-add).

matmul follows numpy.matmul (batch dims broadcast; a 1-D a is a row, a 1-D b a column, and
their dim is dropped from the result): a loop per batch dim around the product. gemm is ONNX's
alpha * op(a) @ op(b) + beta * c: the output starts at beta * c (or 0), alpha scales a's element
before it is used, a transposed a is read down its columns, and a transposed b is first copied
into a k x n buffer (a packed panel, as BLIS packs B) so that the tiles read its rows.
"""

from __future__ import annotations

from lamina.compiler.types import MemRefType
from lamina.dialects import memref
from lamina.dialects.nn.base import py

from . import microkernel
from .builder import Loops, lowers
from .elementwise import names_for


@lowers("nn.matmul")
def lower_matmul(L: Loops, op, inputs, outputs):
    (a, b), (c,) = inputs, outputs
    a_rank, b_rank = len(a.type.shape), len(b.type.shape)
    k_extent = a.type.shape[-1]
    out_shape = list(c.type.shape)
    batch_rank = len(out_shape) - (a_rank > 1) - (b_rank > 1)
    names = names_for(batch_rank) + ["i"] * (a_rank > 1) + ["j"] * (b_rank > 1)
    names = [n if n not in ("i", "j") or k >= batch_rank else f"b{k}" for k, n in enumerate(names)]
    zero = L.constant(0.0, c.type.element_type)
    L.nest(out_shape, names, lambda ivs: L.store(zero, c, ivs))

    def batch_of(buffer, ivs):
        shape = buffer.type.shape[:len(buffer.type.shape) - 2]
        lead = batch_rank - len(shape)
        return [L.index(0) if d == 1 else ivs[lead + n] for n, d in enumerate(shape)]

    def row(o):  # a's row index (none for a 1-D a)
        return [o[batch_rank]] if a_rank > 1 else []

    t = c.type.element_type
    if b_rank > 1 and microkernel.applies(t, out_shape[-1], b.type, c.type):
        batch = out_shape[:batch_rank]
        rows = (lambda i: [i]) if a_rank > 1 else (lambda i: [])  # a 1-D a is one row, with no index

        def product(o):  # o: the batch indices
            microkernel.product(
                L, t, out_shape[-2] if a_rank > 1 else 1, out_shape[-1], k_extent,
                c_at=lambda i, j: (c, o + rows(i) + [j]),
                a_at=lambda i, k: L.load(a, (batch_of(a, o) if a_rank > 1 else []) + rows(i) + [k], name="aik"),
                b_at=lambda k, j: (b, batch_of(b, o) + [k, j]),
                parallel=L.parallel and all(d == 1 for d in batch))  # else the batch loop is parallel
        L.nest(batch, names[:batch_rank], product)
        return

    outer = out_shape[:len(out_shape) - (b_rank > 1)]  # the batch dims and i
    microkernel.ikj(L, outer, names[:len(outer)], k_extent, out_shape[-1] if b_rank > 1 else None,
                    c_at=lambda o, j: (c, o + ([j] if b_rank > 1 else [])),
                    a_at=lambda o, k: L.load(a, (batch_of(a, o) if a_rank > 1 else []) + row(o) + [k], name="aik"),
                    b_at=lambda o, k, j: (b, (batch_of(b, o) if b_rank > 1 else []) + [k] + ([j] if b_rank > 1 else [])))


@lowers("nn.gemm")
def lower_gemm(L: Loops, op, inputs, outputs):
    (y,) = outputs
    a, b, *c = inputs
    trans_a, trans_b = py(op.trans_a), py(op.trans_b)
    alpha, beta = py(op.alpha), py(op.beta)
    k_extent = a.type.shape[0] if trans_a else a.type.shape[1]
    m, n = y.type.shape
    t = y.type.element_type

    def init(ivs):
        if not c:
            L.store(L.constant(0.0, t), y, ivs)
            return
        bias = L.load_broadcast(c[0], ivs, name="c")
        if beta != 1.0:
            bias = L.mulf(L.constant(beta, t), bias, name="y")
        L.store(bias, y, ivs)
    L.nest([m, n], ["i", "j"], init)

    def a_at(o, k):
        (i,) = o
        value = L.load(a, [k, i] if trans_a else [i, k], name="aik")
        return L.mulf(L.constant(alpha, t), value, name="scaled") if alpha != 1.0 else value

    if microkernel.applies(t, n, y.type) and (trans_b or microkernel.applies(t, n, b.type)):
        panel = _transposed(L, b) if trans_b else b
        microkernel.product(L, t, m, n, k_extent, c_at=lambda i, j: (y, [i, j]),
                            a_at=lambda i, k: a_at([i], k), b_at=lambda k, j: (panel, [k, j]), parallel=L.parallel)
        if trans_b:
            L.b.insert(memref.DeallocOp(operands=[panel]))
        return

    microkernel.ikj(L, [m], ["i"], k_extent, n, c_at=lambda o, j: (y, [o[0], j]), a_at=a_at,
                    b_at=lambda o, k, j: (b, [j, k] if trans_b else [k, j]))


def _transposed(L: Loops, b):
    """A new buffer holding b's transpose (k x n), so that the tiles read B's rows contiguously."""
    n, k = b.type.shape
    alloc = memref.AllocOp.create(MemRefType((k, n), b.type.element_type))
    L.b.insert(alloc)
    panel = alloc.results[0]
    panel.name_hint = "b_t"
    L.nest([k, n], ["k", "j"], lambda ivs: L.store(L.load(b, [ivs[1], ivs[0]], name="bjk"), panel, ivs))
    return panel
