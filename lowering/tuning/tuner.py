"""`lamina tune`: tune a model's tasks under one budget, every measurement kept as a record.

1. Extract the tasks (tasks.py) and read the records file: what an earlier run measured is
   known and is not measured again (resume), by task key and knob assignment.
2. First round: each task's default schedule is measured (its library from the kernel cache),
   unless a record of it exists. It is the baseline of the table and of the search.
3. Then, round after round, the task scheduler (scheduler.py) picks a task, the search
   (search.py: evolutionary with a cost model, or random) proposes a batch of new knob
   assignments, each is built here (runner.py: an invalid one is dropped and counted) and then
   measured in the worker process, one at a time, and each measurement is appended to the
   records at once and given to the search. Trials are the candidates measured after the
   defaults. The records of earlier runs train the search too.
4. It stops at `trials`, at `time_budget` seconds, or when every task's search has stopped.
   Ctrl-C stops it too (KeyboardInterrupt goes up; every record made is already on disk).
   The search has (1 - CONFIRM_SHARE) of a time budget; then, with what is left, each task's
   CONFIRM fastest candidates and its default are measured again, CONFIRM_ROUNDS times in turn
   (A B C D A B C D), recorded as `confirm`: the task's best is the one with the lowest median
   of these (records.py). The fastest of hundreds of measurements is likely a lucky one, and
   measuring the finalists in turn puts the machine's slow drifts on all of them alike.
5. The table's footer: throughput (candidates measured per minute), the time split into build,
   measure and search (proposing, the cost model's training included), and how well the cost
   model ranked each task's last round before it was measured (Spearman, mean over the tasks
   whose last ranked round had >= RANK_POINTS measured candidates).
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .cost_model import spearman
from .records import LAMINA, Record, RecordWriter, best_records, knob_key, read_records
from .runner import COLD, BuildFailed, InvalidCandidate, Runner, build_candidate
from .scheduler import Scheduler, TaskState
from .search import SEARCHES, make_search
from .space import task_space

BATCH = 8         # trials a task gets per round
EARLY_STOP = 24   # a task stops after this many trials without a 1% improvement
RANK_POINTS = 5   # measured candidates of a round for its rank correlation to count
CONFIRM = 3           # a task's fastest candidates measured again at the end (with its default)
CONFIRM_ROUNDS = 2    # turns of those measurements (lamina tune --confirm)
CONFIRM_SHARE = 0.1   # of a time budget kept for them


@dataclass
class TuneResult:
    states: list
    records: Path | None
    trials: int = 0
    seconds: float = 0.0
    build_seconds: float = 0.0
    measure_seconds: float = 0.0
    search_seconds: float = 0.0
    search: str = "evolutionary"
    cache: str = COLD  # how the runner timed the kernels (runner.py)
    rank: dict = field(default_factory=dict)  # task key -> the cost model's Spearman on its last ranked round
    stopped: str = ""
    log: list = field(default_factory=list)

    @property
    def estimated_s(self) -> float:
        """The model's estimated time: sum of weight x best time over its tasks."""
        return sum(s.task.weight * s.best_s for s in self.states if math.isfinite(s.best_s))

    @property
    def default_s(self) -> float:
        return sum(s.task.weight * s.default_s for s in self.states if s.default_s is not None)

    def table(self) -> str:
        total = self.estimated_s or 1.0
        rows = [("task", "weight", "trials", "default", "best", "speed-up", "share", "kernels")]
        for s in self.states:
            best = s.best_s if math.isfinite(s.best_s) else None
            speed = f"{s.default_s / best:.2f}x" if best and s.default_s else "-"
            share = f"{100 * s.task.weight * best / total:.1f}%" if best else "-"
            rows.append((s.task.short_key, str(s.task.weight), _trials_text(s), _time(s.default_s), _time(best),
                         speed, share, _kernels(s.task)))
        text = _columns(rows)
        text += (f"\nestimated model time (sum of weight x best): {_time(self.estimated_s)}"
                 f" (defaults: {_time(self.default_s)}); each kernel timed {self.cache}"
                 + (" (every call after a flush of the caches)" if self.cache == COLD else " (calls in a row)"))
        per_minute = 60 * self.trials / self.seconds if self.seconds else 0.0
        text += (f"\n{self.trials} trials in {self.seconds:.1f} s, {per_minute:.0f} per minute (build "
                 f"{self.build_seconds:.1f} s, measure {self.measure_seconds:.1f} s, "
                 f"search {self.search_seconds:.1f} s)"
                 + (f"; stopped: {self.stopped}" if self.stopped else ""))
        text += f"\nsearch: {self.search}"
        if self.rank:
            mean = sum(self.rank.values()) / len(self.rank)
            text += (f"; cost model's rank correlation with the measured times of the last round (Spearman): "
                     f"{mean:.2f}, mean over {len(self.rank)} task{'s' * (len(self.rank) != 1)}")
        elif self.search == "evolutionary":
            text += f"; no round ranked by the cost model had {RANK_POINTS} measured candidates"
        return text


