"""One convolution written for a GPU: split, bind to blocks and threads, stage the input in shared
memory; read it as schedule IR, as TIR, as OpenCL C and as CUDA C; run it on OpenCL.

    python examples/schedules/gpu_conv.py

A GPU runs a kernel as a grid of thread blocks (OpenCL: work-groups of work-items). A schedule
for a GPU says which loops become the blocks (`blockIdx.x`), which become the threads of a block
(`threadIdx.x`), and which data the threads of a block share through the block's fast shared
memory (OpenCL's `__local`). Nothing else changes: the computation is the same nn.conv2d, and the
check against numpy must hold for every schedule the verifier accepts.

On this machine there is no GPU, but there is an OpenCL device on the CPU (PoCL), which runs the
very same kernel. The same schedule built for CUDA gives CUDA C (and, with a CUDA compiler, a
cubin; `lamina compile --target cuda -o model.tar` packs those for a machine with an NVIDIA GPU).

The same from the command line, for a whole model:

    lamina compile model.onnx --target opencl --emit-source src/   # src/<kernel>.cl and .mlir
    lamina run model.onnx --target opencl --fill random --check onnxruntime
"""

import lamina
from lamina.compiler.errors import LaminaError
from lamina.runtime.opencl import missing_reason

CONV = """
func.func @main(%x: tensor<1x32x28x28xf32>, %w: tensor<64x32x3x3xf32>) -> tensor<1x64x26x26xf32> {
  %y = nn.conv2d %x, %w : (tensor<1x32x28x28xf32>, tensor<64x32x3x3xf32>) -> tensor<1x64x26x26xf32>
  func.return %y : tensor<1x64x26x26xf32>
}
"""

# 1. The schedule, written by hand. The output is 64 channels x 26 rows x 26 columns.
#    - blocks: 16 groups of 4 channels x 13 pairs of rows = 208 thread blocks (%blocks);
#    - threads: inside a block, one thread per output element of its 4 channels x 2 rows x 26
#      columns = 208 threads (%threads; the target allows 256), each summing its element in a
#      register (`cache_write @local`, written back once at the end);
#    - shared memory: the input channels are summed 8 at a time (%rc_o); before each step the
#      block's threads copy the 8 channels x 4 rows x 28 columns of input they all read into
#      shared memory together (`cache_read @shared`, its copy loop split over the 208 threads),
#      so each input value is read from global memory once per block, not once per thread.
SCHEDULE = """
sched.schedule @conv2d attributes {target = "opencl"} {
  %co = sched.knob co 4
  %rows = sched.knob rows 2
  %rc_step = sched.knob rc_step 8
  %copy_threads = sched.knob copy_threads 208
  %pack_ob = sched.knob pack_ob 16
  %pack = sched.get_block @pack_w
  sched.compute_inline %pack
  %conv = sched.get_block @conv2d
  %acc = sched.cache_write @local %conv 0
  %b, %o, %i, %j, %rc, %ry, %rx = sched.get_loops %conv
  %o_blk, %o_thr = sched.split %o (%co)
  %i_blk, %i_thr = sched.split %i (%rows)
  %rc_o, %rc_i = sched.split %rc (%rc_step)
  sched.reorder %b, %o_blk, %i_blk, %o_thr, %i_thr, %j, %rc_o, %rc_i, %ry, %rx
  %blocks = sched.fuse %b, %o_blk, %i_blk
  sched.bind @blockIdx.x %blocks
  %threads = sched.fuse %o_thr, %i_thr, %j
  sched.bind @threadIdx.x %threads
  sched.reverse_compute_at %acc, %threads
  %x_shared = sched.cache_read @shared %conv 0
  sched.compute_at %x_shared, %rc_o
  %l:6 = sched.get_loops %x_shared
  %copy = sched.fuse %l#3, %l#4, %l#5
  %copy_o, %copy_i = sched.split %copy (%copy_threads)
  sched.bind @threadIdx.x %copy_i
  sched.unroll %rx
  %init = sched.decompose_reduction %conv, %rc_o
}
"""
# (`pack_ob` is the conv compute's own knob: its weights are read packed [O/16, C, KH, KW, 16];
#  the pack_w block that packs them is inlined, so each thread reads the weight it needs.)

conv = lamina.kernel(CONV, target="opencl").with_schedule(SCHEDULE)
print("== the schedule (sched dialect) ==")
print(conv.schedule)

# 2. What TVM made of it: the scheduled TIR. The loops bound to blockIdx.x and threadIdx.x are
#    `T.thread_binding` loops; the shared copy is a block of its own inside the rc_0 loop.
print("== the scheduled kernel (TIR), first lines ==")
tir = conv.tir
print("\n".join(tir.splitlines()[:16]))
assert 'thread="blockIdx.x"' in tir and 'thread="threadIdx.x"' in tir and 'scope="shared"' in tir

# 3. The device code: OpenCL C, one work-group per thread block, `__local` for shared memory,
#    and barriers around the copy (TVM inserts them: every thread must finish copying before any
#    reads the shared tile, and finish reading before the next copy overwrites it).
print("== OpenCL C ==")
print(conv.source[:1500])
assert "__kernel" in conv.source and "__local float" in conv.source and "barrier(CLK_LOCAL_MEM_FENCE)" in conv.source
(launch,) = conv.launches
print(f"launch: {launch.function}, {launch.grid[0]} work-groups of {launch.block[0]} work-items")
assert launch.grid == (208, 1, 1) and launch.block == (208, 1, 1)

# 4. The same schedule for CUDA: only the target changes. CUDA C names the same things
#    differently: blockIdx.x, threadIdx.x, __shared__, __syncthreads().
cuda = lamina.kernel(CONV, target="cuda").with_schedule(SCHEDULE.replace('target = "opencl"', 'target = "cuda"'))
print("== CUDA C, the kernel's signature and first lines ==")
body = cuda.source[cuda.source.index('extern "C" __global__'):]
print(body[:900])
assert "__shared__" in body and "__syncthreads()" in body

# 5. Run it on the OpenCL device (PoCL on this CPU) and compare with numpy.
reason = missing_reason()
if reason is not None:
    print(f"not run: {reason}")
else:
    error = conv.check()
    print(f"on OpenCL: max |kernel - numpy| = {error:.2e}, {conv.time() * 1e3:.2f} ms per call")
    assert error < 1e-3

# 6. A schedule that breaks the device's limits is refused before TVM sees it: 416 threads in a
#    block, over OpenCL-Adreno's (and this target's) 256.
too_many = SCHEDULE.replace("sched.knob co 4", "sched.knob co 8")
try:
    lamina.kernel(CONV, target="opencl").with_schedule(too_many)
except LaminaError as e:
    print("refused:", str(e).splitlines()[0])
    assert "threads per block" in str(e)
else:
    raise AssertionError("a 416-thread block was accepted")
