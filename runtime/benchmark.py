"""The model benchmark (issue 4): the zoo or any .onnx file through lamina, onnxruntime, Relax.

    python bench/models.py                               # every model of the zoo, a plain-text table
    python bench/models.py --models mlp,glue --runs 5 --markdown
    python bench/models.py --models path/to/model.onnx,resnet18 --skip-relax --per-kernel

`--models` takes the zoo's names (examples/models/zoo.py's MODELS, read from that file, so a model
added there is benchmarked without an edit here), the names of its opt-in classic nets
(CLASSIC_MODELS: vgg19, resnet50, inception_v1, densenet121; hundreds of MiB, so never in the
default; written on first use like the others), `classic` for the seven classic ImageNet
architectures (CLASSIC_SET: alexnet, vgg19, resnet50, inception_v1, densenet121, squeezenet,
shufflenet; when all seven ran, a line after the table gives the geometric mean of their lamina/ort
ratios), and paths of .onnx files (anything that ends in .onnx or is a file). Inputs are random
(seed 0): standard-normal floats, integers 0 or 1 (valid as a mask, a token type, or an index into
any axis of 2 or more), and symbolic dims set to 1.

For each model, in one process (Relax in a child process, so a slow build can be stopped):
  1. The FMA peak (once, at the start): a TVM microkernel of independent fused multiply-add
     chains on registers, with --threads threads (runtime/flops.py `fma_peak`); the header says
     what it measured.
  2. onnxruntime (CPUExecutionProvider, `intra_op_num_threads` = --threads) loads the model and
     runs it on the inputs once; its outputs are the reference for the correctness columns.
  3. lamina imports the model (`load_onnx`), optimizes it at -O3 (or -O), and compiles it twice
     with `lamina.runtime.executor.compile` (default schedules): cold, into an empty kernel cache
     folder, then warm, from that folder's files. The table shows the kernels before fusion (one
     per op) and after.
  4. Latency, with both sides built: lamina and onnxruntime are timed in blocks, A B A B A B
     (--blocks each, 3 by default): a block is --warmup untimed calls then --runs timed calls of
     one side; each side's latency is its best block's median. Single calls are never
     alternated: on 2 cores one runtime's spinning worker threads slowed the other 2-4x when
     single runs alternated. During lamina's blocks the calling thread is bound to the cores that
     TVM's pool leaves free (`caller_beside_tvm_workers`: otherwise onnxruntime's spinning threads
     pushed it onto a TVM worker's core); onnxruntime's blocks run unbound. numpy in and numpy out
     for every backend (lamina's executor copies each kernel's operands; that copying is part of its
     time).
  5. Relax imports it with `from_onnx` and builds it with `tvm.compile(mod, llvm)`, whose default
     Relax pipeline legalizes every op to TIR without fusion or schedules; the relax VM runs it,
     the median of --runs calls after --warmup calls. A build that takes longer than
     --relax-timeout seconds is stopped and shown as "timeout".
  6. With --per-kernel: each kernel of lamina's model timed alone (`CompiledModel.profile`), one
     row per kernel with its FLOPs (runtime/flops.py), GFLOP/s and share of the FMA peak, the
     ONNX nodes it computes and the schedule generator that wrote its schedule; and per model the
     sum of the kernel times against the end-to-end latency (the rest is the executor's own time).
  7. With --records FILE (repeatable; `lamina tune` writes them, with lamina's tuner or
     `--tuner meta-schedule`): lamina's optimized model compiled again with each file's best
     schedules (apply-history-best), timed in the same blocks beside the defaults and
     onnxruntime: a column pair per file (named by its stem), so two tuners' records of one model
     compare end to end.
  8. With --package: lamina writes the compiled model as a package (runtime/package.py) and runs
     it in fresh processes with the lean runner (runtime/package_runner.py, loaded as a file: no
     tvm, onnx or lark); each process loads the package, runs it once and exits. "pkg s" is the
     median wall time from starting the process to its exit (an upper bound on the time to the
     first output), "pkg MiB" the process's peak RSS; "ort MiB" the peak RSS of a fresh process
     that imports onnxruntime, loads the model and runs it once (the peer: the smallest way to
     run the model with onnxruntime from Python).

TVM_NUM_THREADS is set to --threads before TVM starts its thread pool, for lamina and Relax alike.
The zoo's models come from examples/models/ (written there by examples/models/zoo.py when
missing) or from --zoo DIR.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lamina.compiler.errors import LaminaError

REPO_ROOT = Path(__file__).resolve().parents[1]  # the checkout, for an editable install
DEFAULT_ZOO = REPO_ROOT / "examples" / "models"
ZOO_SCRIPT = DEFAULT_ZOO / "zoo.py"


@dataclass
class Row:
    """One model's numbers. Seconds throughout; None where a backend did not run. `*_status`
    is "ok", "skipped", "timeout" or "error" (the message in `notes`)."""

    model: str
    unfused_kernels: int | None = None
    kernels: int | None = None
    kernels_built: int | None = None
    import_s: float | None = None
    passes_s: float | None = None
    cold_compile_s: float | None = None
    warm_compile_s: float | None = None
    relax_compile_s: float | None = None
    lamina_s: float | None = None       # the best block's median (see `time_in_blocks`)
    ort_s: float | None = None
    lamina_blocks: list = field(default_factory=list)  # each block's median, in the order they ran
    ort_blocks: list = field(default_factory=list)
    relax_s: float | None = None
    records_s: dict = field(default_factory=dict)       # --records label -> the best block's median
    records_blocks: dict = field(default_factory=dict)  # --records label -> each block's median
    lamina_diff: float | None = None
    relax_diff: float | None = None
    kernel_times: list = field(default_factory=list)  # a KernelTime per kernel call, with --per-kernel
    package_s: float | None = None      # with --package: process start to exit, load + one run
    package_mib: float | None = None    # its peak RSS
    ort_process_mib: float | None = None  # the peak RSS of onnxruntime doing the same
    lamina_status: str = "ok"
    relax_status: str = "ok"
    notes: list[str] = field(default_factory=list)

    @property
    def lamina_ratio(self) -> float | None:
        return _ratio(self.lamina_s, self.ort_s)

    @property
    def relax_ratio(self) -> float | None:
        return _ratio(self.relax_s, self.ort_s)

    @property
    def kernel_sum_s(self) -> float | None:
        """The sum of the kernels' times (each timed alone), with --per-kernel."""
        return sum(k.seconds for k in self.kernel_times) if self.kernel_times else None

    @property
    def in_model_sum_s(self) -> float | None:
        """The sum of the kernels' times as the model runs them, with --per-kernel."""
        return sum(k.in_model_seconds for k in self.kernel_times) if self.kernel_times else None

    @property
    def outside_s(self) -> float | None:
        """End-to-end latency minus the kernels' times in the model: what a call spends outside
        its kernels (the executor, argument passing)."""
        total = self.in_model_sum_s
        return None if total is None or self.lamina_s is None else self.lamina_s - total


