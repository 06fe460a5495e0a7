"""The register-tiled matrix product: C += A @ B as tiles of MR rows x NR vectors of C, each tile
kept in registers (vectors) for the whole k loop. The recipe of BLIS's micro-kernels and of MLIR's
vector-dialect matmul lowering.

For C[m, n] += sum_k A[i, k] * B[k, j] with f32 (V = 16 lanes: one AVX-512 register), one tile
(rows %i .. %i+MR-1, columns %j .. %j+NR*V-1) is

    %cin00 = vector.load %out0[%i, %j] : memref<64x96xf32>, vector<16xf32>   // MR x NR of these
    ...
    %cout00, ... = scf.for %k = %c0 to %c64 step %c1 iter_args(%acc00 = %cin00, ...) -> (...) {
      %b0 = vector.load %b[%k, %j] : memref<64x96xf32>, vector<16xf32>      // B's row k: NR loads
      %b1 = vector.load %b[%k, %j_16] : memref<64x96xf32>, vector<16xf32>
      ...
      %aik = memref.load %a[%i, %k] : memref<64x64xf32>                     // per row r of the tile:
      %a0 = vector.broadcast %aik : f32 to vector<16xf32>                  //   A[i+r, k] in each lane
      %fma00 = vector.fma %a0, %b0, %acc00 : vector<16xf32>                //   NR fused multiply-adds
      ...
      scf.yield %fma00, ... : vector<16xf32>, ...
    }
    vector.store %cout00, %out0[%i, %j] : memref<64x96xf32>, vector<16xf32>  // the tile, stored once

Each k step loads NR vectors and MR scalars and does MR * NR FMAs on registers; C's tile is read
and written once per tile instead of once per k (the i-k-j nest's cost: a load and a store of C
for every FMA). The tiles cover C like this:

    +-----------------------+----+---+     rows 0 .. m - m % MR, step MR:   MR-row tiles
    |  MR x NR*V tiles      | V  | s |     the last m % MR rows:            one tile of those rows
    +-----------------------+----+ c |     columns 0 .. n - n % (NR*V):     NR-vector tiles
    |  (m % MR) x NR*V      | V  | a |     then whole vectors left:         a tile of fewer vectors
    +-----------------------+----+ l |     the last n % V columns:          scalar i-k-j loops
                                   ar

Why these numbers. The vectors are written with lamina's `vector` dialect (vector.load, .store,
.broadcast, .fma: MLIR's names) rather than left to LLVM's vectorizers: the IR then says which
values live in registers, a student can read the micro-kernel in `lamina opt` output, and the
speed does not depend on whether LLVM's SLP vectorizer happens to pack an unrolled loop.
VECTOR_BYTES is 64, an AVX-512 register (16 f32, 8 f64), a constant so that the IR is the same on
every machine; on a machine with narrower vectors LLVM splits each vector into two or four
(correct, and still register-tiled, but it spills). MR x NR = 8 x 3: 24 accumulators + NR
vectors of B + one broadcast = 28 of AVX-512's 32 vector registers. Measured on the 512 matmul,
one thread, on an Emerald Rapids core (FMA peak ~200 GFLOP/s), best of 30 calls, two sittings
(the machine was shared): 6 x 2: 95-148 GFLOP/s, 8 x 2: 119-152, 12 x 2: 126, 6 x 4: 129-176,
8 x 3: 126-179 (the old i-k-j nest: 23). No cache blocking over k or packing of A: a 512 x 48
panel of B (96 KiB) and 8 rows of A stay in L1/L2, and the measurements left little to gain.
"""

from __future__ import annotations

from lamina.compiler.ir import Value
from lamina.compiler.types import FloatType, MemRefType, Type, VectorType
from lamina.dialects import vector

from .builder import Loops

VECTOR_BYTES = 64
"""Bytes in one vector: an AVX-512 register (see the module docstring)."""

MR = 8
"""Rows of C in one tile."""

NR = 3
"""Vectors of C in one row of a tile (NR * lanes columns)."""


def lanes(t: Type) -> int:
    """Elements of `t` in one vector: 16 for f32, 8 for f64."""
    return VECTOR_BYTES * 8 // t.width


def applies(t: Type, n: int, *row_major: MemRefType) -> bool:
    """Whether the micro-kernel can compute a product with elements `t` and `n` columns: f32 or
    f64 (f16 and integers keep the scalar loops), at least one whole vector of columns, and C's and
    B's rows contiguous (vector.load reads consecutive elements)."""
    if not isinstance(t, FloatType) or t.name not in ("f32", "f64") or n < lanes(t):
        return False
    return all(m.strides_and_offset()[0][-1] == 1 for m in row_major)


