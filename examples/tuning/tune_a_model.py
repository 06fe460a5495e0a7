"""Tune a small model's kernels, read the records, compile with them, and compare the tuner's
estimate with the model's measured time.

    python examples/tuning/tune_a_model.py

A schedule generator's default is a good guess, not the best schedule: the right tile sizes
depend on the shapes, the cache sizes and the core count. `lamina tune` measures instead of
guessing. It splits the optimized model into tasks (its distinct kernels: two kernels with the
same compute are one task, weighted 2), searches each task's schedule knobs, times every
candidate in a separate process, and appends every measurement to a records file; a compile
with `records=` then builds each kernel with its task's fastest record. The same from the
command line:

    lamina tune model.onnx --list-tasks
    lamina tune model.onnx --trials 200 --time-budget 600 --records model.jsonl
    lamina run model.onnx --records model.jsonl --fill random --check onnxruntime
    lamina tune model.onnx --tuner meta-schedule --time-budget 600 --records model-ms.jsonl  # TVM's, a peer

This script runs in CI with a budget of a few trials, so the speed-ups it prints are small and
noisy; the point is the workflow, and what each step leaves behind.
"""

import json
import tempfile
from pathlib import Path

import numpy as np

import lamina
from lamina.lowering.tuning.tasks import extract_tasks, load_optimized
from lamina.lowering.tuning.tuner import list_tasks
from lamina.runtime.benchmark import best_block, time_in_blocks

# A model with a repeated layer: its two 64 -> 64 layers have the same compute (only their weights
# differ), so they are ONE task of weight 2: tuning it once pays twice.
MODEL = """
model tower(x: f32[16, 64]) {
  w1 = param f32[64, 64] init=normal(seed=0, std=0.1)
  w2 = param f32[64, 64] init=normal(seed=1, std=0.1)
  w3 = param f32[64, 32] init=normal(seed=2, std=0.1)
  h1 = relu(x @ w1)
  h2 = relu(h1 @ w2)
  return softmax(h2 @ w3, axis=-1)
}
"""

work = Path(tempfile.mkdtemp(prefix="lamina-tuning-"))
model_path = work / "tower.lam"
model_path.write_text(MODEL)
records = work / "tower.jsonl"

# 1. The tasks. `lamina tune --list-tasks` prints this table: each task's weight, FLOPs, the
#    default schedule's time (measured in the worker process, as tuning measures) and its share.

module = load_optimized(str(model_path))
print("== tasks ==")
print(list_tasks(module))
tasks, compiled = extract_tasks(module)
weights = sorted(task.weight for task in tasks)
assert compiled.num_kernels == sum(weights), (compiled.num_kernels, weights)
assert max(weights) == 2, weights  # the two identical 64 -> 64 layers

# 2. Tune: a handful of trials (a real run gives hundreds). Every measurement, the defaults first,
#    is appended to the records file as one JSON line the moment it is made. At the end each
#    searched task's fastest candidates and its default are measured again, twice in turn
#    ("confirm": true): the one with the lowest median of those is the task's best, not the one
#    luckiest once.

result = lamina.tune(str(model_path), trials=6, records=str(records))
print("\n== tuning ==")
print(result.table())
lines = records.read_text().splitlines()
measured_defaults = len(tasks)
again = sum(json.loads(line)["confirm"] for line in lines)
assert again and len(lines) == measured_defaults + result.trials + again, (len(lines), result.trials, again)

# 3. Read a record: which task, which knob values, the time, and the schedule program itself
#    (a candidate is the default program with other knob decisions: see examples/schedules/).

first = json.loads(lines[-1])
print("\n== the last record ==")
print({k: first[k] for k in ("task", "knobs", "median_s", "spread_s", "failed", "error")})
print(first["schedule"].splitlines()[0], "...")
assert first["schedule"].lstrip().startswith("sched.schedule")

# 4. Resume: a second `lamina.tune` with the same file measures no default again and no
#    candidate twice (tests/test_tuning.py checks it); a run stopped by Ctrl-C loses nothing.

# 5. Compile with the records: each kernel takes its task's best record. A schedule changes
#    how a kernel runs, never what it computes: the outputs are the defaults' outputs.

x = np.random.default_rng(0).standard_normal((16, 64)).astype(np.float32)
default = lamina.compile(str(model_path))
tuned = lamina.compile(str(model_path), records=str(records))
print(f"\n{tuned.records_applied} of {tuned.num_kernels} kernels built from the records")
assert tuned.records_applied == tuned.num_kernels
np.testing.assert_allclose(tuned(x)[0], default(x)[0], rtol=1e-5, atol=1e-6)

# 6. The tuner's estimate of the model's time is the sum over tasks of weight x best kernel time,
#    each kernel timed cold (after a flush of the caches, as a big model leaves them). The model's
#    measured time adds what runs between kernels (the executor, copies in and out), but an MLP
#    this small keeps its weights in cache from call to call, so it can run below the estimate.


# The two models take turns, a block of 100 calls each, three times; each side's time is its
# best block's median (lamina bench times models the same way).
blocks = time_in_blocks({"default": lambda: default(x), "tuned": lambda: tuned(x)}, runs=100, warmup=2)
measured_default, measured = best_block(blocks["default"]), best_block(blocks["tuned"])
print(f"estimated (sum of weight x best kernel time): {result.estimated_s * 1e6:.1f} us "
      f"(defaults: {result.default_s * 1e6:.1f} us)")
print(f"measured end to end: {measured * 1e6:.1f} us (defaults: {measured_default * 1e6:.1f} us): the kernels "
      f"warm, plus what runs between them (the executor's calls, the copies in and out)")
assert result.estimated_s > 0 and measured > 0