@dataclass
class KernelTime:
    """One kernel call of lamina's model, with --per-kernel: `index` in run order, `label` (its
    ops and output shape), median `seconds` alone, `flops` per call (None if unknown), the ONNX
    `nodes` it computes, the schedule `generator` that wrote its schedule ("file": a user's),
    and median `in_model_seconds` as the model runs it (`CompiledModel.profile(in_model=True)`)."""

    index: int
    label: str
    seconds: float
    flops: int | None
    nodes: list
    generator: str
    in_model_seconds: float = 0.0

    def gflops(self) -> float | None:
        return self.flops / self.seconds / 1e9 if self.flops and self.seconds > 0 else None


def _ratio(a, b):
    return a / b if a is not None and b else None


# ---------------------------------------------------------------------------------------------
# inputs and the models


CLASSIC = "classic"  # the --models shorthand for the zoo's CLASSIC_SET


@functools.lru_cache(maxsize=None)
def zoo_module():
    """examples/models/zoo.py as a module (its builders, MODELS, CLASSIC_MODELS, main), loaded
    once: the bench reads its names often, and the tests build models with it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("lamina_model_zoo", ZOO_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _zoo_names(attribute: str) -> list[str]:
    """A list of model names from examples/models/zoo.py (`MODELS`, `CLASSIC_MODELS`,
    `CLASSIC_SET`), read from that file; [] when the file or the name is not there."""
    if not ZOO_SCRIPT.exists():
        return []
    return list(getattr(zoo_module(), attribute, ()))


def zoo_models() -> list[str]:
    """The zoo's model names: examples/models/zoo.py's `MODELS`, read from that file (so a model
    added to the zoo is benchmarked without an edit here); [] when the file is not there. The
    default of --models."""
    return _zoo_names("MODELS")


def classic_models() -> list[str]:
    """The zoo's opt-in models (`CLASSIC_MODELS`: vgg19, resnet50, ...): --models names, written
    on first use like the others, but never in the default (hundreds of MiB)."""
    return _zoo_names("CLASSIC_MODELS")


def classic_set() -> list[str]:
    """The seven classic ImageNet architectures (`CLASSIC_SET`), what `--models classic` runs."""
    return _zoo_names("CLASSIC_SET")


def expand_models(text: str) -> list[str]:
    """The --models entries of a comma-separated list: `classic` becomes the classic set, and a
    model named twice runs once (in the place it was first named)."""
    models = []
    for spec in (m.strip() for m in text.split(",")):
        models += classic_set() if spec == CLASSIC else [spec] if spec else []
    return list(dict.fromkeys(models))


def is_model_file(spec: str) -> bool:
    """Whether a --models entry is a path: it ends in .onnx, or it is a file."""
    return spec.endswith(".onnx") or Path(spec).is_file()


def model_name(spec: str) -> str:
    """A model's name in the table: a zoo name as it is, a path by its file's stem."""
    return Path(spec).stem if is_model_file(spec) else spec


def resolve_model(spec: str, zoo: Path | None = None) -> Path:
    """The .onnx file of a --models entry: a path as given, else the zoo model `spec` (written
    when missing, unless `zoo` is given)."""
    if is_model_file(spec):
        path = Path(spec)
        if not path.is_file():
            raise LaminaError(f"no model file {path}",
                              hint="give the path of an .onnx file, or a zoo model: "
                                   + ", ".join(zoo_models() + classic_models()))
        return path
    return model_path(zoo or DEFAULT_ZOO, spec, generate=zoo is None)


def model_path(zoo: Path, name: str, generate: bool) -> Path:
    """`zoo/name.onnx`; written by examples/models/zoo.py when missing and `generate` is set."""
    path = zoo / f"{name}.onnx"
    hint = f"write it with: python examples/models/zoo.py --out {zoo} {name}"
    if path.exists():
        return path
    if not generate or not ZOO_SCRIPT.exists():
        raise LaminaError(f"no model file {path}", hint=hint)
    subprocess.run([sys.executable, str(ZOO_SCRIPT), "--out", str(zoo), name], check=True,
                   stdout=subprocess.DEVNULL)
    return path


def random_inputs(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """An array for every graph input that is not an initializer, in the graph's order: floats
    standard-normal, integers 0 or 1 (a valid mask, token type, or index into any axis of 2 or
    more), booleans half true; a symbolic (or unknown) dim is 1."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    initializers = {t.name for t in graph.initializer}
    rng = np.random.default_rng(seed)
    feed = {}
    for value in graph.input:
        if value.name in initializers:
            continue
        tensor = value.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else 1 for d in tensor.shape.dim]
        dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type))
        if dtype == np.bool_:
            feed[value.name] = rng.random(shape) < 0.5
        elif np.issubdtype(dtype, np.integer):
            feed[value.name] = rng.integers(0, 2, shape).astype(dtype)
        else:
            feed[value.name] = rng.standard_normal(shape).astype(dtype)
    return feed


def median_seconds(fn, runs: int, warmup: int, clock=time.perf_counter) -> float:
    """The median of `runs` timed calls of `fn` after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


def time_in_blocks(sides: dict, runs: int, warmup: int, blocks: int = 3, clock=time.perf_counter,
                   placements: dict | None = None) -> dict:
    """Time each side (name -> a function that runs it once) in blocks: for each of `blocks`
    rounds, each side in turn gets a block of `warmup` untimed calls and `runs` timed ones (A B
    A B A B for two sides). Returns name -> the median of each of its blocks, in order; a side's
    latency is the best of them (`best_block`). Blocks, and never single calls in turn: with
    both runtimes' worker threads on 2 cores, alternating single calls slowed each 2-4x.
    `placements` (name -> a context manager factory) wraps each block of that side, as
    `caller_beside_tvm_workers` does lamina's."""
    medians = {name: [] for name in sides}
    placements = placements or {}
    for _ in range(blocks):
        for name, fn in sides.items():
            with placements.get(name, nullcontext)():
                medians[name].append(median_seconds(fn, runs, warmup, clock))
    return medians


