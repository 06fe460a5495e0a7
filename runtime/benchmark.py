"""The model benchmark (issue 4): the model zoo through lamina, onnxruntime and TVM's Relax.

    python bench/models.py                               # all six models, a plain-text table
    python bench/models.py --models mlp,glue --runs 5 --markdown
    python bench/models.py --skip-relax                  # lamina and onnxruntime only

For each model, in one process (Relax in a child process, so a slow build can be stopped):
  1. onnxruntime (CPUExecutionProvider, `intra_op_num_threads` = --threads) runs the model on a
     random input (seed 0); its outputs are the reference for the correctness columns.
  2. lamina imports the model (`load_onnx`), optimizes it at -O3 (or -O), and compiles it twice
     with `lamina.runtime.executor.compile` (default schedules): cold, into an empty kernel cache
     folder, then warm, from that folder's files. The table shows the kernels before fusion (one
     per op) and after.
  3. Relax imports it with `from_onnx` and builds it with `tvm.compile(mod, llvm)`, whose default
     Relax pipeline legalizes every op to TIR without fusion or schedules; the relax VM runs it.
     A build that takes longer than --relax-timeout seconds is stopped and shown as "timeout".
  4. Latency is the median of --runs calls after --warmup calls, numpy in and numpy out for every
     backend (lamina's executor copies each kernel's operands; that copying is part of its time).
  5. With --package: lamina writes the compiled model as a package (runtime/package.py) and runs
     it in fresh processes with the lean runner (runtime/package_runner.py, loaded as a file: no
     tvm, onnx or lark); each process loads the package, runs it once and exits. "pkg s" is the
     median wall time from starting the process to its exit (an upper bound on the time to the
     first output), "pkg MiB" the process's peak RSS; "ort MiB" the peak RSS of a fresh process
     that imports onnxruntime, loads the model and runs it once (the peer: the smallest way to
     run the model with onnxruntime from Python).

TVM_NUM_THREADS is set to --threads before TVM starts its thread pool, for lamina and Relax alike.
The models come from examples/models/ (written there by examples/models/zoo.py when missing) or
from --zoo DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lamina.compiler.errors import LaminaError

MODELS = ["resnet18", "mobilenetv2", "mlp", "transformer_block", "tiny_yolo", "glue"]
REPO_ROOT = Path(__file__).resolve().parents[1]  # the checkout, for an editable install
DEFAULT_ZOO = REPO_ROOT / "examples" / "models"


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
    lamina_s: float | None = None
    ort_s: float | None = None
    relax_s: float | None = None
    lamina_diff: float | None = None
    relax_diff: float | None = None
    kernel_times: list = field(default_factory=list)  # (label, seconds) per kernel call, with --per-kernel
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


def _ratio(a, b):
    return a / b if a is not None and b else None


# ---------------------------------------------------------------------------------------------
# inputs and the models


def model_path(zoo: Path, name: str, generate: bool) -> Path:
    """`zoo/name.onnx`; written by examples/models/zoo.py when missing and `generate` is set."""
    path = zoo / f"{name}.onnx"
    hint = f"write it with: python examples/models/zoo.py --out {zoo} {name}"
    if path.exists():
        return path
    script = REPO_ROOT / "examples" / "models" / "zoo.py"
    if not generate or not script.exists():
        raise LaminaError(f"no model file {path}", hint=hint)
    subprocess.run([sys.executable, str(script), "--out", str(zoo), name], check=True,
                   stdout=subprocess.DEVNULL)
    return path


def random_inputs(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """A standard-normal float32 array for every graph input that is not an initializer."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    initializers = {t.name for t in graph.initializer}
    rng = np.random.default_rng(seed)
    feed = {}
    for value in graph.input:
        if value.name in initializers:
            continue
        tensor = value.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else 1 for d in tensor.shape.dim]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type)
        feed[value.name] = rng.standard_normal(shape).astype(dtype)
    return feed


