"""`lamina tune --report`: what a records file says of a model, and whether the tuner's estimate
holds when the model runs.

The tuner ranks its work by an estimate: the model's time is the sum over its tasks of weight x
the task's kernel time, each kernel timed alone in the worker process. A real run adds what the
estimate leaves out: the executor's calls, the copies in and out, and a kernel's data no longer
in the cache because the kernel before it used the cache for its own. So the report puts the
estimate beside the measured end-to-end time of the model compiled with the records (and of the
model with the default schedules, timed in the same alternating blocks, so that the speed-up is
measured, not estimated).

Per task (as the table of `lamina tune`): its weight, the candidates the records hold, the
default schedule's time, the best time, the speed-up and its share of the estimated model time.
When the records hold another tuner's schedules too (`lamina tune --tuner meta-schedule`, timed by
the same runner), a second table puts each tuner's best per task side by side, with each tuner's
estimated model time: the comparison of the two tuners on the same tasks.
`--plot FILE.png` draws each task's best time so far against its trials (matplotlib, the `plot`
extra), the curve that says whether more trials would pay.
"""

from __future__ import annotations

import io
import math

import numpy as np

from .records import LAMINA, best_records, knob_key, read_records
from .tasks import extract_tasks
from .tuner import _columns, _kernels, _time

RUNS = 20     # timed calls per block
BLOCKS = 3    # blocks per side (default, tuned), alternating


class TaskSummary:
    """What the records hold of one task."""

    def __init__(self, task, records: list):
        self.task = task
        default = knob_key(task.program.knobs())
        is_default = lambda r: r.tuner == LAMINA and knob_key(r.knobs) == default  # noqa: E731

        def time_of(chosen) -> float | None:  # as apply-history-best counts it (confirmed: the median)
            best = best_records(chosen).get(task.key)
            return best.median_s if best is not None else None
        self.default_s = time_of([r for r in records if is_default(r)])
        self.best_s = time_of(records)
        self.best_by_tuner: dict[str, float] = {}  # each tuner's fastest (lamina's from the default on)
        for tuner in {r.tuner for r in records}:
            best = time_of([r for r in records if r.tuner == tuner])
            if best is not None:
                self.best_by_tuner[tuner] = best
        self.trials = sum(1 for r in records if not is_default(r) and not r.confirm)
        self.failed = sum(1 for r in records if r.failed)
        # the best time after each of lamina's candidates, in the order they were measured (the file's order)
        self.curve, best = [], math.inf
        for r in records:
            if is_default(r) or r.tuner != LAMINA or r.confirm:
                continue
            if not r.failed and r.median_s is not None:
                best = min(best, r.median_s)
            self.curve.append(min(best, self.default_s or math.inf))