def _pinned_cores() -> set[int]:
    """The cores to which some thread of this process is bound alone (Linux: each thread's
    Cpus_allowed_list in /proc/self/task): TVM's pool binds each worker to one core."""
    pinned = set()
    for status in Path("/proc/self/task").glob("*/status"):
        try:
            text = status.read_text()
        except OSError:  # the thread ended meanwhile
            continue
        for line in text.splitlines():
            if line.startswith("Cpus_allowed_list:"):
                cores = line.split(":", 1)[1].strip()
                if cores.isdigit():
                    pinned.add(int(cores))
    return pinned


@contextmanager
def caller_beside_tvm_workers():
    """Bind the calling thread, for the block, to the cores that TVM's workers leave free.

    TVM binds its workers to cores 1..n-1 and leaves the calling thread, which runs the first
    task, free to move, trusting the OS to keep it on the idle core 0. With onnxruntime in the
    same process that fails: its worker threads spin after its runs, the OS moves lamina's
    calling thread onto a worker's core, and the two share it. Measured, tiny_yolo, 2 threads,
    4 processes each, best block (machine noise included): lamina 0.99 / 1.13 / 0.67 / 1.29 ms
    beside onnxruntime, 0.48 / 0.62 / 0.50 / 0.60 ms bound, 0.50 / 0.55 / 0.80 / 0.63 ms with no
    onnxruntime in the process; onnxruntime's own blocks, which run unbound, unchanged within
    the noise. A no-op where this cannot be known (not Linux, TVM_BIND_THREADS=0, no free core).
    """
    if not hasattr(os, "sched_setaffinity") or os.environ.get("TVM_BIND_THREADS") == "0":
        yield
        return
    allowed = os.sched_getaffinity(0)
    free = allowed - _pinned_cores()
    if not free or free == allowed:
        yield
        return
    os.sched_setaffinity(0, free)
    try:
        yield
    finally:
        os.sched_setaffinity(0, allowed)


def best_block(medians: list[float]) -> float:
    """A side's latency: its fastest block's median (the block least disturbed by the rest of
    the machine)."""
    return min(medians)


def max_abs_diff(outputs, reference) -> float:
    """The largest |ours - reference| over all outputs; inf when a shape differs."""
    worst = 0.0
    for ours, ref in zip(outputs, reference, strict=True):
        ours, ref = np.asarray(ours), np.asarray(ref)
        if ours.shape != ref.shape:
            return float("inf")
        worst = max(worst, float(np.abs(ours.astype(np.float64) - ref.astype(np.float64)).max(initial=0)))
    return worst


# ---------------------------------------------------------------------------------------------
# the three backends


def onnxruntime_session(path: Path, threads: int):
    """An onnxruntime session on the CPU with `threads` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def kernel_label(op) -> str:
    """A kernel's name for the per-kernel table: the op (a fused group as its ops joined by +)
    and its first result's shape."""
    if op.regions:
        inner = [o.name.split(".")[-1] for o in op.walk() if o is not op and o.name not in ("nn.yield",)]
        name = "+".join(inner) or op.name
    else:
        name = op.name.split(".")[-1]
    shape = "x".join(str(d) for d in getattr(op.results[0].type, "shape", ())) if op.results else ""
    return f"{name} {shape}".strip()


def kernel_nodes(op) -> list[str]:
    """The ONNX nodes a kernel computes: a fused group's `sources` attribute, else the names in
    its ops' locations (compiler/location.py: a NameLoc, or the parts of a FusedLoc)."""
    from lamina.compiler.location import node_names

    if op.name == "nn.fused" and getattr(op, "source_names", None):
        return list(op.source_names)
    return node_names(op)


@contextmanager
def kernel_cache():
    """A fresh, empty kernel cache folder as $LAMINA_CACHE_DIR while the block runs (so the
    cold compile builds every kernel), removed after."""
    cache = tempfile.mkdtemp(prefix="lamina-bench-cache-")
    previous = os.environ.get("LAMINA_CACHE_DIR")
    os.environ["LAMINA_CACHE_DIR"] = cache
    try:
        yield Path(cache)
    finally:
        if previous is None:
            os.environ.pop("LAMINA_CACHE_DIR", None)
        else:
            os.environ["LAMINA_CACHE_DIR"] = previous
        shutil.rmtree(cache, ignore_errors=True)


def build_lamina(row: Row, path: Path, feed: dict, reference, opt_level: int = 3, layout: str = "",
                 target: str = "llvm", peer_schedules: str | None = None):
    """Import (input dims pinned to the feed's), optimize at `opt_level`, compile cold and warm
    (into the current kernel cache folder: run it inside `kernel_cache()`), and compare with
    `reference`. Returns the warm CompiledModel."""
    from lamina.compiler.frontends.onnx import load_onnx
    from lamina.compiler.passes import run_pipeline
    from lamina.compiler.passes.presets import pipeline_for
    from lamina.runtime.executor import compile as compile_model
    from lamina.runtime.executor import count_kernels

    start = time.perf_counter()
    module = load_onnx(str(path), input_shapes={name: a.shape for name, a in feed.items()})
    row.import_s = time.perf_counter() - start
    row.unfused_kernels = count_kernels(module)
    start = time.perf_counter()
    run_pipeline(module, pipeline_for(opt_level, layout, target))
    row.passes_s = time.perf_counter() - start
    cold = compile_model(module, target=target, peer_schedules=peer_schedules)
    warm = compile_model(module, target=target, peer_schedules=peer_schedules)
    row.kernels, row.kernels_built = cold.num_kernels, cold.stats.built
    row.cold_compile_s, row.warm_compile_s = cold.compile_seconds, warm.compile_seconds
    if warm.stats.built:
        row.notes.append(f"lamina: the warm compile built {warm.stats.built} kernels again")
    row.lamina_diff = max_abs_diff(warm(*feed.values()), reference)
    return warm


def records_labels(records: list) -> dict:
    """A table name for each --records file: its stem, or its path where two stems are alike."""
    stems = [Path(r).stem for r in records]
    return {(stem if stems.count(stem) == 1 else str(r)): Path(r) for stem, r in zip(stems, records)}


def build_with_records(row: Row, compiled, records: list, feed: dict, reference) -> dict:
    """lamina's optimized model (`compiled`'s module) compiled with each tuning records file,
    compared with `reference` (a note per file: kernels from it, largest difference). Returns
    label -> the CompiledModel."""
    from lamina.runtime.executor import compile as compile_model

    out = {}
    for label, path in records_labels(records).items():
        tuned = compile_model(compiled.module, target=compiled.target, records=str(path))
        diff = max_abs_diff(tuned(*feed.values()), reference)
        row.notes.append(f"records {label}: {tuned.records_applied} of {tuned.num_kernels} kernels from {path}; "
                         f"diff {diff:.1e}")
        out[label] = tuned
    return out