def median_seconds(fn, runs: int, warmup: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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


def run_onnxruntime(path: Path, feed: dict, threads: int, runs: int, warmup: int):
    """(outputs, median seconds)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    outputs = session.run(None, feed)
    return outputs, median_seconds(lambda: session.run(None, feed), runs, warmup)


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


def run_lamina(row: Row, path: Path, feed: dict, reference, runs: int, warmup: int,
               opt_level: int = 3, per_kernel: bool = False, package=None) -> None:
    """Import, optimize at `opt_level`, compile cold and warm (each into the same fresh cache
    folder), time, compare; then `package(compiled)`, if given, while the kernels' files exist."""
    from lamina.compiler.frontends.onnx import load_onnx
    from lamina.compiler.passes import run_pipeline
    from lamina.compiler.passes.presets import pipeline_for
    from lamina.runtime.executor import compile as compile_model
    from lamina.runtime.executor import count_kernels

    start = time.perf_counter()
    module = load_onnx(str(path))
    row.import_s = time.perf_counter() - start
    row.unfused_kernels = count_kernels(module)
    start = time.perf_counter()
    run_pipeline(module, pipeline_for(opt_level))
    row.passes_s = time.perf_counter() - start
    cache = tempfile.mkdtemp(prefix="lamina-bench-cache-")
    previous = os.environ.get("LAMINA_CACHE_DIR")
    os.environ["LAMINA_CACHE_DIR"] = cache
    try:
        cold = compile_model(module, target="llvm")
        warm = compile_model(module, target="llvm")
        _time_lamina(row, cold, warm, feed, reference, runs, warmup, per_kernel)
        if package is not None:
            package(warm)
    finally:
        if previous is None:
            os.environ.pop("LAMINA_CACHE_DIR", None)
        else:
            os.environ["LAMINA_CACHE_DIR"] = previous
        shutil.rmtree(cache, ignore_errors=True)


def _time_lamina(row: Row, cold, warm, feed: dict, reference, runs: int, warmup: int, per_kernel: bool) -> None:
    row.kernels, row.kernels_built = cold.num_kernels, cold.stats.built
    row.cold_compile_s, row.warm_compile_s = cold.compile_seconds, warm.compile_seconds
    if warm.stats.built:
        row.notes.append(f"lamina: the warm compile built {warm.stats.built} kernels again")
    inputs = list(feed.values())
    row.lamina_diff = max_abs_diff(warm(*inputs), reference)
    row.lamina_s = median_seconds(lambda: warm(*inputs), runs, warmup)
    if per_kernel:
        row.kernel_times = [(kernel_label(op), t) for op, t in warm.profile(*inputs, runs=max(runs, 5))]


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

ORT_ONCE = PEAK_RSS + """
import sys
import numpy as np
import onnxruntime as ort
options = ort.SessionOptions()
options.intra_op_num_threads = int(sys.argv[2])
options.inter_op_num_threads = 1
session = ort.InferenceSession(sys.argv[1], options, providers=["CPUExecutionProvider"])
feed = {}
for i in session.get_inputs():
    shape = [d if isinstance(d, int) else 1 for d in i.shape]
    dtype = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32}[i.type]
    feed[i.name] = np.random.default_rng(0).standard_normal(shape).astype(dtype)
session.run(None, feed)
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


def run_package(row: Row, compiled, path: Path, threads: int, runs: int) -> None:
    """Write `compiled` as a package and run it `runs` times, each in a fresh process with the
    lean runner; the same for onnxruntime's peak memory."""
    from lamina.runtime.package import runner_path, write_package

    env = dict(os.environ, TVM_NUM_THREADS=str(threads))
    with tempfile.TemporaryDirectory(prefix="lamina-bench-package-") as work:
        tar = write_package(compiled, Path(work) / f"{row.model}.tar")
        package = [_child([sys.executable, "-c", PACKAGE_ONCE, str(runner_path()), str(tar), "--fill", "random"], env)
                   for _ in range(runs)]
    ort = [_child([sys.executable, "-c", ORT_ONCE, str(path), str(threads)], env) for _ in range(max(1, runs // 2))]
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
        package: bool = False) -> list[Row]:
    """Benchmark `models` (lamina at -O`opt_level`); Relax runs on `relax_models` (default: all
    of `models`)."""
    os.environ["TVM_NUM_THREADS"] = str(threads)
    relax_models = models if relax_models is None else relax_models
    rows = []
    for name in models:
        row = Row(name)
        rows.append(row)
        if progress:
            progress(f"{name}: onnxruntime")
        path = model_path(zoo or DEFAULT_ZOO, name, generate=zoo is None)
        feed = random_inputs(path)
        reference, row.ort_s = run_onnxruntime(path, feed, threads, runs, warmup)
        if progress:
            progress(f"{name}: lamina")
        def measure_package(compiled, row=row, path=path, name=name):
            if progress:
                progress(f"{name}: package, in fresh processes")
            try:
                run_package(row, compiled, path, threads, max(3, min(runs, 5)))
            except Exception as e:  # the package columns stay empty; the note says why
                row.notes.append(f"package: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")

        try:
            run_lamina(row, path, feed, reference, runs, warmup, opt_level, per_kernel,
                       measure_package if package else None)
        except Exception as e:  # one model that lamina cannot build does not stop the others
            row.lamina_status = "error"
            row.notes.append(f"lamina: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        if name not in relax_models:
            row.relax_status = "skipped"
            continue
        if progress:
            progress(f"{name}: relax")
        run_relax(row, path, feed, reference, runs, warmup, threads, relax_timeout)
    return rows


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


def format_table(rows: list[Row], markdown: bool = False) -> str:
    columns = list(COLUMNS)
    cells = [_cells(r) for r in rows]
    if any(r.package_s is not None for r in rows):
        columns += PACKAGE_COLUMNS
        fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
        cells = [c + [fmt(r.package_s, ".2f"), fmt(r.package_mib, ".0f"), fmt(r.ort_process_mib, ".0f")]
                 for c, r in zip(cells, rows)]
    if markdown:
        lines = ["| " + " | ".join(columns) + " |",
                 "|" + "|".join(["---"] + ["---:"] * (len(columns) - 1)) + "|"]
        lines += ["| " + " | ".join(c) + " |" for c in cells]
        return "\n".join(lines)
    widths = [max(len(col), *(len(c[i]) for c in cells)) for i, col in enumerate(columns)]
    line = lambda c: "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(c, widths)))  # noqa: E731
    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(c) for c in cells)])


def format_kernel_times(row: Row, top: int = 12) -> str:
    """Where one model's time goes: its kernels grouped by label, the slowest first, with their
    share of the sum of kernel times; and that sum against the measured end-to-end latency (the
    rest is the executor's own time per call)."""
    total = sum(t for _, t in row.kernel_times)
    groups: dict = {}
    for label, t in row.kernel_times:
        count, seconds = groups.get(label, (0, 0.0))
        groups[label] = (count + 1, seconds + t)
    lines = [f"{row.model}: {len(row.kernel_times)} kernel calls, sum {total * 1e3:.3f} ms"
             + (f" of {row.lamina_s * 1e3:.3f} ms end to end" if row.lamina_s else "")]
    for label, (count, seconds) in sorted(groups.items(), key=lambda kv: -kv[1][1])[:top]:
        share = 100 * seconds / total if total else 0.0
        lines.append(f"  {seconds * 1e3:9.3f} ms {share:5.1f}%  {count:3d}x  {label}")
    if len(groups) > top:
        rest = sorted(groups.values(), key=lambda v: -v[1])[top:]
        lines.append(f"  {sum(v[1] for v in rest) * 1e3:9.3f} ms in {sum(v[0] for v in rest)} more calls")
    return "\n".join(lines)


def describe_setup(runs: int, warmup: int, threads: int, opt_level: int = 3) -> list[str]:
    import onnxruntime
    import tvm

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor()) if os.path.exists("/proc/cpuinfo") else platform.processor()
    blas = os.environ.get("OPENBLAS_CORETYPE")
    return [
        f"machine: {cpu}, {os.cpu_count()} cores, load average {_load()} at start",
        f"python {platform.python_version()}, tvm {tvm.__version__}, onnxruntime {onnxruntime.__version__}, "
        f"numpy {np.__version__} (not timed as a peer{f'; OPENBLAS_CORETYPE={blas}' if blas else ''})",
        f"threads: TVM_NUM_THREADS={threads} (lamina and relax), onnxruntime intra_op_num_threads={threads} "
        f"(CPUExecutionProvider)",
        f"latency: median of {runs} runs after {warmup} warm-up runs, numpy in and out; "
        f"ratio = backend / onnxruntime (lower is faster)",
        f"lamina: -O{opt_level} then executor.compile, default schedules; ops = kernels before fusion (one "
        "per op of the imported graph), kernels = kernels run per call after the passes, built = kernels "
        "compiled cold (the rest reuse a kernel of the same shape); import s = load_onnx, passes s = the "
        f"-O{opt_level} pipeline, cold s = kernel build with an empty kernel cache folder, warm s = the "
        "second build, from its files",
        "relax: from_onnx + tvm.compile(llvm), TVM's default Relax pipeline (legalize, no fusion, no "
        "schedules), relax VM; relax build s = from_onnx + tvm.compile",
        "ort = onnxruntime; diff = max |output - onnxruntime output| over all outputs",
    ]


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="lamina bench", description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS),
                    help=f"comma-separated models (default: all of {','.join(MODELS)})")
    ap.add_argument("--runs", type=int, default=10, help="timed runs per backend (10)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed runs before them (2)")
    ap.add_argument("--threads", type=int, default=2,
                    help="TVM_NUM_THREADS and onnxruntime's intra-op threads (2)")
    ap.add_argument("--skip-relax", action="store_true", help="do not build or run TVM's Relax")
    ap.add_argument("--relax-timeout", type=float, default=120.0, metavar="SECONDS",
                    help="stop a Relax build that takes longer than this (120)")
    ap.add_argument("--zoo", type=Path, help="folder of the .onnx models (default: examples/models, "
                                             "written by zoo.py when missing)")
    ap.add_argument("-O", dest="opt_level", type=int, choices=range(4), default=3, metavar="N",
                    help="lamina's optimization level, 0-3 (3)")
    ap.add_argument("--per-kernel", action="store_true",
                    help="also time each kernel of lamina's model and print where the time goes")
    ap.add_argument("--package", action="store_true",
                    help="also write each model as a package and measure, in fresh processes, its load + first "
                         "run time and peak memory, and onnxruntime's peak memory")
    ap.add_argument("--markdown", action="store_true", help="print the table in Markdown")
    ap.add_argument("--quiet", action="store_true", help="no progress lines on standard error")
    args = ap.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        ap.error(f"unknown model {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    if args.runs < 1 or args.warmup < 0:
        ap.error("--runs must be at least 1 and --warmup at least 0")
    os.environ["TVM_NUM_THREADS"] = str(args.threads)  # before TVM's thread pool starts
    setup = describe_setup(args.runs, args.warmup, args.threads, args.opt_level)
    if args.package:
        setup.append("package: pkg s = median wall time of a fresh process that loads the package with the lean "
                     "runner (no tvm, onnx or lark) and runs it once, start to exit; pkg MiB = its peak RSS; "
                     "ort MiB = the peak RSS of a fresh process that loads the model in onnxruntime and runs it once")
    progress = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    before = _sample()
    try:
        rows = run(models, args.runs, args.warmup, args.threads, [] if args.skip_relax else None,
                   args.relax_timeout, args.zoo, progress, args.opt_level, args.per_kernel, args.package)
    except LaminaError as e:
        print(e.render(), file=sys.stderr)
        return 1
    setup.append(f"load average {_load()} at the end; other processes used {other_load(before, _sample())} "
                 f"during the run (busy CPU time minus this benchmark's)")
    if args.markdown:
        print("\n".join(f"- {line}" for line in setup))
        print()
    else:
        print("\n".join(setup))
        print()
    print(format_table(rows, args.markdown))
    if args.per_kernel:
        for r in rows:
            if r.kernel_times:
                print()
                print(format_kernel_times(r))
    notes = [f"{r.model}: {n}" for r in rows for n in r.notes]
    if notes:
        print()
        print("\n".join(("- " if args.markdown else "") + n for n in notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