def report(module, records, target="llvm", threads: int | None = None, plot=None, inputs=()) -> str:
    """The report of `records` (a path) for `module` (optimized, as `lamina compile` leaves it),
    as text; with `plot`, the best-so-far curves are written there as a PNG (never over one of
    `inputs`, the user's files)."""
    tasks, default_model = extract_tasks(module, target, threads)
    target = default_model.target
    kept = read_records(records, target, tasks)
    summaries = [TaskSummary(t, [r for r in kept if r.task == t.key]) for t in tasks]
    estimated = sum(s.task.weight * (s.best_s or s.default_s or 0.0) for s in summaries)
    estimated_default = sum(s.task.weight * (s.default_s or 0.0) for s in summaries)

    rows = [("task", "weight", "trials", "default", "best", "speed-up", "share", "kernels")]
    for s in summaries:
        best = s.best_s or s.default_s
        speed = f"{s.default_s / best:.2f}x" if best and s.default_s else "-"
        share = f"{100 * s.task.weight * best / estimated:.1f}%" if best and estimated else "-"
        trials = str(s.trials) + (f" ({s.failed} failed)" if s.failed else "")
        rows.append((s.task.short_key, str(s.task.weight), trials, _time(s.default_s), _time(best), speed,
                     share, _kernels(s.task)))
    text = _columns(rows)

    from lamina.runtime.executor import CompiledModel

    tuned = CompiledModel(module, target, records=records)
    default_s, tuned_s = _measure_models(default_model, tuned)
    text += (f"\nestimated model time (sum of weight x best): {_time(estimated)} (defaults: "
             f"{_time(estimated_default)}, {_ratio(estimated_default, estimated)})")
    text += (f"\nmeasured end to end: {_time(tuned_s)} with the records ({tuned.records_applied} of "
             f"{tuned.num_kernels} kernels from them), {_time(default_s)} with the defaults "
             f"({_ratio(default_s, tuned_s)}); measured / estimated: {tuned_s / estimated:.2f}"
             if estimated else "")
    tuners = sorted({t for s in summaries for t in s.best_by_tuner}, key=lambda t: (t != LAMINA, t))
    if set(tuners) - {LAMINA}:
        text += "\n\n" + tuner_table(summaries, tuners)
    if plot is not None:
        write_plot(summaries, plot, [records, *inputs])
        text += f"\nbest time so far against trials, per task: {plot}"
    return text


def tuner_table(summaries, tuners: list[str]) -> str:
    """Each tuner's best time per task side by side, and each one's estimated model time (a task
    it has no record of counted at its default)."""
    rows = [("task", "weight", *tuners, "kernels")]
    for s in summaries:
        rows.append((s.task.short_key, str(s.task.weight), *(_time(s.best_by_tuner.get(t)) for t in tuners),
                     _kernels(s.task)))
    estimates = {t: sum(s.task.weight * s.best_by_tuner.get(t, s.default_s or 0.0) for s in summaries)
                 for t in tuners}
    return ("best per tuner (its fastest record of the task; lamina's from the default on):\n" + _columns(rows)
            + "\nestimated model time per tuner (sum of weight x its best; a task it has no record of at its "
              "default): " + ", ".join(f"{t} {_time(e)}" for t, e in estimates.items()))


def _ratio(before: float, after: float) -> str:
    return f"{before / after:.2f}x faster" if after else "-"


def _inputs(model) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(tuple(p.type.shape)).astype(p.type.element_type.numpy_dtype)
            for p in model.params]


def _measure_models(default_model, tuned) -> tuple[float, float]:
    """Seconds per call of each model: the best of BLOCKS block medians, the two taking turns
    block by block (never call by call: on 2 cores that skews both)."""
    from lamina.runtime.benchmark import best_block, time_in_blocks

    inputs = _inputs(default_model)
    blocks = time_in_blocks({"default": lambda: default_model(*inputs), "tuned": lambda: tuned(*inputs)},
                            RUNS, 2, BLOCKS)
    return best_block(blocks["default"]), best_block(blocks["tuned"])


def write_plot(summaries, path, inputs=()) -> None:
    """Each task's best time so far (relative to its default) against its trials, as a PNG."""
    from lamina.compiler.errors import LaminaError
    from lamina.compiler.files import write_output

    try:
        import matplotlib
    except ImportError:
        raise LaminaError("--plot needs matplotlib", hint="pip install 'lamina[plot]' (or matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for s in summaries:
        if not s.curve or not s.default_s:
            continue
        ax.step(range(1, len(s.curve) + 1), [c / s.default_s for c in s.curve], where="post",
                label=f"{s.task.short_key} ({s.task.name}, x{s.task.weight})")
    ax.set_xlabel("trials of the task")
    ax.set_yscale("log")  # (a speed-up of 2 and one of 20 both readable)
    ax.set_ylabel("best time / default time")
    ax.set_title("best schedule so far, per task")
    ax.grid(True, alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=7)
    fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, format="png", dpi=100)
    plt.close(fig)
    write_output(path, image.getvalue(), inputs, what="the plot")  # (never over an input; atomically)
