"""How fast lamina's own loops run once LLVM compiles them (the llvmlite backend, issue 14), each
figure beside a peer measured in the same run:

1. elementwise: an nn.relu and an nn.add over 4M floats, lowered to loops and JIT-compiled,
   against a numpy copy of the same bytes (the memory bandwidth this machine gives one thread);
2. matmul 512x512x512: lowered to loops (register tiles of vector ops, lowering/loops/microkernel.py),
   as they are and after `loop-tile`, on one thread against the one-thread FMA peak
   (runtime/flops.fma_peak), on all cores with scf.parallel, and TVM's kernel for the same matmul
   (lamina.kernel, lamina's CPU schedule);
3. ResNet-18: the JIT compile time through llvmlite and the end-to-end time, beside the TVM
   backend's.

    .venv/bin/python bench/loops_bench.py [--runs 20] [--skip-resnet]

Times are the best of 3 blocks' medians (a burst of machine noise does not decide a figure).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

import lamina
from lamina.compiler.passes import run_pipeline

def best_median(fn, runs: int, blocks: int = 3) -> float:
    """Seconds per call: the best of `blocks` medians of `runs` calls (after one warm-up call)."""
    fn()
    medians = []
    for _ in range(blocks):
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        medians.append(statistics.median(times))
    return min(medians)


def jit_of(text: str, pipeline: str, llvm_opt: int = 3, threads: int = 1):
    """nn text -> lower-nn-to-loops (its outer loops scf.parallel when `threads` > 1) ->
    `pipeline` -> LLVM at `llvm_opt`: (JitModule, input and output shapes)."""
    from lamina.lowering.llvm import jit

    module = lamina.parse(text)
    fn = module.block.first_op
    ins = [tuple(a.type.shape) for a in fn.entry.args]
    outs = [tuple(t.shape) for t in fn.type.results]
    lowering = "lower-nn-to-loops{parallel=true}" if threads > 1 else "lower-nn-to-loops"
    run_pipeline(module, lowering + ("," + pipeline if pipeline else ""))
    return jit(module, llvm_opt, num_threads=threads), ins, outs


def elementwise(runs: int) -> list[str]:
    n = 4 * 1024 * 1024
    t = f"tensor<{n}xf32>"
    rng = np.random.default_rng(0)
    x, y, out = (rng.standard_normal(n).astype(np.float32) for _ in range(3))
    copy = best_median(lambda: np.copyto(out, x), runs)
    copy_gbs = 2 * x.nbytes / copy / 1e9  # read + write
    rows = [f"numpy copy of {x.nbytes >> 20} MiB: {copy * 1e3:.2f} ms, {copy_gbs:.1f} GB/s (read + write)"]
    for name, text, arrays, traffic in [
            ("relu", f"func.func @main(%x: {t}) -> {t} {{\n  %y = nn.relu %x : ({t}) -> {t}\n  func.return %y : {t}\n}}",
             (x,), 2),
            ("add", f"func.func @main(%x: {t}, %y: {t}) -> {t} {{\n  %z = nn.add %x, %y : ({t}, {t}) -> {t}\n"
                    f"  func.return %z : {t}\n}}", (x, y), 3)]:
        module, _, _ = jit_of(text, "canonicalize,cse")
        seconds = best_median(lambda: module.call("main", *arrays, out), runs)
        gbs = traffic * x.nbytes / seconds / 1e9
        rows.append(f"{name}: {seconds * 1e3:.2f} ms, {gbs:.1f} GB/s = {gbs / copy_gbs:.0%} of the copy's bandwidth")
    return rows


MATMUL = """func.func @main(%a: tensor<512x512xf32>, %b: tensor<512x512xf32>) -> tensor<512x512xf32> {
  %c = nn.matmul %a, %b : (tensor<512x512xf32>, tensor<512x512xf32>) -> tensor<512x512xf32>
  func.return %c : tensor<512x512xf32>
}"""


def matmul(runs: int, tiles: str) -> list[str]:
    from lamina.runtime.flops import fma_peak

    flops = 2 * 512 ** 3
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((512, 512)).astype(np.float32) for _ in range(2))
    c = np.empty((512, 512), np.float32)
    peak1 = fma_peak(os.cpu_count()).one_thread_gflops * 1e9  # TVM_NUM_THREADS: set in main
    rows = [f"FMA peak, one thread: {peak1 / 1e9:.1f} GFLOP/s"]
    for label, pipeline, threads in [("plain loops", "canonicalize,cse", 1),
                                     (f"loop-tile{{sizes={tiles}}}", f"loop-tile{{sizes={tiles}}},canonicalize,cse", 1),
                                     (f"loop-tile{{sizes={tiles}}}, {os.cpu_count()} threads",
                                      f"loop-tile{{sizes={tiles}}},canonicalize,cse", os.cpu_count())]:
        start = time.perf_counter()
        module, _, _ = jit_of(MATMUL, pipeline, threads=threads)
        compile_s = time.perf_counter() - start
        seconds = best_median(lambda: module.call("main", a, b, c), max(3, runs // 4))
        np.testing.assert_allclose(c, a @ b, rtol=1e-3, atol=1e-3)
        rate = flops / seconds
        rows.append(f"llvmlite, {label}: {seconds * 1e3:.1f} ms, {rate / 1e9:.1f} GFLOP/s = {rate / peak1:.0%} of "
                    f"the one-thread peak (JIT {compile_s:.2f} s)")
    tvm = lamina.kernel(MATMUL)
    seconds = tvm.time()
    rows.append(f"TVM (lamina's CPU schedule, all cores): {seconds * 1e3:.1f} ms, {flops / seconds / 1e9:.1f} GFLOP/s")
    return rows


def resnet(runs: int) -> list[str]:
    from lamina.runtime.benchmark import resolve_model

    path = resolve_model("resnet18")  # written by examples/models/zoo.py when missing
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    ours = lamina.compile(str(path), backend="llvmlite", llvm_opt=2)
    theirs = lamina.compile(str(path))
    np.testing.assert_allclose(ours(x)[0], theirs(x)[0], rtol=1e-3, atol=1e-3)
    t_ours = best_median(lambda: ours(x), max(3, runs // 4))
    t_theirs = best_median(lambda: theirs(x), runs)
    return [f"ResNet-18 through llvmlite: compile {ours.compile_seconds:.2f} s "
            f"({ours.lower_seconds:.2f} s to loops, the rest LLVM), run {t_ours * 1e3:.1f} ms",
            f"ResNet-18 through TVM: compile {theirs.compile_seconds:.2f} s (kernel cache), "
            f"run {t_theirs * 1e3:.1f} ms; llvmlite / TVM = {t_ours / t_theirs:.1f}x"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--tiles", default="32,64", help="loop-tile sizes for the matmul's loops (the outermost two of each nest)")
    ap.add_argument("--skip-resnet", action="store_true")
    args = ap.parse_args(argv)
    os.environ["TVM_NUM_THREADS"] = str(os.cpu_count())  # before TVM's thread pool starts
    for title, rows in [("elementwise", lambda: elementwise(args.runs)),
                        ("matmul 512x512x512", lambda: matmul(args.runs, args.tiles)),
                        *([] if args.skip_resnet else [("ResNet-18", lambda: resnet(args.runs))])]:
        print(f"== {title}")
        for row in rows():
            print("  " + row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