def profile_kernels(compiled, inputs: list, runs: int, blocks: int = 3) -> list[KernelTime]:
    """Each kernel call of `compiled` timed alone, with its FLOPs, ONNX nodes and schedule
    generator: `CompiledModel.profile` (the median of `runs` calls in a row of each kernel)
    `blocks` times, a kernel's time the best of its medians, as for the model's latency."""
    from lamina.runtime.flops import op_flops

    built = {id(step[0]): kernel for step, kernel in zip(compiled.steps, compiled.kernels)}
    profiles = [compiled.profile(*inputs, runs=runs) for _ in range(blocks)]
    in_model = [compiled.profile(*inputs, runs=runs, in_model=True) for _ in range(blocks)]
    out = []
    for index, (timings, model_timings) in enumerate(zip(zip(*profiles), zip(*in_model))):
        op = timings[0][0]
        generator = getattr(built.get(id(op)), "generator", None) or "-"
        out.append(KernelTime(index, kernel_label(op), min(t for _, t in timings), op_flops(op),
                              kernel_nodes(op), generator, min(t for _, t in model_timings)))
    return out


# ---------------------------------------------------------------------------------------------
# packages: load time and memory in a fresh process


# Each child prints its own peak RSS (VmHWM) last: the parent's rusage of a child counts the
# parent's RSS at fork time too (Linux keeps the larger of the pre-exec and post-exec high-water
# marks), and this parent holds TVM.
PEAK_RSS = """
def _peak_mib():
    try:
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return -1
"""

PACKAGE_ONCE = PEAK_RSS + """
import runpy, sys
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as e:
    if e.code:
        raise
print(_peak_mib())
"""

# onnxruntime's side: the session as `onnxruntime_session` makes it (written out, so the child
# imports nothing of lamina's), run once on the bench's own inputs (`random_inputs`, saved as .npz)
ORT_ONCE = PEAK_RSS + """
import sys
import numpy as np
import onnxruntime as ort
options = ort.SessionOptions()
options.intra_op_num_threads = int(sys.argv[2])
options.inter_op_num_threads = 1
session = ort.InferenceSession(sys.argv[1], options, providers=["CPUExecutionProvider"])
session.run(None, dict(np.load(sys.argv[3])))
print(_peak_mib())
"""


def _child(argv: list[str], env: dict) -> tuple[float, float | None]:
    """(wall seconds from start to exit, peak RSS in MiB or None) of one child process, which
    prints its peak RSS as its last line."""
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        err = proc.stderr.strip().splitlines()
        raise RuntimeError(f"exited with {proc.returncode}: {err[-1] if err else ''}")
    peak = float(proc.stdout.strip().splitlines()[-1])
    return wall, (peak if peak >= 0 else None)


