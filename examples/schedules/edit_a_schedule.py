"""Read a convolution's schedule, change it, and watch the result stay right while the time moves.

    python examples/schedules/edit_a_schedule.py

Every kernel lamina builds has a schedule: a small program in the `sched` dialect that says how
TVM should split, reorder, vectorize and parallelise the kernel's loops. lamina's own schedule
generators write it; you can read it, edit it as text, and build the kernel again. The schedule
can change only how the kernel runs, never what it computes, so the check against numpy must
hold for every schedule the verifier accepts.

The same from the command line, for a whole model:

    lamina compile model.onnx --emit-schedules sched/   # one .mlir file per kernel
    (edit sched/<kernel>.mlir)
    lamina run model.onnx --schedules sched/ --fill random --check onnxruntime
"""

import lamina
from lamina.compiler.errors import LaminaError

CONV = """
func.func @main(%x: tensor<1x8x28x28xf32>, %w: tensor<64x8x3x3xf32>) -> tensor<1x64x26x26xf32> {
  %y = nn.conv2d %x, %w : (tensor<1x8x28x28xf32>, tensor<64x8x3x3xf32>) -> tensor<1x64x26x26xf32>
  func.return %y : tensor<1x64x26x26xf32>
}
"""

# 1. Build the conv for the host CPU with lamina's default schedule, and read it.

conv = lamina.kernel(CONV)
print("== the default schedule ==")
print(conv.schedule)
# Reading it from the top:
#   %pack_ob = sched.knob pack_ob 32   the weights are packed as [O/32, C, KH, KW, 32]: 32 output
#                                      channels side by side, which is also the vector width
#                                      (the `sched.vectorize %o_i` below runs over those 32: two
#                                      AVX-512 registers)
#   %wb = sched.knob wb 13             13 output columns per register block (26 = 2 x 13)
#   %loop_order = sched.knob loop_order 1      channel blocks outermost, then rows (2: rows first)
#   %reduction_chunks = sched.knob reduction_chunks 1   each row summed over all input channels
#                                      (2: input channels in chunks, each over all rows: for
#                                      weights too large to stay in cache)
#   %parallel_loops = sched.knob parallel_loops 3   batch, channel blocks and rows run in parallel
#   %unroll_window = sched.knob unroll_window 1     the 3x3 window's loops stay loops (3: unrolled)
#   sched.cache_write @local ...       the block is summed in registers, then written back
#   sched.split %o_1 (%pack_ob)        output channels -> (blocks of 32, 32 inside a block)
#   sched.split %j_1 (%wb)             output columns  -> (blocks of 13, 13 inside a block)
#   sched.reorder ...                  the reduction (rc, ry, rx) outside the 13 x 32 block
#   sched.parallel %fused              batch x channel blocks x rows shared among the cores
#   sched.vectorize %o_i / unroll %j_i 32 lanes of channels, 13 columns unrolled: 26 vector FMAs
#                                      per input value loaded
# A knob is a named decision: the value is written once, every op that uses it names it, so a
# tuner (or you) can change one number and the rest of the program follows. loop_order,
# reduction_chunks, parallel_loops and unroll_window are *choices*: the generator branches on
# them (which loops it reorders, fuses, unrolls), so another value is another program, which
# `with_knobs` has the generator write (step 5).
assert conv.knobs == {"pack_ob": 32, "wb": 13, "loop_order": 1, "reduction_chunks": 1, "parallel_loops": 3,
                      "unroll_window": 1}, conv.knobs
base_error = conv.check()                    # largest |kernel - numpy| on seeded random inputs
base_time = conv.time()
print(f"default: max |diff| vs numpy {base_error:.2e}, {base_time * 1e6:.0f} us")
assert base_error < 1e-3

# 2. Change the split: 2 output columns per register block instead of 13. Edit the text, as you
#    would edit a file written by `--emit-schedules`.

narrow = conv.with_schedule(conv.schedule.replace("sched.knob wb 13", "sched.knob wb 2"))
assert narrow.knobs["wb"] == 2
assert narrow.tir != conv.tir                # a different kernel...
narrow_error = narrow.check()                # ...that computes the same thing
narrow_time = narrow.time()
print(f"wb = 2: max |diff| {narrow_error:.2e}, {narrow_time * 1e6:.0f} us "
      f"({narrow_time / base_time:.2f}x the default's time: fewer FMAs per weight vector loaded)")
assert narrow_error < 1e-3

# 3. Change the vector width and the packing block together (for this conv they are one knob):
#    8 channels per vector, weights packed [O/8, C, KH, KW, 8]. `with_knobs` edits the knob ops.

eight = conv.with_knobs(pack_ob=8)
assert eight.tir != conv.tir
print(f"pack_ob = 8: max |diff| {eight.check():.2e}, {eight.time() * 1e6:.0f} us")
assert eight.check() < 1e-3

# 4. A split that does not divide the loop is legal (TVM adds a bounds test): 26 columns by 5.

uneven = conv.with_knobs(wb=5)
print(f"wb = 5 (26 = 5 x 5 + 1): max |diff| {uneven.check():.2e}, {uneven.time() * 1e6:.0f} us")
assert uneven.check() < 1e-3

# 5. A choice: rows outermost (each row's channel blocks in turn), and only the rows parallel.
#    The generator writes that program; its reorder and fuse differ, not only its knobs.

rows = conv.with_knobs(loop_order=2, parallel_loops=2)
assert "sched.fuse %b_1, %i_1\n" in rows.schedule and rows.check() < 1e-3
print(f"loop_order = 2, parallel_loops = 2: max |diff| {rows.check():.2e}, {rows.time() * 1e6:.0f} us")

# 6. A schedule that would change the result, or that TVM cannot apply, is refused before TVM
#    sees it: one error with the line and column of the op at fault, and a hint.

broken = conv.schedule.replace("sched.vectorize %o_i", "sched.vectorize %rc_1")  # a reduction loop
try:
    conv.with_schedule(broken)
except LaminaError as e:
    print("refused:", e)
    assert "reduction loop" in str(e)
else:
    raise AssertionError("vectorizing a reduction loop was accepted")

# 7. What TVM made of it: the scheduled kernel as TVMScript (`lamina compile MODEL --print-tir K`).

print("== the first lines of the scheduled kernel (wb = 2) ==")
print("\n".join(narrow.tir.splitlines()[:12]))
