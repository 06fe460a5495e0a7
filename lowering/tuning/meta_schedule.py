"""`lamina tune --tuner meta-schedule`: TVM's meta-schedule tunes lamina's tasks, as a peer.

Why a peer: a tuner's numbers say little alone. TVM's meta-schedule (`tvm.s_tir.meta_schedule`,
Ansor's successor) searches whole schedules sampled from its own rules, where lamina's tuner
searches the knobs of lamina's generators; running both on the same tasks, under the same
budget, measured by the same runner, shows what lamina's space and search leave on the table.

1. The tasks are lamina's (tasks.py): its unscheduled PrimFuncs, keyed and weighted as lamina's
   tuner does. Each default schedule not yet in the records is measured first, as there.
2. One `tune_tasks` call tunes them all: meta-schedule's own task scheduler (gradient or
   round-robin, given the tasks' weights), design spaces, evolutionary search with its XGBoost
   cost model, builder (with one change: `build`) and runner, on the target's TVM JSON with
   "num-cores" (its rules need it), BATCH trials a round (fewer when `trials` would not give each
   task one); `trials` bounds the candidates measured in all. The time budget (`time_budget`
   seconds from the start, as lamina's tuner counts it) is kept by the search (`_until`): once it
   is spent, a task's search proposes nothing, and meta-schedule ends the task itself; a round
   already proposed is still built and measured. After each round a measure callback logs a line.
3. Each task's best database record (its trace, postprocessors included) becomes a schedule-IR
   program (from_trace.py). The program is printed, parsed back, checked by the schedule
   verifier and applied, and must give the PrimFunc the trace gives (structurally equal): then it
   is built and measured by lamina's runner (runner.py), so its time compares with lamina's
   tuner's, and appended to the records marked `"tuner": "meta-schedule"`, the task's default
   measured again right after it. A trace that does not convert, or a program that does not
   build, is a failed record with the reason.

Resume: with `--records FILE`, meta-schedule's own database (every trace it measured, with its
time) is kept beside it, in `FILE.meta-schedule/<target>/` (TVM's JSON database: two JSON-lines
files that only grow). A second run with the same records file opens it again: its evolutionary
search seeds each task's population with the best traces measured so far (meta-schedule's
PickBestFromDatabase), and each task's best at the end is the database's, earlier runs included,
so `--trials` buys that many more trials rather than starting over. Its cost model (XGBoost, with
the features and times it trained on) is saved there too, `cost_model.tar` (XGBModel.save), and
loaded by the next run, so the search ranks its first candidates with what earlier runs learned
instead of at random. Without `--records` both live in memory for the run.

`lamina compile|run --records` then applies the best record of each task, whichever tuner made
it; `lamina tune --report` shows each tuner's best per task; `lamina bench --records` times a
model compiled with each records file beside the defaults and onnxruntime.

meta-schedule as installed needs more than the TVM wheel brings: cloudpickle (its process pools),
psutil and xgboost (its cost model; the `xgboost-cpu` wheel, as plain `xgboost` pulls in CUDA's
NCCL): the `meta-schedule` extra. Without them this fails at once with a LaminaError naming them.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from lamina.compiler.errors import LaminaError

from .records import LAMINA, Record, RecordWriter, knob_key, read_records
from .tuner import _columns, _kernels, _log, _program_text, _time

TUNER = "meta-schedule"   # the records' `tuner` field for this tuner's schedules
BATCH = 16                # trials per round: the time budget is checked after each round
# module -> the package that brings it (what local tuning imports; the extra adds tornado for
# meta-schedule's RPC tracker)
NEEDS = {"cloudpickle": "cloudpickle", "psutil": "psutil", "xgboost": "xgboost-cpu"}
SEARCHES = {"evolutionary": "evolutionary", "random": "replay-trace"}  # lamina's --search -> its strategy


def missing_packages() -> list[str]:
    """The packages meta-schedule needs here that are not installed."""
    return [package for module, package in NEEDS.items() if importlib.util.find_spec(module) is None]


def require() -> None:
    """Raise a LaminaError naming the missing packages, if any."""
    missing = missing_packages()
    if missing:
        raise LaminaError(f"--tuner meta-schedule needs {', '.join(missing)}, which "
                          f"{'is' if len(missing) == 1 else 'are'} not installed",
                          hint="pip install 'lamina[meta-schedule]' (cloudpickle, psutil, xgboost-cpu, tornado)")


@dataclass
class PeerTask:
    """What a meta-schedule run knows of one task."""

    task: object
    default_s: float | None = None   # the default schedule's time (lamina's runner)
    trials: int = 0                  # candidates meta-schedule measured
    own_s: float = math.inf          # its best, as its own runner timed it
    best_s: float | None = None      # its best converted, as lamina's runner timed it
    error: str = ""                  # why its best gave no time ("" when it did)
    failure: str = ""                # the last error of a candidate it failed to build or run

    @property
    def built_s(self) -> float | None:
        """The faster of its best and its default: what `--records` builds (the fastest record;
        lamina's tuner's best starts from the default too)."""
        return min((x for x in (self.best_s, self.default_s) if x is not None), default=None)


@dataclass
class PeerResult:
    """What a meta-schedule run did, per task and in time (`table()` prints it, as `lamina tune`)."""

    tasks: list
    records: Path | None
    trials: int = 0
    seconds: float = 0.0         # the whole run
    start_seconds: float = 0.0   # meta-schedule's tuning contexts (importing its tensor intrinsics)
    database: Path | None = None  # meta-schedule's own database (kept beside the records), if any
    resumed: int = 0             # measurements it held when the run began (an earlier run's)
    cost_model_resumed: int = 0  # measurements the loaded cost model had trained on (an earlier run's)
    tune_seconds: float = 0.0    # its tuning, from the start of tune_tasks to its end
    finish_seconds: float = 0.0  # converting, building and measuring each task's best
    stopped: str = ""
    search: str = "evolutionary"
    scheduler: str = "gradient"

    @property
    def estimated_s(self) -> float:
        """The model's estimated time: sum of weight x each task's `built_s`."""
        return sum(t.task.weight * t.built_s for t in self.tasks if t.built_s is not None)

    @property
    def default_s(self) -> float:
        return sum(t.task.weight * t.default_s for t in self.tasks if t.default_s is not None)

    def table(self) -> str:
        total = self.estimated_s or 1.0
        rows = [("task", "weight", "trials", "default", "its own", "best", "speed-up", "share", "kernels")]
        for t in self.tasks:
            speed = f"{t.default_s / t.best_s:.2f}x" if t.best_s and t.default_s else "-"
            share = f"{100 * t.task.weight * t.built_s / total:.1f}%" if t.built_s is not None else "-"
            rows.append((t.task.short_key, str(t.task.weight), str(t.trials), _time(t.default_s), _time(t.own_s),
                         _time(t.best_s), speed, share, _kernels(t.task)))
        lines = [_columns(rows)]
        lines += [f"  {t.task.short_key}: {t.error}" for t in self.tasks if t.error]
        lines.append(f"estimated model time (sum of weight x the faster of best and default, as --records builds): "
                     f"{_time(self.estimated_s)} (defaults: {_time(self.default_s)})")
        per_minute = 60 * self.trials / self.tune_seconds if self.tune_seconds else 0.0
        lines.append(f"{self.trials} trials in {self.tune_seconds:.1f} s of meta-schedule's tuning, {per_minute:.0f} "
                     f"per minute; its start {self.start_seconds:.1f} s, converting and measuring the best "
                     f"{self.finish_seconds:.1f} s; {self.seconds:.1f} s in all"
                     + (f"; stopped: {self.stopped}" if self.stopped else ""))
        if self.database is not None:
            lines.append(f"meta-schedule's database: {self.database} ("
                         + (f"resumed: {self.resumed} measurements of earlier runs" if self.resumed else "new")
                         + (f"; its cost model trained on {self.cost_model_resumed})" if self.cost_model_resumed
                            else ")"))
        converted = sum(1 for t in self.tasks if t.best_s is not None)
        lines.append(f"tuner: meta-schedule (search {SEARCHES[self.search]}, task scheduler {self.scheduler}); "
                     f"'its own' = its runner's time of its best, 'best' = that schedule converted into schedule "
                     f"IR and timed by lamina's runner ({converted} of {len(self.tasks)} tasks)")
        return "\n".join(lines)


def tune_meta_schedule(module, target="llvm", trials: int = 64, time_budget: float | None = None, records=None,
                       scheduler: str = "gradient", threads: int | None = None, seed: int = 0,
                       search: str = "evolutionary", log=_log, progress=None) -> PeerResult:
    """Tune the tasks of `module` (optimized, as `lamina compile` leaves it) for `target` with
    meta-schedule (see the module's docstring); append the defaults' and each task's converted
    best's measurement to `records` (a path; None: keep none). `scheduler` and `search` name
    lamina's choices (gradient or round-robin; evolutionary, or random: its replay of random
    traces). `log` gets a line per round; `progress` (a compiler.progress.Progress over `trials`,
    what `lamina tune` passes on a terminal) is advanced by each round's trials instead."""
    require()
    from lamina.lowering import tvm_adapter

    from .runner import Runner
    from .scheduler import SCHEDULERS
    from .tasks import extract_tasks

    for name, value, known in (("search", search, SEARCHES), ("task scheduler", scheduler, SCHEDULERS)):
        if value not in known:
            raise LaminaError(f"unknown {name} '{value}'", hint=f"use one of: {', '.join(known)}")

    start = time.perf_counter()
    tasks, model = extract_tasks(module, target, threads)
    target = model.target
    if target.family != "cpu" or target.cross:
        raise LaminaError(f"--tuner meta-schedule tunes this machine's CPU, not target '{target.name}'",
                          hint="use --target llvm, or lamina's own tuner (--tuner lamina)")
    tvm_adapter.set_num_threads(target.threads)  # (its runner's worker processes inherit it)
    writer = RecordWriter(records) if records is not None else None
    runner = Runner(target.threads)  # (its worker process starts at the first measurement)
    earlier = read_records(records, target, tasks, cache=runner.cache) if records is not None else []
    result = PeerResult([PeerTask(t) for t in tasks], Path(records) if records is not None else None,
                        search=search, scheduler=scheduler)
    deadline = start + time_budget if time_budget is not None else math.inf
    database = _database(result, records, target)
    with runner:
        _measure_defaults(result, earlier, target, runner, writer)
        with tempfile.TemporaryDirectory(prefix="lamina-meta-schedule-") as work:
            try:
                _tune(result, database, target, trials, deadline, seed, work, log, progress, start)
            finally:
                if progress is not None:
                    progress.close()
            begin = time.perf_counter()
            _finish(result, database, target, runner, writer, Path(work))
            result.finish_seconds = time.perf_counter() - begin
    result.seconds = time.perf_counter() - start
    return result