def run_package(row: Row, compiled, path: Path, feed: dict, threads: int, runs: int) -> None:
    """Write `compiled` as a package and run it `runs` times, each in a fresh process with the
    lean runner; the same for onnxruntime's peak memory."""
    from lamina.compiler.printer import print_ir
    from lamina.runtime.package import runner_path, schedule_texts, write_package

    env = dict(os.environ, TVM_NUM_THREADS=str(threads))
    with tempfile.TemporaryDirectory(prefix="lamina-bench-package-") as work:
        # the package `lamina compile -o model.tar` writes: the IR and the schedules too
        tar = write_package(compiled, Path(work) / f"{row.model}.tar", ir_text=print_ir(compiled.module),
                            schedules=schedule_texts(compiled))
        package = [_child([sys.executable, "-c", PACKAGE_ONCE, str(runner_path()), str(tar), "--fill", "random"], env)
                   for _ in range(runs)]
        np.savez(Path(work) / "feed.npz", **feed)
        ort = [_child([sys.executable, "-c", ORT_ONCE, str(path), str(threads), str(Path(work) / "feed.npz")], env)
               for _ in range(max(1, runs // 2))]
    row.package_s = statistics.median(wall for wall, _ in package)
    row.package_mib = max((mib for _, mib in package if mib is not None), default=None)
    row.ort_process_mib = max((mib for _, mib in ort if mib is not None), default=None)


def run_relax(row: Row, path: Path, feed: dict, reference, runs: int, warmup: int,
              threads: int, timeout: float) -> None:
    """Build and time the model in a child process (`_relax_worker`): a build cannot be
    interrupted from Python, but a process can. `timeout` bounds the build (counted from the
    child's start, so it includes importing TVM); the runs after it get max(timeout, 60 s)."""
    work = Path(tempfile.mkdtemp(prefix="lamina-bench-relax-"))
    proc = None
    try:
        np.savez(work / "inputs.npz", *feed.values())
        job = {"model": str(path), "inputs": str(work / "inputs.npz"), "out": str(work),
               "runs": runs, "warmup": warmup}
        env = dict(os.environ, TVM_NUM_THREADS=str(threads))
        code = f"from lamina.runtime.benchmark import _relax_worker; _relax_worker({json.dumps(job)!r})"
        with open(work / "log.txt", "w+") as log:
            proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=log, stderr=subprocess.STDOUT)
            start = time.perf_counter()
            compiled_at = None
            while proc.poll() is None:
                now = time.perf_counter()
                if compiled_at is None and (work / "compiled.json").exists():
                    compiled_at = now
                stage, limit = ("build", timeout) if compiled_at is None else ("runs", max(timeout, 60.0))
                if now > (compiled_at or start) + limit:
                    proc.kill()
                    proc.wait()
                    row.relax_status = "timeout"
                    row.notes.append(f"relax: the {stage} took longer than {limit:.0f} s and was stopped")
                    if compiled_at is not None:
                        row.relax_compile_s = json.loads((work / "compiled.json").read_text())["seconds"]
                    return
                time.sleep(0.1)
            log.seek(0)
            if proc.returncode != 0 or not (work / "result.npz").exists():
                row.relax_status = "error"
                lines = [line for line in log.read().splitlines() if line.strip()]
                row.notes.append(f"relax: {lines[-1] if lines else f'exit status {proc.returncode}'}")
                return
        row.relax_compile_s = json.loads((work / "compiled.json").read_text())["seconds"]
        with np.load(work / "result.npz") as result:
            row.relax_s = float(result["seconds"])
            outputs = [result[f"out{i}"] for i in range(int(result["count"]))]
        row.relax_diff = max_abs_diff(outputs, reference)
    finally:
        if proc is not None and proc.poll() is None:  # interrupted (Ctrl-C): stop the child too
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def _relax_worker(job_json: str) -> None:
    """In the child: from_onnx -> tvm.compile (llvm) -> relax VM. Writes compiled.json as soon as
    the build is done (the parent's clock for the build), then result.npz."""
    job = json.loads(job_json)
    import onnx
    import tvm
    from tvm import relax
    from tvm.relax.frontend.onnx import from_onnx

    out = Path(job["out"])
    with np.load(job["inputs"]) as data:
        inputs = [data[f"arr_{i}"] for i in range(len(data.files))]
    start = time.perf_counter()
    mod = from_onnx(onnx.load(job["model"]))
    executable = tvm.compile(mod, target=tvm.target.Target({"kind": "llvm"}))
    (out / "compiled.tmp").write_text(json.dumps({"seconds": time.perf_counter() - start}))
    os.replace(out / "compiled.tmp", out / "compiled.json")  # the parent never reads half a file
    dev = tvm.cpu()
    vm = relax.VirtualMachine(executable, dev)

    def call():
        result = vm["main"](*(tvm.runtime.tensor(x, dev) for x in inputs))
        items = [result] if hasattr(result, "numpy") else list(result)  # a tensor or a tuple
        return [r.numpy() for r in items]

    outputs = call()
    seconds = median_seconds(call, job["runs"], job["warmup"])
    np.savez(out / "result.npz", seconds=seconds, count=len(outputs),
             **{f"out{i}": o for i, o in enumerate(outputs)})


# ---------------------------------------------------------------------------------------------
# the run and the table


def run(models: list[str], runs: int = 10, warmup: int = 2, threads: int = 2,
        relax_models: list[str] | None = None, relax_timeout: float = 120.0,
        zoo: Path | None = None, progress=None, opt_level: int = 3, per_kernel: bool = False,
        package: bool = False, blocks: int = 3, layout: str = "", target: str = "llvm",
        peer_schedules: str | None = None, records: list | None = None) -> list[Row]:
    """Benchmark `models` (zoo names or .onnx paths; lamina at -O`opt_level`); Relax runs on
    `relax_models` (default: all of `models`). lamina and onnxruntime are both built, then timed
    in `blocks` blocks each (`time_in_blocks`); with `records` (tuning records files), lamina
    compiled with each of them too, a side of its own (named by `records_labels`)."""
    os.environ["TVM_NUM_THREADS"] = str(threads)
    relax_models = models if relax_models is None else relax_models
    rows = []
    say = progress or (lambda msg: None)
    for spec in models:
        name = model_name(spec)
        row = Row(name)
        rows.append(row)
        path = resolve_model(spec, zoo)
        feed = random_inputs(path)
        inputs = list(feed.values())
        say(f"{name}: onnxruntime")
        session = onnxruntime_session(path, threads)
        reference = session.run(None, feed)
        sides = {}
        with kernel_cache():
            say(f"{name}: lamina")
            compiled = None
            try:
                compiled = build_lamina(row, path, feed, reference, opt_level, layout, target, peer_schedules)
                sides["lamina"] = lambda compiled=compiled: compiled(*inputs)
                for label, tuned in build_with_records(row, compiled, records or [], feed, reference).items():
                    sides[label] = lambda tuned=tuned: tuned(*inputs)
            except Exception as e:  # one model that lamina cannot build does not stop the others
                _lamina_error(row, e)
            sides["onnxruntime"] = lambda session=session, feed=feed: session.run(None, feed)
            say(f"{name}: timing in blocks ({', '.join(sides)}) x {blocks}")
            try:
                placements = {label: caller_beside_tvm_workers for label in sides if label != "onnxruntime"}
                medians = time_in_blocks(sides, runs, warmup, blocks, placements=placements)
            except Exception as e:  # lamina failed on a call: time onnxruntime alone
                _lamina_error(row, e)
                medians = time_in_blocks({"onnxruntime": sides["onnxruntime"]}, runs, warmup, blocks)
            row.ort_blocks = medians["onnxruntime"]
            row.ort_s = best_block(row.ort_blocks)
            if row.lamina_status == "ok" and "lamina" in medians:
                row.lamina_blocks = medians["lamina"]
                row.lamina_s = best_block(row.lamina_blocks)
                row.records_blocks = {label: medians[label] for label in records_labels(records or [])}
                row.records_s = {label: best_block(b) for label, b in row.records_blocks.items()}
            sides.clear()
            del session  # its worker threads go (they spin after a run, and would slow the kernels)
            if row.lamina_status == "ok" and per_kernel:
                say(f"{name}: lamina's kernels, one at a time")
                row.kernel_times = profile_kernels(compiled, inputs, max(runs, 20), blocks)
            if row.lamina_status == "ok" and package:
                say(f"{name}: package, in fresh processes")
                try:
                    run_package(row, compiled, path, feed, threads, max(3, min(runs, 5)))
                except Exception as e:  # the package columns stay empty; the note says why
                    row.notes.append(f"package: {type(e).__name__}: {_first_line(e)}")
        del compiled
        if spec not in relax_models:
            row.relax_status = "skipped"
            continue
        say(f"{name}: relax")
        run_relax(row, path, feed, reference, runs, warmup, threads, relax_timeout)
    return rows


def _first_line(e: Exception) -> str:
    return str(e).splitlines()[0] if str(e) else ""


def classic_geomean(rows: list[Row]) -> float | None:
    """The geometric mean of lamina/ort over the classic set (`classic_set`), or None unless every
    one of the seven has a row with a ratio (issue 11's goal figure: <= 0.9)."""
    ratios = {r.model: r.lamina_ratio for r in rows}
    classic = classic_set()
    if not classic or any(ratios.get(m) is None for m in classic):
        return None
    return math.exp(statistics.fmean(math.log(ratios[m]) for m in classic))


def format_classic_geomean(rows: list[Row]) -> str | None:
    """The line after the table when the bench ran all seven classic architectures: their
    geometric mean of lamina/ort, or which of them has no ratio (lamina failed); None when they
    did not all run."""
    classic = classic_set()
    ran = {r.model: r for r in rows}
    if not classic or any(m not in ran for m in classic):
        return None
    head = f"geometric mean of lamina/ort over the {len(classic)} classic ImageNet architectures ({', '.join(classic)})"
    mean = classic_geomean(rows)
    if mean is None:
        missing = [m for m in classic if ran[m].lamina_ratio is None]
        return f"{head}: - (no ratio for {', '.join(missing)})"
    return f"{head}: {mean:{_ratio_format(mean)}}"


def _lamina_error(row: Row, e: Exception) -> None:
    row.lamina_status = "error"
    row.notes.append(f"lamina: {type(e).__name__}: {_first_line(e)}")


# what each column is: describe_setup prints it above the table
COLUMNS = ["model", "ops", "kernels", "built", "import s", "passes s", "cold s", "warm s", "relax build s",
           "lamina ms", "ort ms", "relax ms", "lamina/ort", "relax/ort", "lamina diff", "relax diff"]


def _cells(row: Row) -> list[str]:
    def num(v, fmt, status="ok"):
        if status != "ok" and v is None:
            return {"skipped": "-"}.get(status, status)
        return "-" if v is None else format(v, fmt)

    ms = lambda v: None if v is None else v * 1e3  # noqa: E731
    lam, rlx = row.lamina_status, row.relax_status
    return [row.model, num(row.unfused_kernels, "d", lam), num(row.kernels, "d", lam),
            num(row.kernels_built, "d", lam), num(row.import_s, ".2f", lam),
            num(row.passes_s, ".2f", lam), num(row.cold_compile_s, ".2f", lam),
            num(row.warm_compile_s, ".2f", lam), num(row.relax_compile_s, ".2f", rlx),
            num(ms(row.lamina_s), ".3f", lam), num(ms(row.ort_s), ".3f"), num(ms(row.relax_s), ".3f", rlx),
            num(row.lamina_ratio, _ratio_format(row.lamina_ratio), lam),
            num(row.relax_ratio, _ratio_format(row.relax_ratio), rlx),
            num(row.lamina_diff, ".1e", lam), num(row.relax_diff, ".1e", rlx)]


def _ratio_format(v) -> str:
    """Three significant figures without an exponent: 0.512, 31.5, 1234."""
    if v is None or v >= 100:
        return ".0f"
    return ".1f" if v >= 10 else ".2f" if v >= 1 else ".3f"


PACKAGE_COLUMNS = ["pkg s", "pkg MiB", "ort MiB"]
KERNEL_SUM_COLUMNS = ["kernel sum ms", "in model ms", "outside ms", "outside %"]  # with --per-kernel


def _fmt(v, f) -> str:
    return "-" if v is None else format(v, f)


def _render(columns: list[str], cells: list[list[str]], markdown: bool, left: tuple = (0,)) -> str:
    """A table: Markdown, or plain text with columns padded (those in `left` left-aligned)."""
    if markdown:
        lines = ["| " + " | ".join(columns) + " |",
                 "|" + "|".join("---" if i in left else "---:" for i in range(len(columns))) + "|"]
        lines += ["| " + " | ".join(c) + " |" for c in cells]
        return "\n".join(lines)
    widths = [max(len(col), *(len(c[i]) for c in cells)) for i, col in enumerate(columns)]
    line = lambda c: "  ".join(v.ljust(w) if i in left else v.rjust(w)  # noqa: E731
                               for i, (v, w) in enumerate(zip(c, widths))).rstrip()
    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(c) for c in cells)])


