"""One model at each optimization level: what the passes make of it, how many kernels it
becomes, how fast it runs, and that every level computes the same thing.

    python examples/passes/optimization_levels.py [MODEL]     # a zoo model, tiny_yolo by default
"""

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import lamina
from lamina.compiler.passes.presets import LEVELS, pipeline_for
from lamina.runtime.benchmark import kernel_label
from lamina.runtime.executor import count_kernels

name = sys.argv[1] if len(sys.argv) > 1 else "tiny_yolo"
folder = Path(tempfile.mkdtemp())
subprocess.run([sys.executable, str(Path(__file__).parents[1] / "models" / "zoo.py"), "--out", str(folder), name],
               check=True, capture_output=True)
path = folder / f"{name}.onnx"
imported = lamina.load_onnx(str(path))
reference = None  # the -O0 outputs
print(f"{name}: {count_kernels(imported)} ops as imported")
for level in LEVELS:
    model = lamina.compile(str(path), opt_level=level)
    inputs = [np.random.default_rng(0).standard_normal(p.type.shape).astype(np.float32) for p in model.params]
    outputs = model(*inputs)
    reference = outputs if reference is None else reference
    for ours, ref in zip(outputs, reference):
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)  # every level: the same results
    for _ in range(3):
        model(*inputs)
    times = []
    for _ in range(50):
        start = time.perf_counter()
        model(*inputs)
        times.append(time.perf_counter() - start)
    ms = statistics.median(times) * 1e3  # (a median: a busy machine makes single calls slow)
    print(f"-O{level}: {model.num_kernels:3d} kernels, {ms:7.3f} ms per call   ({pipeline_for(level) or 'no passes'})")

# where the time goes at -O3: each kernel (a fused group shows its ops joined by +)
model = lamina.compile(str(path), opt_level=3)
inputs = [np.random.default_rng(0).standard_normal(p.type.shape).astype(np.float32) for p in model.params]
print("\n-O3, per kernel:")
for op, seconds in model.profile(*inputs):
    print(f"  {seconds * 1e3:7.3f} ms  {kernel_label(op)}")
print("\n" + model.memory_report(buffers=False))