def _measure_defaults(result, earlier, target, runner, writer) -> None:
    """Round 0, as lamina's tuner: each default schedule, unless a record of it exists."""
    for peer in result.tasks:
        default = knob_key(peer.task.program.knobs())
        known = [r for r in earlier if r.task == peer.task.key and r.tuner == LAMINA and knob_key(r.knobs) == default]
        if known:
            ok = [r.median_s for r in known if not r.failed and r.median_s is not None]
            peer.default_s = min(ok) if ok else None
        else:
            _measure_default(peer, target, runner, writer)


def _measure_default(peer, target, runner, writer) -> None:
    """Measure a task's default schedule (lamina's record: the program is its generator's)."""
    m = runner.measure(peer.task.library, peer.task.args)
    peer.default_s = None if m.failed else m.median_s
    if writer is not None:
        writer.write(Record.of(peer.task.key, target, peer.task.program.knobs(), _program_text(peer.task.program), m))


def database_dir(records, target) -> Path:
    """Where meta-schedule's database for `records` and `target` lives: beside the records file,
    one folder per target identity (a records file may hold several targets' records)."""
    import hashlib

    from .tasks import identity_text, target_identity

    identity = hashlib.sha256(identity_text(target_identity(target)).encode()).hexdigest()[:12]
    return Path(f"{records}.meta-schedule") / f"{target.name}-{identity}"