def _trials_text(s) -> str:
    text = str(s.trials + s.earlier)
    extra = [f"{n} {what}" for n, what in ((s.failed, "failed"), (s.invalid, "invalid")) if n]
    return text + (f" ({', '.join(extra)})" if extra else "")


def _time(seconds) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    return f"{seconds * 1e3:.3f} ms" if seconds >= 1e-4 else f"{seconds * 1e6:.2f} us"


def _kernels(task) -> str:
    names = task.kernels[:2]
    return ", ".join(names) + (f", +{len(task.kernels) - 2} more" if len(task.kernels) > 2 else "")


def _columns(rows) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1] for r in rows)


def _program_text(program) -> str:
    from lamina.compiler.printer import print_ir

    return print_ir(program, print_locations=False)


def _log(line: str) -> None:
    import sys

    print(line, file=sys.stderr, flush=True)


def tune(module, target="llvm", trials: int = 64, time_budget: float | None = None, records=None,
         scheduler: str = "gradient", threads: int | None = None, seed: int = 0, batch: int = BATCH,
         early_stop: int = EARLY_STOP, timeout: float | None = None, log=_log, fault=None,
         search: str = "evolutionary", rpc: str | None = None, tracker: str | None = None,
         device_key: str | None = None, progress=None, confirm_rounds: int = CONFIRM_ROUNDS,
         cache: str = COLD) -> TuneResult:
    """Tune the tasks of `module` (optimized, as `lamina compile` leaves it) for `target`; append
    each measurement to `records` (a path; None: keep none). `search`: "evolutionary" (with the
    cost model) or "random". `rpc` ("host:port"), or `tracker` ("host:port") and `device_key`:
    measure on that RPC server instead of in a local worker (rpc.py). `fault` (tests) is passed to
    the local Runner. `log` gets a plain line per round; `progress` (a compiler.progress.Progress
    over `trials`, what `lamina tune` passes on a terminal) is advanced by each round's trials
    instead. `confirm_rounds`: turns of the measurements again of each task's fastest candidates
    at the end (0: none; the module's docstring). `cache`: the local runner times each call
    "cold" (after a flush of the caches, as the model run leaves them) or "warm" (runner.py); an
    RPC device's times are warm. Returns the TuneResult (`.table()`)."""
    from .tasks import extract_tasks

    if search not in SEARCHES:
        from lamina.compiler.errors import LaminaError

        raise LaminaError(f"unknown search '{search}'", hint=f"use one of: {', '.join(SEARCHES)}")
    start = time.perf_counter()
    tasks, model = extract_tasks(module, target, threads)
    target = model.target
    runner = _runner(target, rpc, tracker, device_key, timeout, fault, cache)
    writer = RecordWriter(records) if records is not None else None
    earlier = read_records(records, target, tasks, cache=runner.cache) if records is not None else []
    states = _states(tasks, target, earlier, seed, search)
    result = TuneResult(states, Path(records) if records is not None else None, search=search, cache=runner.cache)
    picker = Scheduler(scheduler)

    def out_of_time(share: float = 1.0) -> bool:
        return time_budget is not None and time.perf_counter() - start >= time_budget * share

    def searching_out_of_time() -> bool:
        return out_of_time(1 - CONFIRM_SHARE)

    written: list[Record] = []  # this run's records (the confirm step decides over them and earlier ones)

    def record(state, knobs, program, m, confirm=False):
        r = Record.of(state.task.key, target, knobs, _program_text(program), m, confirm=confirm)
        written.append(r)
        if writer is not None:
            writer.write(r)

    try:
        with tempfile.TemporaryDirectory(prefix="lamina-tune-") as tmp:
            for state in states:  # round 0: the defaults
                if state.default_recorded or out_of_time():
                    continue
                knobs = state.task.program.knobs()
                m = runner.measure(state.task.library, state.task.args)
                record(state, knobs, state.task.program, m)
                state.default_s = None if m.failed else m.median_s
                state.observe(state.default_s, knobs)
                state.search.observe(knobs, state.default_s)
                state.history, state.stale = [state.best_s], 0
            _say(log, result, "defaults measured", start)
            rounds = 0
            while result.trials < trials:
                if searching_out_of_time():
                    result.stopped = f"time budget of {time_budget:g} s"
                    break
                state = picker.next(states)
                if state is None:
                    result.stopped = "every task's search stopped"
                    break
                rounds += 1
                n = min(batch, trials - result.trials)
                built = _build_batch(state, target, n, Path(tmp), result, searching_out_of_time)
                ranked = []  # (predicted, measured) of this round's candidates the model ranked
                for knobs, program, library, args in built:  # measured after the builds, one at a time
                    if library is None:  # TVM refused it: a failed record, nothing to run
                        m = args
                    else:
                        m = runner.measure(library, args)
                        library.unlink(missing_ok=True)
                    record(state, knobs, program, m)
                    state.trials += 1
                    result.trials += 1
                    state.failed += m.failed
                    state.observe(None if m.failed else m.median_s, knobs)
                    state.search.observe(knobs, None if m.failed else m.median_s)
                    predicted = state.search.predicted.get(knob_key(knobs))
                    if predicted is not None and not m.failed:
                        ranked.append((predicted, m.median_s))
                if len(ranked) >= RANK_POINTS:
                    rho = spearman(*zip(*ranked))
                    if math.isfinite(rho):
                        result.rank[state.task.key] = rho
                if not built and not state.done:
                    state.done = "its space is used up"
                elif state.stale >= early_stop and not state.done:
                    state.done = f"no 1% improvement in {early_stop} trials"
                if progress is not None:
                    progress.advance(len(built), note=f"{state.task.name}: best {_time(state.best_s)}, "
                                                      f"model {_time(result.estimated_s)}")
                _say(log, result, f"round {rounds}: {state.task.short_key} ({state.task.name}) "
                     f"{len(built)} trials, best {_time(state.best_s)}", start)
            else:
                result.stopped = result.stopped or f"{trials} trials"
            if confirm_rounds:
                for state in states:
                    if out_of_time():
                        break
                    _confirm(state, target, runner, Path(tmp), record, out_of_time, result, confirm_rounds)
                    _as_applied(state, [*earlier, *written])
                _say(log, result, "fastest candidates measured again", start)
    finally:
        runner.close()
        if progress is not None:
            progress.close()
        result.seconds = time.perf_counter() - start
        result.measure_seconds = runner.seconds
    return result


