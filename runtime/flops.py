"""Floating-point operations per call of an nn op or a kernel: what `lamina bench --per-kernel`
divides by a kernel's time to get GFLOP/s, and compares with the machine's FMA peak.

What counts (an estimate of the arithmetic the op asks for, not of the instructions a schedule
runs; a fused group, `nn.fused`, is the sum of the ops in its region):

- conv2d: 2 * N * O * (C / group) * KH * KW * OH * OW (a multiply and an add per weight tap and
  output element), read from the operand and result types in any layout (NCHW, NHWC, NCHW{c}c;
  the weight in its `weight_layout`); plus one per output element for its bias, when it has one;
- matmul: 2 * M * N * K per matrix, times the batch (2 * K per output element, broadcast batch
  dims and 1-D operands included); gemm: 2 * M * N * K, plus M * N when it adds c (alpha and
  beta are not counted);
- elementwise ops (add, mul, relu, exp, clip, where, batch_norm, resize, ...): one per output
  element (nn.sum of n operands: n - 1 per output element);
- reductions and normalisations (reduce_*, global pools, softmax, log_softmax, layer_norm,
  instance_norm, lrn): one per input element; max_pool2d / avg_pool2d: one per element each
  window reads (N * C * OH * OW * KH * KW);
- data movement (reshape, transpose, concat, slice, gather, pad, layout_transform, cast,
  identity, ...) and constants: 0.

An op this module does not know counts one per output element (its name is in `UNKNOWN` after).
An op with a dynamic dim counts None (unknown); so does a group holding one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

DATA_MOVEMENT = frozenset({
    "nn.reshape", "nn.flatten", "nn.transpose", "nn.squeeze", "nn.unsqueeze", "nn.channel_shuffle",
    "nn.concat", "nn.split", "nn.slice", "nn.gather", "nn.expand", "nn.pad", "nn.tile",
    "nn.constant_of_shape", "nn.shape", "nn.layout_transform", "nn.identity", "nn.dropout", "nn.cast",
    "nn.depth_to_space", "nn.space_to_depth", "nn.constant", "nn.yield",
})
PER_INPUT_ELEMENT = frozenset({
    "nn.reduce_sum", "nn.reduce_mean", "nn.reduce_max", "nn.reduce_min", "nn.reduce_prod",
    "nn.global_avg_pool", "nn.global_max_pool", "nn.softmax", "nn.log_softmax", "nn.layer_norm",
    "nn.instance_norm", "nn.lrn",
})
ELEMENTWISE = frozenset({
    "nn.abs", "nn.add", "nn.sub", "nn.mul", "nn.div", "nn.pow", "nn.max", "nn.min", "nn.neg", "nn.exp",
    "nn.log", "nn.sqrt", "nn.reciprocal", "nn.tanh", "nn.sigmoid", "nn.erf", "nn.relu", "nn.leaky_relu",
    "nn.hard_swish", "nn.hard_sigmoid", "nn.gelu", "nn.clip", "nn.prelu", "nn.where", "nn.equal",
    "nn.less", "nn.greater", "nn.batch_norm", "nn.resize",
})
UNKNOWN: set[str] = set()  # op names counted by the fallback (one per output element)


def numel(value) -> int | None:
    """Elements of a tensor value (1 for a scalar type), None when a dim is dynamic."""
    shape = getattr(value.type, "shape", ())
    if any(d is None for d in shape):
        return None
    return math.prod(int(d) for d in shape)


def op_flops(op) -> int | None:
    """Floating-point operations of one call of `op` (an nn op or an nn.fused group); None when
    a shape it needs is dynamic."""
    name = op.name
    if name == "nn.fused":
        total = 0
        for inner in op.inner_ops:
            n = op_flops(inner)
            if n is None:
                return None
            total += n
        return total
    if name in DATA_MOVEMENT:
        return 0
    if name == "nn.conv2d":
        return conv2d_flops(op)
    if name == "nn.matmul":
        return matmul_flops(op)
    if name == "nn.gemm":
        return gemm_flops(op)
    if name in ("nn.max_pool2d", "nn.avg_pool2d"):
        out = _out(op)
        kernel = _props(op).get("kernel_shape")
        return None if out is None else out * math.prod(kernel or (1,))
    if name in PER_INPUT_ELEMENT:
        return numel(op.operands[0])
    out = _out(op)
    if name == "nn.sum":
        return None if out is None else out * max(0, len(op.operands) - 1)
    if name not in ELEMENTWISE:
        UNKNOWN.add(name)
    return out


def conv2d_flops(op) -> int | None:
    """2 * N * O * (C / group) * KH * KW * OH * OW, plus N * O * OH * OW for a bias."""
    from lamina.dialects.nn.conv import Conv2DOp

    out = _out(op)
    w_shape = getattr(op.operands[1].type, "shape", ())
    if out is None or any(d is None for d in w_shape):
        return None
    _, c_per_group, kh, kw = Conv2DOp.weight_oihw(tuple(w_shape), op.properties)  # reads weight_layout
    return 2 * out * c_per_group * kh * kw + (out if len(op.operands) > 2 else 0)


def matmul_flops(op) -> int | None:
    """2 * K per output element (2 * M * N * K per matrix of the batch)."""
    out = _out(op)
    a = getattr(op.operands[0].type, "shape", ())
    if out is None or not a or a[-1] is None:
        return None
    return 2 * out * int(a[-1])


def gemm_flops(op) -> int | None:
    """2 * M * N * K, plus M * N when there is a c to add."""
    out = _out(op)
    a = getattr(op.operands[0].type, "shape", ())
    trans_a = _props(op).get("trans_a") or 0
    if out is None or len(a) != 2 or None in a:
        return None
    k = int(a[0] if trans_a else a[1])
    return 2 * out * k + (out if len(op.operands) > 2 else 0)


def _out(op) -> int | None:
    if not op.results:
        return 0
    sizes = [numel(r) for r in op.results]
    return None if None in sizes else sum(sizes)


def _props(op) -> dict:
    from lamina.dialects.nn.base import py

    return {k: py(v) for k, v in op.properties.items()}


# ---------------------------------------------------------------------------------------------
# The machine's peak: a microkernel of fused multiply-adds, built by TVM like every kernel


@dataclass
class Peak:
    """The measured fp32 FMA peak of this machine: `gflops` with `threads` threads (and
    `one_thread_gflops` with one), from a microkernel of `accumulators` independent vector
    chains per thread (`lanes` floats each) of `chain` fused multiply-adds (`seconds`: its best
    call of `calls`); `fma_instructions`: FMA instructions in its assembly, `register`: the
    vector register they use (zmm: 512 bits, ymm: 256), `mhz`: the clock /proc/cpuinfo reports
    (None if unknown; in a VM often the base clock, not the turbo one)."""

    gflops: float
    threads: int
    lanes: int
    accumulators: int
    chain: int
    seconds: float
    calls: int
    fma_instructions: int
    register: str
    mhz: float | None = None
    one_thread_gflops: float | None = None

    @property
    def implied_ghz(self) -> float:
        """The clock this peak means for cores with two FMA units of `lanes` lanes (2 flops per
        lane): the plausibility check. Near the CPU's clock: the FMA units were busy every
        cycle; half of it: one such unit per core, or cores shared with other work."""
        return self.gflops / (self.threads * 2 * self.lanes * 2)

    @property
    def busy(self) -> bool:
        """Whether the threads' number looks held down by other work: under 3/4 of `threads`
        times the one-thread number."""
        return bool(self.one_thread_gflops) and self.threads > 1 and \
            self.gflops < 0.75 * self.threads * self.one_thread_gflops

    @property
    def reference(self) -> float:
        """The GFLOP/s that "% of peak" divides by: `gflops`, unless other work held the cores
        down while it was measured (`busy`); then `threads` times the one-thread number."""
        return self.threads * self.one_thread_gflops if self.busy else self.gflops

    def describe(self) -> str:
        clock = f"; /proc/cpuinfo says {self.mhz / 1e3:.2f} GHz" if self.mhz else ""
        one = ""
        if self.one_thread_gflops and self.threads > 1:
            one = f"; 1 thread: {self.one_thread_gflops:.0f} GFLOP/s"
            if self.busy:
                one += (f"; the {self.threads}-thread number is low, other processes held the cores: % of peak "
                        f"uses {self.threads} x the 1-thread number, {self.reference:.0f} GFLOP/s")
        return (f"peak: {self.gflops:.0f} GFLOP/s fp32 FMA, {self.threads} threads (a TVM microkernel, best of "
                f"{self.calls} calls: {self.accumulators} {self.register} accumulators x {self.lanes} lanes per "
                f"thread, each a chain of {self.chain} FMAs on registers, {self.fma_instructions} vfmadd in its "
                f"assembly; = 2 FMA units x {self.lanes} lanes x 2 flops x {self.implied_ghz:.2f} GHz x "
                f"{self.threads} threads{clock}{one})")


def fma_peak(threads: int, seconds: float = 0.5, chain: int = 1 << 18, target=None) -> Peak:
    """Measure the fp32 FMA peak with `threads` threads (TVM_NUM_THREADS must already say
    `threads`: the bench sets it first), and with one thread (`one_thread_gflops`, a check:
    a `threads` number well under `threads` times it means the cores were busy).

    The microkernel, a TE compute built for lamina's llvm target like the model's kernels:
    y[t, a, v] takes `chain` steps y = y * alpha + x[t, a, v] from 0 (a custom reducer over a
    reduction axis of length `chain`), scheduled with the accumulators in a "local" buffer
    (cache_write), the chain loop outermost, parallel over the threads t, unrolled over the
    accumulators a and vectorized over the lanes v: each thread keeps `accumulators` vectors in
    registers (12 where there are 32 vector registers, AVX-512; 10 on AVX2, some addends then
    read from memory by the FMA itself), and every step is one FMA per accumulator, independent
    of the others, so the FMA units never wait on their latency. alpha and x come in at run
    time, so the compiler can neither fold a chain nor merge two; and the result checks that
    every FMA ran: with alpha = 1 and x = (1 + a) * 2^-24, y = chain * x exactly (every partial
    sum is representable). The time is the best of the calls made in `seconds` (at least 5): the
    peak is what the machine can do, so the least disturbed call is the measure; calls are short
    (about 0.6 ms at 2.8 GHz on AVX-512), so that on a busy machine some run undisturbed."""
    from lamina.lowering import targets

    target = target or targets.get("llvm", threads=threads)
    peak = _measure(threads, seconds, chain, target)
    if threads > 1:
        peak.one_thread_gflops = _measure(1, seconds / 2, chain, target).gflops
    return peak


def _measure(threads: int, seconds: float, chain: int, target) -> Peak:
    import time

    import numpy as np

    from lamina.lowering import tvm_adapter as tvm

    te = tvm.te
    lanes = target.vector_lanes
    acc = 12 if target.vector_bits >= 512 else 10
    if chain * acc >= 1 << 24:
        raise ValueError(f"a chain of {chain} is too long to check exactly; at most {(1 << 24) // acc - 1}")
    x = te.placeholder((threads, acc, lanes), "float32", "x")
    alpha = te.placeholder((1,), "float32", "alpha")
    k = te.reduce_axis((0, chain), "k")
    step = te.comm_reducer(lambda y, v: y * alpha[0] + v, lambda dtype: tvm.tir.const(0, dtype), name="fma")
    y = te.compute((threads, acc, lanes), lambda t, a, v: step(x[t, a, v], axis=k), name="y")
    sch = tvm.Schedule(tvm.prim_func([x, alpha], [y]))
    block = sch.get_sblock("y")
    write_back = sch.cache_write(block, 0, "local")
    t, a, v, kk = sch.get_loops(block)
    sch.reorder(t, kk, a, v)
    sch.parallel(t)
    sch.unroll(a)
    sch.vectorize(v)
    sch.reverse_compute_at(write_back, t)
    sch.decompose_reduction(block, kk)
    executable = tvm.compile_module(sch.mod, target.tvm_target())
    try:
        asm = executable.mod.inspect_source("asm")
    except Exception:  # noqa: BLE001  (a module that cannot show its assembly)
        asm = ""
    fmas = re.findall(r"\bv?fmadd\w*p[sd]\s+[^\n]*?%([xyz]mm)|\bfmla\b", asm)
    register = max(set(fmas), key=fmas.count) if fmas else "?"
    xs = np.broadcast_to(((1 + np.arange(acc)) * 2.0 ** -24).astype("float32")[None, :, None],
                         (threads, acc, lanes))
    args = [tvm.device_tensor(np.ascontiguousarray(xs)), tvm.device_tensor(np.ones(1, "float32")),
            tvm.empty_tensor((threads, acc, lanes), "float32")]
    function = executable.mod["main"]
    function(*args)  # warm: the thread pool starts, pages are touched
    if not np.array_equal(args[2].numpy(), xs * np.float32(chain)):
        raise RuntimeError("the FMA peak microkernel computed a wrong result: its FMAs did not all run")
    best, calls, until = float("inf"), 0, time.perf_counter() + seconds
    while calls < 5 or time.perf_counter() < until:
        start = time.perf_counter()
        function(*args)
        best = min(best, time.perf_counter() - start)
        calls += 1
    flops = 2.0 * threads * acc * lanes * chain
    return Peak(flops / best / 1e9, threads, lanes, acc, chain, best, calls, len(fmas), register, _cpu_mhz())


def _cpu_mhz() -> float | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next(float(line.split(":", 1)[1]) for line in f if line.startswith("cpu MHz"))
    except (OSError, StopIteration, ValueError):
        return None