def _database(result, records, target):
    """meta-schedule's database for this run: kept beside `records` (made, or opened to resume),
    else in memory. Each task's best measured so far, earlier runs included, starts its 'its
    own' time."""
    from tvm.s_tir import meta_schedule as ms

    if records is None:
        return ms.database.MemoryDatabase()
    folder = database_dir(records, target)
    if folder.parent.exists() and not folder.parent.is_dir():
        raise LaminaError(f"{folder.parent} is a file; meta-schedule keeps its database in a folder of that name",
                          hint="move that file away, or give --records another name")
    folder.mkdir(parents=True, exist_ok=True)
    database = ms.database.JSONDatabase(work_dir=str(folder), allow_missing=True)
    result.database, result.resumed = folder, len(database)
    for peer in result.tasks:
        if result.resumed and database.has_workload(peer.task.module):
            for r in database.get_top_k(database.commit_workload(peer.task.module), 1):
                peer.own_s = min(peer.own_s, sum(float(s) for s in r.run_secs) / len(r.run_secs))
    return database


def tvm_target(target):
    """The TVM target meta-schedule tunes for: lamina's, with the "num-cores" its rules need."""
    from lamina.lowering import tvm_adapter

    return tvm_adapter.make_target({**json.loads(str(target.tvm_target())), "num-cores": int(target.threads)})