def format_table(rows: list[Row], markdown: bool = False) -> str:
    columns = list(COLUMNS)
    cells = [_cells(r) for r in rows]
    labels = list(dict.fromkeys(label for r in rows for label in r.records_s))
    for label in labels:  # --records: a column pair per file
        columns += [f"{label} ms", f"{label}/ort"]
        ratios = [_ratio(r.records_s.get(label), r.ort_s) for r in rows]
        cells = [c + [_fmt(_ms(r.records_s.get(label)), ".3f"), _fmt(ratio, _ratio_format(ratio))]
                 for c, r, ratio in zip(cells, rows, ratios)]
    if any(r.package_s is not None for r in rows):
        columns += PACKAGE_COLUMNS
        cells = [c + [_fmt(r.package_s, ".2f"), _fmt(r.package_mib, ".0f"), _fmt(r.ort_process_mib, ".0f")]
                 for c, r in zip(cells, rows)]
    if any(r.kernel_times for r in rows):
        columns += KERNEL_SUM_COLUMNS
        cells = [c + [_fmt(_ms(r.kernel_sum_s), ".3f"), _fmt(_ms(r.in_model_sum_s), ".3f"), _fmt(_ms(r.outside_s), ".3f"),
                      _fmt(_percent(r.outside_s, r.lamina_s), ".1f")] for c, r in zip(cells, rows)]
    return _render(columns, cells, markdown)


def format_blocks(rows: list[Row]) -> str:
    """Each block's median per model and side, in the order they ran: how much the machine
    moved the numbers (the tables show the best block's)."""
    lines = ["blocks (median ms of each block, in the order they ran; the tables show the best):"]
    for r in rows:
        sides = [(side, blocks) for side, blocks in (("lamina", r.lamina_blocks), *r.records_blocks.items(),
                                                     ("onnxruntime", r.ort_blocks)) if blocks]
        if sides:
            lines.append(f"  {r.model}: " + "; ".join(
                f"{side} " + " ".join(f"{b * 1e3:.3f}" for b in blocks) for side, blocks in sides))
    return "\n".join(lines)


def _ms(v):
    return None if v is None else v * 1e3


def _percent(part, whole):
    return 100 * part / whole if part is not None and whole else None


KERNEL_COLUMNS = ["#", "ms", "in model ms", "share %", "MFLOP", "GFLOP/s", "% peak", "generator", "kernel",
                  "ONNX nodes"]


def kernel_cells(row: Row, peak_gflops: float | None = None) -> list[list[str]]:
    """The per-kernel table's rows, the slowest kernel first: its place in the run order, ms,
    share of the kernel sum, MFLOP per call, GFLOP/s, % of the FMA peak, schedule generator,
    label (ops and output shape) and the ONNX nodes it computes."""
    total = sum(k.seconds for k in row.kernel_times)
    out = []
    for k in sorted(row.kernel_times, key=lambda k: -k.seconds):
        rate = k.gflops()
        out.append([str(k.index), f"{k.seconds * 1e3:.3f}", f"{k.in_model_seconds * 1e3:.3f}",
                    _fmt(_percent(k.seconds, total), ".1f"),
                    "?" if k.flops is None else _significant(k.flops / 1e6), _fmt(rate, ".1f"),
                    _fmt(_percent(rate, peak_gflops), ".1f"), k.generator, k.label, _nodes_text(k.nodes)])
    return out


def _significant(v: float) -> str:
    """0 as 0, else three significant figures without an exponent: 0.00512, 3.21, 1234."""
    if v == 0:
        return "0"
    if v >= 100:
        return f"{v:.0f}"
    digits = max(0, 2 - int(np.floor(np.log10(abs(v)))))
    return f"{v:.{digits}f}"


def _nodes_text(nodes: list, width: int = 60) -> str:
    """The node names joined by +, the tail as "+N more" past `width` characters."""
    text = ""
    for i, n in enumerate(nodes):
        more = f"+{len(nodes) - i} more"
        piece = n if not text else f"{text}+{n}"
        if len(piece) > width and text:
            return f"{text} {more}"
        text = piece
    return text or "-"


