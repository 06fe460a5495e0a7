"""Tuning: search each kernel's schedule knobs, measure, keep the records, compile with the best.

The workflow of TVM's old auto_scheduler and tvmc, on lamina's own schedule IR:

    tasks.py      the model's distinct kernels (tasks), keyed by their unscheduled compute and
                  the target, each weighted by how many kernels share it
    space.py      a task's search space: its default schedule program's knobs and their values
    search.py     evolutionary search ranked by the cost model (default), random search as the
                  baseline (no candidate twice)
    cost_model.py gradient-boosted trees in numpy: a candidate's time from its knob values
    runner.py     build a candidate here, measure it in a worker process with a timeout
    rpc.py        ... or on another machine, over TVM's RPC (a server, or a tracker and a key)
    scheduler.py  which task gets the next trials (Ansor's gradient, or round-robin)
    records.py    one JSON line per measurement, append-only; apply-history-best
    tuner.py      `lamina tune`: the loop over rounds, the tables
    report.py     `lamina tune --report`: the records per task, estimated against measured time
    meta_schedule.py  `--tuner meta-schedule`: TVM's tuner on the same tasks, a peer, its best
                  schedules measured by runner.py and kept in the same records
    from_trace.py TVM's schedule traces (meta-schedule's schedules) as schedule-IR programs

`lamina compile|run MODEL --records FILE` (runtime/executor.py `CompiledModel(records=...)`)
builds each kernel whose task has a record with the best one.
"""

from __future__ import annotations


def programs_from_records(kernels: dict, target, path, warn=None) -> dict:
    """Kernel name -> the best recorded program for it (its name set to the kernel's), for the
    kernels (name -> op) whose task has a record in `path` for `target`."""
    from lamina.compiler.attributes import StringAttr

    from .records import _warn, best_programs
    from .tasks import op_task_key

    keys = {name: op_task_key(op, target) for name, op in kernels.items()}
    best = best_programs(path, target, {k for k in keys.values() if k}, warn or _warn)
    out = {}
    for name, key in keys.items():
        if key in best:
            program = best[key].clone()
            program.sym_name = StringAttr(name)
            out[name] = program
    return out