def _confirm(state, target, runner, tmp: Path, record, out_of_time, result, rounds: int) -> None:
    """Measure the task's CONFIRM fastest candidates and its default again, `rounds` times in
    turn (records: `confirm`); `_as_applied` then takes the best from the records."""
    default = state.task.program.knobs()
    ranked = sorted(state.measured.values(), key=lambda m: m[0])[:CONFIRM]
    finalists = [knobs for _, knobs in ranked]
    if knob_key(default) not in {knob_key(k) for k in finalists}:
        finalists.append(default)
    if len(finalists) < 2:
        return
    built = []
    for i, knobs in enumerate(finalists):
        library = tmp / f"{state.task.short_key}-confirm-{i}.so"
        begin = time.perf_counter()
        try:
            program = state.space.candidate(knobs)
            built.append((knobs, program, library, build_candidate(state.task, program, target, library)))
        except (InvalidCandidate, BuildFailed):
            continue  # (it built before; a candidate that no longer does is not a finalist)
        finally:
            result.build_seconds += time.perf_counter() - begin
    times: dict = {knob_key(knobs): [] for knobs, *_ in built}
    for _ in range(rounds):
        for knobs, program, library, args in built:
            if out_of_time():
                break
            m = runner.measure(library, args)
            record(state, knobs, program, m, confirm=True)
            if not m.failed:
                times[knob_key(knobs)].append(m.median_s)
    scored = [(statistics.median_low(times[knob_key(k)]), k) for k, *_ in built if times[knob_key(k)]]
    if len(scored) == len(built):  # every finalist measured again: the default's time is its median
        state.default_s = next(t for t, k in scored if knob_key(k) == knob_key(default))
    for *_, library, _ in built:
        library.unlink(missing_ok=True)


def _as_applied(state, records: list) -> None:
    """The task's best as apply-history-best will pick it from the records (earlier runs' and
    this one's, lamina's tuner only): a candidate confirmed in several runs is judged by the
    median of all its confirming measurements, so the run's table names what a compile with the
    records will build."""
    mine = [r for r in records if r.task == state.task.key and r.tuner == LAMINA]
    if not any(r.confirm and not r.failed for r in mine):  # (as best_records counts them)
        return
    chosen = best_records(mine).get(state.task.key)
    if chosen is not None:
        state.best_s, state.best_knobs, state.confirmed = chosen.median_s, dict(chosen.knobs), True