def _tune(result, database, target, trials: int, deadline: float, seed: int, work: str, log, progress,
          start: float) -> None:
    """meta-schedule's tuning of every task (step 2 of the module's docstring), into `database`."""
    from tvm.s_tir import meta_schedule as ms
    from tvm.s_tir.meta_schedule.logging import get_loggers_from_work_dir

    if not result.tasks or trials <= 0 or time.perf_counter() >= deadline:
        result.stopped = ("no tasks" if not result.tasks else "no trials" if trials <= 0
                          else "time budget spent before tuning")
        return
    quiet = logging.getLogger("tvm.s_tir.meta_schedule")
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # its console handler takes this level: its log goes to `work` only
    try:
        begin = time.perf_counter()
        names = [t.task.short_key for t in result.tasks]
        search = _until(deadline, result, start)
        contexts = [ms.TuneContext(mod=t.task.module, target=tvm_target(target), space_generator="post-order-apply",
                                   search_strategy=search(SEARCHES[result.search]), task_name=name, rand_state=seed + i,
                                   num_threads=target.threads, logger=logger).clone()
                    for i, (t, name, logger) in enumerate(zip(result.tasks, names,
                                                              get_loggers_from_work_dir(work, names)))]
        result.start_seconds = time.perf_counter() - begin
        cost_model = _cost_model(result, target)
        callbacks = [*ms.MeasureCallback.create("default"), _round_callback(result, log, progress, start)]
        per_round = max(1, min(BATCH, trials // len(contexts)))
        begin = time.perf_counter()
        ms.tune.tune_tasks(tasks=contexts, task_weights=[float(t.task.weight) for t in result.tasks], work_dir=work,
                           max_trials_global=trials, num_trials_per_iter=per_round,
                           builder=ms.builder.LocalBuilder(f_build=build, max_workers=target.threads), runner="local",
                           database=database, cost_model=cost_model, measure_callbacks=callbacks,
                           task_scheduler=result.scheduler)
        result.tune_seconds = time.perf_counter() - begin
        if result.database is not None:
            with warnings.catch_warnings():  # xgboost's note that model.bin (TVM's name) is saved as UBJSON
                warnings.simplefilter("ignore", UserWarning)
                cost_model.save(str(result.database / COST_MODEL_FILE))
        if not result.stopped:
            result.stopped = f"{trials} trials" if result.trials >= trials else "every task's search ended"
    finally:
        quiet.setLevel(level)


COST_MODEL_FILE = "cost_model.tar"  # in the database's folder: XGBModel.save's tar (booster + data)


def _cost_model(result, target):
    """meta-schedule's XGBoost cost model for this run: an earlier run's, loaded from beside the
    database when there is one, else a new one. One that does not load (another xgboost's
    format, a file cut short) is reported and replaced by a new one: the records and database,
    which hold the measurements, do not depend on it."""
    from tvm.s_tir import meta_schedule as ms

    model = ms.CostModel.create("xgb", num_tuning_cores=target.threads, tree_method="auto")
    path = result.database / COST_MODEL_FILE if result.database is not None else None
    if path is None or not path.exists():
        return model
    try:
        with warnings.catch_warnings():  # xgboost guessing model.bin's format (UBJSON, as saved)
            warnings.simplefilter("ignore", UserWarning)
            model.load(str(path))
    except Exception as e:  # noqa: BLE001 - any failure to load means: start without it
        print(f"lamina tune: meta-schedule's cost model {path} did not load ({type(e).__name__}: "
              f"{str(e).splitlines()[0] if str(e) else ''}); starting a new one", file=sys.stderr)
        return ms.CostModel.create("xgb", num_tuning_cores=target.threads, tree_method="auto")
    result.cost_model_resumed = int(model.data_size)
    return model


def build(mod, target, _params):
    """meta-schedule's builder's `default_build` (tvm/s_tir/meta_schedule/builder/local_builder.py)
    less its first line, `import tvm.s_tir.tensor_intrin`. That import registers every tensor
    intrinsic TVM has, CUDA's and ROCm's included: 15-30 s on this 2-core machine, in each build
    worker, and the builder starts fresh workers every round (for a memory leak), so it cost
    meta-schedule half its time here and made its first builds of a round hit the builder's 30 s
    timeout. A CPU kernel's build uses none of them (a tensorized block carries its intrinsic's
    body)."""
    from tvm.driver import build as tvm_build
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock

    return tvm_build(RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod), target=target)


def _until(deadline: float, result, start: float):
    """A function of a meta-schedule search strategy's name: that strategy, proposing nothing once
    `deadline` has passed (meta-schedule then ends the task: how the time budget is kept; its
    scheduler cannot be told to stop, and ending a task from a measure callback trips its check
    that the task it is about to give a round to is not ended)."""
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.search_strategy import PySearchStrategy, SearchStrategy

    @derived_object
    class Until(PySearchStrategy):
        def __init__(self, inner):
            self.inner = inner

        def _initialize_with_tune_context(self, context):
            self.inner._initialize_with_tune_context(context)

        def pre_tuning(self, max_trials, num_trials_per_iter, design_spaces, database=None, cost_model=None):
            self.inner.pre_tuning(max_trials, num_trials_per_iter, design_spaces, database, cost_model)

        def post_tuning(self):
            self.inner.post_tuning()

        def generate_measure_candidates(self):
            if time.perf_counter() < deadline:
                return self.inner.generate_measure_candidates()
            result.stopped = f"time budget of {deadline - start:g} s"
            return None

        def notify_runner_results(self, measure_candidates, results):
            self.inner.notify_runner_results(measure_candidates, results)

        def clone(self):
            return Until(self.inner.clone())

    return lambda name: Until(SearchStrategy.create(name))


def _round_callback(result, log, progress, start: float):
    """meta-schedule's measure callback after each round: counts the trials, keeps each task's
    best (its runner's time) and logs a line."""
    from tvm.s_tir.meta_schedule.measure_callback import PyMeasureCallback
    from tvm.ir.utils import derived_object

    @derived_object
    class Rounds(PyMeasureCallback):
        def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results):
            peer = result.tasks[task_id]
            for built, r in zip(builder_results, runner_results):
                if r.error_msg is None and r.run_secs:
                    peer.own_s = min(peer.own_s, sum(float(s) for s in r.run_secs) / len(r.run_secs))
                else:
                    peer.failure = _first_line(built.error_msg or r.error_msg or "no time")
            peer.trials += len(runner_results)
            result.trials += len(runner_results)
            now = time.perf_counter()
            estimate = sum(t.task.weight * min(t.own_s, t.default_s or math.inf) for t in result.tasks
                           if math.isfinite(min(t.own_s, t.default_s or math.inf)))
            if progress is not None:
                progress.advance(len(runner_results), note=f"{peer.task.name}: best {_time(peer.own_s)}, "
                                                           f"model {_time(estimate)}")
            if log is not None:
                log(f"tune (meta-schedule): {peer.task.short_key} ({peer.task.name}) {len(runner_results)} trials, "
                    f"best {_time(peer.own_s)}; {result.trials} trials, estimated {_time(estimate)} "
                    f"(its runner's times), {now - start:.1f} s")

    return Rounds()


