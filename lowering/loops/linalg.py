"""Matrix products -> the output initialized, then an i-k-j nest accumulating into it in memory.

    nn.matmul %a, %b : (tensor<4x3xf32>, tensor<3x5xf32>) -> tensor<4x5xf32>

becomes

    scf.for %i = %c0 to %c4 step %c1 {
      scf.for %j = %c0 to %c5 step %c1 {
        memref.store %cst, %out0[%i, %j] : memref<4x5xf32>
      }
    }
    scf.for %i_1 = %c0 to %c4 step %c1 {
      scf.for %k = %c0 to %c3 step %c1 {
        %aik = memref.load %a[%i_1, %k] : memref<4x3xf32>
        scf.for %j_1 = %c0 to %c5 step %c1 {
          %bkj = memref.load %b[%k, %j_1] : memref<3x5xf32>
          %cij = memref.load %out0[%i_1, %j_1] : memref<4x5xf32>
          %p = arith.mulf %aik, %bkj : f32
          %s = arith.addf %cij, %p : f32
          memref.store %s, %out0[%i_1, %j_1] : memref<4x5xf32>
        }
      }
    }

The innermost loop runs over j, the output's last (unit-stride) dim, with no loop-carried scalar:
its iterations are independent, so LLVM's loop vectorizer turns it into vector loads, multiplies
and adds of b's row and the output's row (a k loop carrying the sum in iter_args would be a float
chain that LLVM may not reorder without fast-math, and would read b with a stride). The sums are
the same terms added in the same k order, only kept in memory instead of a register.

matmul follows numpy.matmul (batch dims broadcast; a 1-D a is a row, a 1-D b a column, and
their dim is dropped from the result); gemm is ONNX's alpha * op(a) @ op(b) + beta * c: the
output starts at beta * c (or 0), and alpha scales a's element before the j loop.
"""

from __future__ import annotations

from lamina.dialects.nn.base import py

from .builder import Loops, lowers
from .elementwise import names_for


def _ikj(L: Loops, out, outer: list[int], outer_names: list[str], k_extent: int, j_extent: int | None,
         out_at, a_at, b_at) -> None:
    """for outer..., for k: a = a_at(outer, k); for j: out[out_at(outer, j)] += a * b_at(outer, k, j).
    `j_extent` None: no j loop (a matrix-vector product; j is None in the callbacks)."""
    def per_k(o, k):
        a = a_at(o, k)

        def per_j(js):
            j = js[0] if js else None
            where = out_at(o, j)
            b = L.load(*b_at(o, k, j), name="bkj")
            partial = L.load(out, where, name="cij")
            L.store(L.addf(partial, L.mulf(a, b, name="p"), name="s"), out, where)
        if j_extent is None:
            per_j([])
        else:
            L.nest([j_extent], ["j"], per_j, parallel=False)

    # only the outer loops may be parallel (scf.parallel): every k adds into the same row
    L.nest(outer, outer_names, lambda o: L.nest([k_extent], ["k"], lambda ks: per_k(o, ks[0]), parallel=False))


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

    outer = out_shape[:len(out_shape) - (b_rank > 1)]  # the batch dims and i
    _ikj(L, c, outer, names[:len(outer)], k_extent, out_shape[-1] if b_rank > 1 else None,
         out_at=lambda o, j: o + ([j] if b_rank > 1 else []),
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

    _ikj(L, y, [m], ["i"], k_extent, n,
         out_at=lambda o, j: [o[0], j], a_at=a_at,
         b_at=lambda o, k, j: (b, [j, k] if trans_b else [k, j]))