def tile(L: Loops, t: Type, rows: list[Value], cols: list[Value], k_extent: int,
         c_at, a_at, b_at) -> None:
    """One tile of C: rows `rows` (len <= MR), the vectors starting at columns `cols` (len <= NR),
    accumulated over k in registers (see the module docstring). `c_at(i, j)` and `b_at(k, j)` give
    (memref, indices) of C[i, j] and B[k, j]; `a_at(i, k)` emits A[i, k] (a scalar)."""
    vt = VectorType((lanes(t),), t)
    names = [f"{r}{q}" for r in range(len(rows)) for q in range(len(cols))]  # row r, vector q
    inits = [L.value(vector.LoadOp, *_flat(c_at(i, j)), result_types=[vt], name=f"cin{n}")
             for (i, j), n in zip(_grid(rows, cols), names)]

    def k_step(ks, accs):
        (k,) = ks
        bs = [L.value(vector.LoadOp, *_flat(b_at(k, j)), result_types=[vt], name=f"b{q}") for q, j in enumerate(cols)]
        out = []
        for r, i in enumerate(rows):
            a = L.value(vector.BroadcastOp, a_at(i, k), result_types=[vt], name=f"a{r}")
            out += [L.value(vector.FMAOp, a, b, accs[r * len(cols) + q], result_types=[vt], name=f"fma{r}{q}")
                    for q, b in enumerate(bs)]
        return out

    sums = L.accumulate([k_extent], ["k"], inits, k_step, acc_names=[f"acc{n}" for n in names])
    for (i, j), s, n in zip(_grid(rows, cols), sums, names):
        s.name_hint = f"cout{n}"
        buffer, indices = c_at(i, j)
        L.b.insert(vector.StoreOp.create(s, buffer, indices))


def _grid(rows, cols):
    return [(i, j) for i in rows for j in cols]


def _flat(at):
    buffer, indices = at
    return [buffer, *indices]


def product(L: Loops, t: Type, m: int, n: int, k_extent: int, c_at, a_at, b_at, parallel: bool) -> None:
    """C[m, n] += A[m, k] @ B[k, n], tiled as the module docstring draws it. The callbacks are
    `tile`'s; `parallel`: the outermost loop of each part is an scf.parallel (tiles write apart)."""
    v = lanes(t)
    m_tiled, n_tiled = m - m % MR, n - n % (NR * v)
    n_vectors = n - n % v

    def rows_of(i0: Value, count: int):
        return [L.add(i0, r, name=f"i_{r}") for r in range(count)]

    def cols_of(j0: Value, count: int):
        return [L.add(j0, q * v, name=f"j_{q * v}") for q in range(count)]

    def row_block(i0: Value, count: int, outer: bool):
        rows = rows_of(i0, count)
        L.loop(0, n_tiled, NR * v, "j", lambda j0: tile(L, t, rows, cols_of(j0, NR), k_extent, c_at, a_at, b_at),
               parallel and outer)
        if n_vectors > n_tiled:  # fewer than NR whole vectors left
            tile(L, t, rows, cols_of(L.index(n_tiled), (n_vectors - n_tiled) // v), k_extent, c_at, a_at, b_at)

    L.loop(0, m_tiled, MR, "i", lambda i0: row_block(i0, MR, False), parallel)
    if m > m_tiled:
        row_block(L.index(m_tiled), m - m_tiled, True)
    if n > n_vectors:  # the last n % V columns: scalars
        ikj(L, [m], ["i"], k_extent, n - n_vectors, c_at=lambda o, j: c_at(o[0], j),
            a_at=lambda o, k: a_at(o[0], k), b_at=lambda o, k, j: b_at(k, j), j_offset=n_vectors, parallel=parallel)


def ikj(L: Loops, outer: list[int], outer_names: list[str], k_extent: int, j_extent: int | None,
        c_at, a_at, b_at, j_offset: int = 0, parallel: bool | None = None) -> None:
    """The scalar product, for what the tiles cannot do:

        for outer...: for k: a = a_at(outer, k)
                             for j in j_offset .. j_offset + j_extent: C[c_at(outer, j)] += a * B[b_at(outer, k, j)]

    `c_at(o, j)` and `b_at(o, k, j)` give (memref, indices), `a_at(o, k)` emits A's element.
    `j_extent` None: no j loop (a matrix-vector product; j is None in the callbacks). Only the outer
    loops may be parallel (`parallel`, default the emitter's): every k adds into the same row."""
    def per_k(o, k):
        a = a_at(o, k)

        def per_j(js):
            j = (L.add(js[0], j_offset) if j_offset else js[0]) if js else None
            buffer, where = c_at(o, j)
            b = L.load(*b_at(o, k, j), name="bkj")
            partial = L.load(buffer, where, name="cij")
            L.store(L.addf(partial, L.mulf(a, b, name="p"), name="s"), buffer, where)
        if j_extent is None:
            per_j([])
        else:
            L.nest([j_extent], ["j"], per_j, parallel=False)

    L.nest(outer, outer_names, lambda o: L.nest([k_extent], ["k"], lambda ks: per_k(o, ks[0]), parallel=False),
           parallel=parallel)