def _finish(result, database, target, runner, writer, work: Path) -> None:
    """Step 3 of the module's docstring, for every task meta-schedule measured; its default is
    measured again right after its best (apply-best compares the two: times taken minutes apart
    on a busy 2-core machine differed by 2x here)."""
    from .runner import BuildFailed, InvalidCandidate, build_candidate

    for i, peer in enumerate(result.tasks):
        best = database.get_top_k(database.commit_workload(peer.task.module), 1)
        if not best:
            peer.error = "meta-schedule measured no schedule of it" + (
                f" (its last failure: {peer.failure})" if peer.failure else "")
            continue
        try:
            program = converted(best[0].trace, peer.task, target)
        except ValueError as e:
            peer.error = f"its best schedule does not convert: {e}"
            _write(writer, peer, target, {}, "", None, error=peer.error)
            continue
        text = _program_text(program)
        try:
            args = build_candidate(peer.task, program, target, work / f"best-{i}.so")
            m = runner.measure(work / f"best-{i}.so", args)
        except (InvalidCandidate, BuildFailed) as e:
            peer.error = f"its best schedule, converted, does not build: {e}"
            _write(writer, peer, target, program.knobs(), text, None, error=peer.error)
            continue
        if m.failed:
            peer.error = f"its best schedule, converted, failed to run: {m.error}"
        else:
            peer.best_s = m.median_s
        _write(writer, peer, target, program.knobs(), text, m)
        _measure_default(peer, target, runner, writer)