def format_kernel_times(row: Row, peak_gflops: float | None = None, markdown: bool = False) -> str:
    """Where one model's time goes: a row per kernel call (`kernel_cells`), the slowest first;
    above them, the sum of the kernel times against the end-to-end latency (the rest is what
    the executor spends outside its kernels per call)."""
    total = row.kernel_sum_s or 0.0
    in_model = row.in_model_sum_s or 0.0
    head = (f"{row.model}: {len(row.kernel_times)} kernels, kernel sum {total * 1e3:.3f} ms alone, "
            f"{in_model * 1e3:.3f} ms in the model")
    if row.lamina_s:
        head += (f", end to end {row.lamina_s * 1e3:.3f} ms: {row.outside_s * 1e3:.3f} ms "
                 f"({_percent(row.outside_s, row.lamina_s):.1f}%) outside the kernels")
    flops = [k.flops for k in row.kernel_times]
    if total and None not in flops:
        rate = sum(flops) / total / 1e9
        head += f"; {sum(flops) / 1e6:.1f} MFLOP, {rate:.1f} GFLOP/s over the kernel sum"
        if peak_gflops:
            head += f" ({100 * rate / peak_gflops:.1f}% of peak)"
    gap = "\n\n" if markdown else "\n"  # Markdown: a table starts after a blank line
    return head + gap + _render(KERNEL_COLUMNS, kernel_cells(row, peak_gflops), markdown, left=(7, 8, 9))


def describe_setup(runs: int, warmup: int, threads: int, opt_level: int = 3, blocks: int = 3,
                   peak=None, per_kernel: bool = False, layout: str = "", target: str = "llvm",
                   peer_schedules: str | None = None) -> list[str]:
    import onnxruntime
    import tvm

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor()) if os.path.exists("/proc/cpuinfo") else platform.processor()
    blas = os.environ.get("OPENBLAS_CORETYPE")
    lines = [
        f"machine: {cpu}, {os.cpu_count()} cores, load average {_load()} at start",
    ]
    if peak is not None:
        lines.append(peak.describe())
    lines += [
        f"python {platform.python_version()}, tvm {tvm.__version__}, onnxruntime {onnxruntime.__version__}, "
        f"numpy {np.__version__} (not timed as a peer{f'; OPENBLAS_CORETYPE={blas}' if blas else ''})",
        f"threads: TVM_NUM_THREADS={threads} (lamina and relax), onnxruntime intra_op_num_threads={threads} "
        f"(CPUExecutionProvider)",
        f"latency: lamina and onnxruntime both built, then timed in blocks A B A B ... ({blocks} blocks each): a "
        f"block is {warmup} warm-up calls then {runs} timed calls of one side, and a side's latency is its best "
        f"block's median of {runs} runs after {warmup} warm-up runs (single calls are never alternated: on 2 "
        f"cores one runtime's spinning worker threads slowed the other 2-4x); during lamina's blocks the calling "
        f"thread is bound to the cores TVM's workers leave free (onnxruntime's run unbound); relax: median of "
        f"{runs} runs after {warmup} warm-up runs in its own process; numpy in and out; ratio = backend / onnxruntime (lower is "
        f"faster)",
        f"lamina: -O{opt_level}{f' --layout {layout}' if layout else ''} then executor.compile for {target}, "
        f"{'TVM s_tir.dlight schedules (--peer-schedules)' if peer_schedules else 'default schedules'}; "
        "ops = kernels before fusion (one "
        "per op of the imported graph), kernels = kernels run per call after the passes, built = kernels "
        "compiled cold (the rest reuse a kernel of the same shape); import s = load_onnx, passes s = the "
        f"-O{opt_level} pipeline, cold s = kernel build with an empty kernel cache folder, warm s = the "
        "second build, from its files",
        "relax: from_onnx + tvm.compile(llvm), TVM's default Relax pipeline (legalize, no fusion, no "
        "schedules), relax VM; relax build s = from_onnx + tvm.compile",
        "ort = onnxruntime; diff = max |output - onnxruntime output| over all outputs",
    ]
    if per_kernel:
        lines.append(
            "per kernel: each kernel call of lamina's model timed alone (ms: the best of its blocks' medians of "
            "its calls in a row, its data warm in the cache) and in the model (in model ms: timed inside whole "
            "runs of the model, after the kernel before it, as a real call sees it); kernel sum ms and in model "
            "ms = their sums, the difference = what the kernels lose to running in the model (weights and "
            "inputs not in this core's cache); outside = lamina ms - in model ms (what a call spends outside "
            "its kernels: the executor, argument passing); share % = of the kernel sum; MFLOP per call "
            "as runtime/flops.py counts (conv and matmul 2 per multiply-add, elementwise 1 per output, "
            "reductions 1 per input, data movement 0; a Winograd conv counts its direct conv's, so its "
            "GFLOP/s are effective ones and may pass the peak); % peak = GFLOP/s / the FMA peak above (the one % of "
            "peak uses); generator = the schedule generator that wrote the kernel's schedule "
            "(lowering/schedules/cpu.py; file = a schedule file); ONNX nodes = the nodes the kernel computes")
    return lines


