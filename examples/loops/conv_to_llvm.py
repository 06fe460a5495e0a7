"""One convolution from the nn dialect to machine code, every step in lamina's own IR and passes.

    python examples/loops/conv_to_llvm.py

What MLIR's Toy tutorial teaches in its chapters 5 and 6, on a real op: the steps TVM hides.

    nn.conv2d on tensors
      -> lower-nn-to-loops      loops on memrefs: scf.for, memref.load/store, arith, math
      -> loop-tile              the output loops cut into tiles, so a tile's data stays in cache
      -> lowering/llvm          LLVM IR built with llvmlite, verified, optimized, JIT-compiled
      -> assembly               what this CPU runs

Each step prints what it made, and each step's program runs: the loops in lamina's numpy
interpreter, the compiled code through the JIT, all checked against numpy. The same from the
command line:

    lamina opt conv.mlir -p lower-nn-to-loops,loop-tile{sizes=2,4},canonicalize,cse
    lamina opt conv.mlir -p lower-nn-to-loops,canonicalize,cse --emit llvm --llvm-opt 3
    lamina run model.onnx --backend llvmlite --check onnxruntime
"""

import re

import numpy as np

import lamina
from lamina.compiler.passes import run_pipeline
from lamina.lowering.llvm import jit
from lamina.lowering.loops import output_arrays
from lamina.runtime.interpreter import interpret

# A small conv with padding and a bias, so that every part of the lowering shows: the output
# nest, the reduction over (input channel, kh, kw) carried in iter_args, the padding test.
CONV = """
func.func @main(%x: tensor<1x3x8x8xf32>, %w: tensor<4x3x3x3xf32>, %b: tensor<4xf32>) -> tensor<1x4x8x8xf32> {
  %y = nn.conv2d %x, %w, %b attributes {pads = array<i64: 1, 1, 1, 1>}
      : (tensor<1x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<1x4x8x8xf32>
  func.return %y : tensor<1x4x8x8xf32>
}
"""

rng = np.random.default_rng(0)
x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)
w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
b = rng.standard_normal(4).astype(np.float32)


def numpy_conv(x, w, b):
    """The reference: zero-pad by 1, then a sum over input channels and the 3x3 window."""
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((1, 4, 8, 8), np.float32)
    for kh in range(3):
        for kw in range(3):
            out[0] += np.einsum("oc,chw->ohw", w[:, :, kh, kw], padded[0, :, kh:kh + 8, kw:kw + 8])
    return out + b[None, :, None, None]


want = numpy_conv(x, w, b)

# 1. The op, on tensors: what the optimizer works on.
module = lamina.parse(CONV)
(y,) = lamina.interpret(module, x, w, b)
np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
print("== 1. nn: one op on tensors ==")
print(lamina.print_ir(module))

# 2. Loops on memrefs. The function now takes its result as a last argument (destination-passing
# style: the caller owns the memory), each output element is a nest of scf.for, the sum over
# (ic, kh, kw) is carried in iter_args, and an scf.if skips the taps in the zero padding.
run_pipeline(module, "lower-nn-to-loops,canonicalize,cse")
loops = lamina.print_ir(module)
print("== 2. lower-nn-to-loops: loops on memrefs ==")
print(loops)
assert "memref<1x4x8x8xf32>" in loops and "iter_args" in loops and "scf.if" in loops
(out,) = output_arrays(module, "main")
interpret(module, x, w, b, out)        # the loops, run by the numpy interpreter
np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)

# 3. Tiles. loop-tile cuts the outermost loops of the nest into tiles of 2 x 4 and puts the
# tile loops outside: each tile of the output is finished before the next is started. Both
# sizes divide their loops' trip counts (4 channels, 8 rows), so no `arith.minsi` bound is
# needed; sizes=3,3 would show one.
run_pipeline(module, "loop-tile{sizes=2,4},canonicalize,cse")
tiled = lamina.print_ir(module)
print("== 3. loop-tile{sizes=2,4} ==")
print(tiled)
assert tiled.count("scf.for") > loops.count("scf.for")
out[...] = 0
interpret(module, x, w, b, out)
np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)

# 4. LLVM IR, built with llvmlite: loads and stores are address arithmetic on bare pointers,
# each scf.for a loop with phi nodes. LLVM's optimizer (-O3) unrolls and vectorizes what it can.
compiled = jit(module, opt_level=3)
print("== 4. LLVM IR (before LLVM's optimizer; the first 40 lines) ==")
print("\n".join(compiled.unoptimized_llvm_ir.splitlines()[:40]))
assert re.search(r'define void @"?main"?\(float\* %"?x', compiled.unoptimized_llvm_ir)

# 5. Machine code for this CPU.
asm = compiled.asm
print("== 5. assembly (its floating-point multiplies: scalar here, the window is too small to vectorize) ==")
fma = [line.strip() for line in asm.splitlines() if re.search(r"\bv?f?mul|fmadd", line)]
print("\n".join(fma[:12]) or "(none)")
print(f"... {len(asm.splitlines())} lines in all")

# 6. Run it.
out[...] = 0
compiled.call("main", x, w, b, out)
np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
print("== 6. the compiled conv equals numpy: max |diff| =", float(np.abs(out - want).max()))
print(f"   JIT compile: {compiled.compile_seconds * 1e3:.0f} ms")
