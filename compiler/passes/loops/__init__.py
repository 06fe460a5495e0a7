"""Loop passes: transformations of loop IR (scf.for nests over memrefs, with arith and math).

One module per pass, each registered by name (loaded on first use, like every lamina pass):

    loop-tile{sizes=32,32}          loop_tile.py    tile perfect nests; tile loops outermost
    loop-unroll{factor=4 full=false full-limit=16}
                                    loop_unroll.py  unroll innermost loops, remainder loop
    loop-invariant-code-motion      licm.py         hoist invariant pure ops (and loads from
                                                    loops without stores)
    loop-fusion                     loop_fusion.py  merge adjacent nests with point-wise
                                                    dependences, forward temporaries

canonicalize, cse and dce work on loop IR as they are: index arithmetic folds, scf.for loops
that run zero times or once disappear (dialects/scf.py), cse merges loads only when no store
can come between, dce keeps stores and the loops that hold them. Each pass is checked on random
loop programs by `lamina.compiler.testing_loops.check_loop_pass` (tests/test_loop_passes.py).

Vectorization is LLVM's job, not a lamina pass. The llvmlite backend (lowering/llvm) runs LLVM's
-O2/-O3 pipeline with the loop vectorizer and the SLP vectorizer on, for the host CPU's features.
What LLVM's loop vectorizer needs from the loops lamina hands it:
  - an innermost loop whose induction variable indexes the last (unit-stride) dimension of the
    memrefs it loads and stores: `%a[%i, %j]` with %j the innermost loop's variable;
  - a trip count it can compute before the loop (any bounds that do not change inside it: the
    `arith.minsi` end of a partial tile is fine, LLVM adds a scalar epilogue);
  - no calls it cannot vectorize in the body (math ops become LLVM intrinsics where LLVM has
    one) and, for reductions over floats, it keeps the order (no fast-math), so a float
    `iter_args` sum stays scalar while elementwise loops vectorize.
So: tile so that the innermost point loop runs over the contiguous dimension, then let LLVM do it:

    lamina opt prog.mlir -p "loop-tile{sizes=16,64},loop-invariant-code-motion,canonicalize" \\
        --emit llvm --llvm-opt 3        # shows <8 x float> operations on an AVX2 machine

(tests/test_loop_passes.py checks that a tiled elementwise program comes out with a vector type.)
Unrolling by hand before LLVM is rarely needed: LLVM unrolls the vectorized loop itself; the
loop-unroll pass is there to show what unrolling is, and for loops LLVM does not touch.
"""

from lamina.compiler.passes.pass_base import register_pass_module

for _name, _module in (("loop-tile", "loop_tile"), ("loop-unroll", "loop_unroll"),
                       ("loop-invariant-code-motion", "licm"), ("loop-fusion", "loop_fusion")):
    register_pass_module(_name, f"lamina.compiler.passes.loops.{_module}")