def _write(writer, peer, target, knobs, text, m, error=None) -> None:
    """meta-schedule's record of a task: measurement `m`, or, when None, a failure saying `error`."""
    if writer is not None:
        writer.write(Record.new(peer.task.key, target, knobs, text, failed=True, error=error, tuner=TUNER) if m is None
                     else Record.of(peer.task.key, target, knobs, text, m, tuner=TUNER))


def converted(trace, task, target):
    """`trace` (TVM's Trace) as a checked schedule-IR program for `task` on `target` that gives
    the very PrimFunc the trace gives; ValueError (with the reason) when it cannot be one."""
    import tvm_ffi
    from tvm import s_tir

    from lamina.compiler.parser import parse
    from lamina.lowering import tvm_adapter
    from lamina.lowering.build import lower_op, prepack_for
    from lamina.lowering.schedules import verify_schedule
    from lamina.lowering.te.common import compute_knobs

    from .from_trace import Unconvertible, program_from_trace

    with compute_knobs({}, target.family) as used:  # the compute's own knobs at their defaults: the task's compute
        lower_op(task.op, prepack_for(task.op))
    try:
        program = program_from_trace(plain(trace.as_json()), task.module, target, task.program.kernel, used)
        text = _program_text(program)
        program = parse(text, "<meta-schedule>").block.ops[0]
        program.detach()
        verify_schedule(program, target, tvm_adapter.kernel_info(task.module))
        mine = tvm_adapter.apply_schedule(task.module, program, target)
    except (Unconvertible, LaminaError) as e:
        raise ValueError(str(e).splitlines()[0]) from None
    reference = s_tir.Schedule(task.module)
    trace.apply_to_schedule(reference, remove_postproc=False)
    if not tvm_ffi.structural_equal(mine, reference.mod):
        raise ValueError("the converted program gives another PrimFunc than meta-schedule's trace")
    return program


def _first_line(text: str) -> str:
    """The line that says what went wrong in one of meta-schedule's error texts (the first that
    is not a traceback's frame)."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith(("Traceback", "File ", "^"))]
    return (useful[-1] if useful else lines[0] if lines else "?")[:200]


def plain(value):
    """A trace's JSON (`Trace.as_json()`: TVM's arrays, maps and immediates) as plain Python data."""
    from tvm import tirx

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, tirx.IntImm):
        return int(value.value)
    if isinstance(value, tirx.FloatImm):
        return float(value.value)
    if hasattr(value, "items"):
        return {plain(k): plain(v) for k, v in value.items()}
    return [plain(v) for v in value]