def _busy_cpu_seconds() -> float | None:
    """CPU seconds all processes have used since boot (/proc/stat), or None off Linux."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def other_load(start: tuple, end: tuple) -> str:
    """How busy the cores were with other processes between two (wall, busy, own) samples."""
    (wall0, busy0, own0), (wall1, busy1, own1) = start, end
    if busy0 is None or busy1 is None or wall1 <= wall0:
        return "unknown"
    others = max(0.0, (busy1 - busy0) - (own1 - own0))
    return f"{100 * others / ((wall1 - wall0) * (os.cpu_count() or 1)):.0f}% of the cores"


def _sample() -> tuple:
    return time.perf_counter(), _busy_cpu_seconds(), _own_cpu_seconds()


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def _bench_progress(models: list[str], quiet: bool):
    """(the `progress` callback `run` takes, the bar to close): on a terminal a bar over the
    models whose note is the current step (compiler/progress.py); elsewhere a plain line per
    step; nothing with --quiet. A step's message starts with its model's name."""
    if quiet:
        return None, None
    if not sys.stderr.isatty():
        return (lambda msg: print(msg, file=sys.stderr, flush=True)), None
    from lamina.compiler.progress import Progress

    bar = Progress(len(models), "lamina bench", terminal=True)
    started: list[str] = []

    def say(msg: str) -> None:
        name = msg.split(":", 1)[0]
        done = 0
        if name in map(model_name, models) and name not in started:
            done = 1 if started else 0  # a new model: the one before it is finished
            started.append(name)
        bar.advance(done, note=msg)
    return say, bar


def main(argv: list[str] | None = None) -> int:
    zoo_names = zoo_models()
    ap = argparse.ArgumentParser(prog="lamina bench", description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(zoo_names),
                    help=f"comma-separated zoo models and .onnx file paths (default: the zoo, "
                         f"{','.join(zoo_names)}); the classic ImageNet nets {','.join(classic_models())} "
                         f"only when named (written on first use); '{CLASSIC}' for all seven classic "
                         f"architectures, {','.join(classic_set())}, with their geometric mean of lamina/ort")
    ap.add_argument("--runs", type=int, default=10, help="timed runs per block (10)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed runs before them, in every block (2)")
    ap.add_argument("--blocks", type=int, default=3,
                    help="blocks per side: lamina and onnxruntime take turns, a block of runs each (3)")
    ap.add_argument("--threads", type=int, default=2,
                    help="TVM_NUM_THREADS and onnxruntime's intra-op threads (2)")
    ap.add_argument("--skip-relax", action="store_true", help="do not build or run TVM's Relax")
    ap.add_argument("--relax-timeout", type=float, default=120.0, metavar="SECONDS",
                    help="stop a Relax build that takes longer than this (120)")
    ap.add_argument("--zoo", type=Path, help="folder of the zoo's .onnx models (default: examples/models, "
                                             "written by zoo.py when missing)")
    ap.add_argument("-O", dest="opt_level", type=int, choices=range(4), default=3, metavar="N",
                    help="lamina's optimization level, 0-3 (3)")
    ap.add_argument("--layout", default="", metavar="LAYOUT",
                    help="run lamina's image ops in this layout (NHWC, NCHW<c>c such as NCHW16c), as "
                         "`lamina run --layout`; default: the model's own")
    ap.add_argument("--target", default="llvm", metavar="NAME",
                    help="lamina's target (`lamina targets`): llvm (default), or opencl / opencl-adreno / "
                         "cuda-on-opencl, whose kernels run on the OpenCL device (PoCL here: a CPU)")
    ap.add_argument("--peer-schedules", choices=["tvm-dlight"],
                    help="for a GPU target: lamina's side built with TVM's s_tir.dlight schedules instead of its own")
    ap.add_argument("--per-kernel", action="store_true",
                    help="also time each kernel of lamina's model alone: a row per kernel with its FLOPs, "
                         "GFLOP/s, %% of the FMA peak, ONNX nodes and schedule generator")
    ap.add_argument("--package", action="store_true",
                    help="also write each model as a package and measure, in fresh processes, its load + first "
                         "run time and peak memory, and onnxruntime's peak memory")
    ap.add_argument("--records", action="append", default=[], metavar="FILE.jsonl",
                    help="also time lamina compiled with this tuning records file (lamina tune, either tuner) in "
                         "the same blocks: a column pair per file, named by its stem (repeatable)")
    ap.add_argument("--markdown", action="store_true", help="print the tables in Markdown")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on standard error")
    args = ap.parse_args(argv)
    models = expand_models(args.models)
    known = zoo_names + classic_models()
    unknown = [m for m in models if m not in known and not is_model_file(m)]
    if unknown:
        ap.error(f"unknown model {', '.join(unknown)}; choose from {', '.join(known)} or '{CLASSIC}' (the "
                 f"classic set), or give the path of an .onnx file")
    if not models:
        ap.error("no models: give --models")
    if args.runs < 1 or args.warmup < 0 or args.blocks < 1:
        ap.error("--runs and --blocks must be at least 1 and --warmup at least 0")
    try:  # a missing file fails now, not after the models before it
        for spec in models:
            if is_model_file(spec):
                resolve_model(spec)
        for path in args.records:
            if not Path(path).is_file():
                raise LaminaError(f"--records {path}: no such file",
                                  hint="write one with lamina tune MODEL --records FILE")
    except LaminaError as e:
        print(e.render(), file=sys.stderr)
        return 1
    os.environ["TVM_NUM_THREADS"] = str(args.threads)  # before TVM's thread pool starts
    progress, bar = _bench_progress(models, args.quiet)
    if progress:
        progress(f"FMA peak, {args.threads} threads")
    peak, peak_note = None, None
    try:
        from lamina.runtime.flops import fma_peak

        peak = fma_peak(args.threads)
    except Exception as e:  # noqa: BLE001  (the tables do without it)
        peak_note = f"peak: not measured ({type(e).__name__}: {_first_line(e)})"
    setup = describe_setup(args.runs, args.warmup, args.threads, args.opt_level, args.blocks, peak,
                           args.per_kernel, args.layout, args.target, args.peer_schedules)
    if peak_note:
        setup.insert(1, peak_note)
    if args.records:
        setup.append("records: " + "; ".join(f"{label} = lamina compiled with {path} (each kernel whose task has a "
                                            f"record takes its fastest, whichever tuner made it)"
                                            for label, path in records_labels(args.records).items())
                     + "; timed in the same blocks as lamina and onnxruntime; <label>/ort = its ratio")
    if args.package:
        setup.append("package: pkg s = median wall time of a fresh process that loads the package with the lean "
                     "runner (no tvm, onnx or lark) and runs it once, start to exit; pkg MiB = its peak RSS; "
                     "ort MiB = the peak RSS of a fresh process that loads the model in onnxruntime and runs it once")
    before = _sample()
    try:
        rows = run(models, args.runs, args.warmup, args.threads, [] if args.skip_relax else None,
                   args.relax_timeout, args.zoo, progress, args.opt_level, args.per_kernel, args.package,
                   args.blocks, args.layout, args.target, args.peer_schedules, args.records)
    except LaminaError as e:
        print(e.render(), file=sys.stderr)
        return 1
    finally:
        if bar is not None:
            bar.close()
    setup.append(f"load average {_load()} at the end; other processes used {other_load(before, _sample())} "
                 f"during the run (busy CPU time minus this benchmark's)")
    if args.markdown:
        print("\n".join(f"- {line}" for line in setup))
        print()
    else:
        print("\n".join(setup))
        print()
    print(format_table(rows, args.markdown))
    geomean = format_classic_geomean(rows)
    if geomean:
        print()
        print(geomean)
    print()
    print(format_blocks(rows))
    if args.per_kernel:
        for r in rows:
            if r.kernel_times:
                print()
                print(format_kernel_times(r, peak.reference if peak else None, args.markdown))
    notes = [f"{r.model}: {n}" for r in rows for n in r.notes]
    if notes:
        print()
        print("\n".join(("- " if args.markdown else "") + n for n in notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