def _states(tasks, target, earlier: list, seed: int, search: str = "evolutionary") -> list[TaskState]:
    """A TaskState per task, with what lamina's records of earlier runs know of it (its search
    trained on them; another tuner's records, meta-schedule's, are programs outside this space)."""
    states = []
    for i, task in enumerate(tasks):
        space = task_space(task, target)
        state = TaskState(task, space, make_search(search, space, seed + i))
        default_key = knob_key(task.program.knobs())
        state.seen.add(default_key)
        for r in earlier:
            if r.task != task.key or r.tuner != LAMINA or r.confirm:  # (confirm: a known candidate again)
                continue
            state.search.observe(r.knobs, None if r.failed else r.median_s)
            if not r.failed and r.median_s is not None:
                state.note_measured(r.median_s, r.knobs)
            key = knob_key(r.knobs)
            if key == default_key:
                state.default_recorded = True
                if not r.failed and r.median_s is not None:
                    state.default_s = min(state.default_s or math.inf, r.median_s)
            else:
                state.earlier += 1
                state.seen.add(key)
        chosen = best_records(r for r in earlier if r.task == task.key and r.tuner == LAMINA).get(task.key)
        if chosen is not None:  # as apply-history-best picks it (a confirmed candidate by its median)
            state.best_s, state.best_knobs = chosen.median_s, dict(chosen.knobs)
        if state.default_recorded:
            state.history = [state.best_s]
        if not space.knobs:
            state.done = "no knobs to search"
        states.append(state)
    return states


def _build_batch(state, target, n: int, tmp: Path, result, out_of_time) -> list:
    """Up to `n` candidates of `state`'s task, built: (knobs, program, library, args), or for one
    TVM refused (knobs, program, None, its failed Measurement). Invalid ones are counted, not
    returned; proposals continue past them until `n` are built or the space is used up."""
    from .runner import Measurement

    out = []
    while len(out) < n and not out_of_time():
        begin = time.perf_counter()
        proposals = state.search.propose(n - len(out), state.seen)
        result.search_seconds += time.perf_counter() - begin
        if not proposals:
            break
        for knobs in proposals:
            library = tmp / f"{state.task.short_key}-{len(out)}-{time.monotonic_ns()}.so"
            begin = time.perf_counter()
            try:
                program = state.space.candidate(knobs)
                args = build_candidate(state.task, program, target, library)
                out.append((knobs, program, library, args))
            except InvalidCandidate:
                state.invalid += 1
            except BuildFailed as e:
                out.append((knobs, program, None, Measurement(None, None, True, f"build failed: {e}")))
            finally:
                result.build_seconds += time.perf_counter() - begin
    return out


def _say(log, result, what: str, start: float) -> None:
    if log is None:
        return
    live = sum(1 for s in result.states if not s.done)
    log(f"tune: {what}; {result.trials} trials, {live} of {len(result.states)} tasks searching, "
        f"estimated {_time(result.estimated_s)}, {time.perf_counter() - start:.1f} s")


def _runner(target, rpc, tracker, device_key, timeout, fault=None, cache: str = COLD):
    """Where candidates are measured: a local worker process, timing `cache` ("cold" or "warm"),
    or an RPC server (rpc.py, warm)."""
    if rpc or tracker or device_key:
        from .rpc import runner_from_args

        return runner_from_args(rpc, tracker, device_key, target.threads, timeout)
    return Runner(target.threads, fault=fault, cache=cache, **({"timeout": timeout} if timeout else {}))


def list_tasks(module, target="llvm", threads: int | None = None, records=None, rpc: str | None = None,
               tracker: str | None = None, device_key: str | None = None, cache: str = COLD) -> str:
    """`lamina tune --list-tasks`: the tasks with their default schedule measured (in the
    worker process, as tuning measures them), as a table."""
    from .tasks import extract_tasks

    tasks, model = extract_tasks(module, target, threads)
    times = []
    with _runner(model.target, rpc, tracker, device_key, None, cache=cache) as runner:
        for task in tasks:
            m = runner.measure(task.library, task.args)
            times.append(None if m.failed else m.median_s)
    total = sum(t.weight * s for t, s in zip(tasks, times) if s is not None) or 1.0
    rows = [("task", "weight", "MFLOP", "default", "share", "generator", "kernels")]
    for task, s in zip(tasks, times):
        flops = f"{task.flops / 1e6:.2f}" if task.flops is not None else "?"
        share = f"{100 * task.weight * s / total:.1f}%" if s is not None else "-"
        rows.append((task.short_key, str(task.weight), flops, _time(s), share, task.generator, _kernels(task)))
    return (_columns(rows) + f"\n{len(tasks)} tasks for {model.num_kernels} kernels, target {model.target.name} "
            f"({model.target.threads} threads); model time of the defaults (sum of weight x time): {_time(total)}")
