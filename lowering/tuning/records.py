"""Tuning records: one JSON line per measurement, appended, never rewritten.

    {"task": "3f9a...", "target": {"name": "llvm", "threads": 2, "tvm": {...}},
     "knobs": {"nv": 32, "nj": 2}, "schedule": "sched.schedule @... {...}",
     "median_s": 1.2e-05, "spread_s": 3e-07, "failed": false, "error": null,
     "timestamp": "2025-...Z", "lamina": "0.1.0", "tvm": "0.27.0", "sched_format": 1,
     "tuner": "lamina", "confirm": false, "cache": "cold"}

Why JSON lines, appended: a tuning run can be stopped at any moment (Ctrl-C, a crash, a budget),
and every measurement made until then must survive. One `write` + `flush` per line means the
worst a stop can do is leave the LAST line cut short; reading drops that line (with a note), and
the next append starts on a fresh line. Nothing is ever rewritten, so `-o`'s never-overwrite rule
does not apply.

Why each record names its target, TVM version and schedule-IR format: a time measured for
another CPU, thread count or TVM build says nothing here, and a schedule text of another format
may not parse. Reading keeps only the records that match, and says in ONE line how many it left
out and why (a file of thousands of records must not print thousands of warnings).

`tuner` says who found the schedule: "lamina" (lowering/tuning/tuner.py, and every default), or
"meta-schedule" (TVM's, converted into schedule IR by meta_schedule.py and timed by the same
runner, so the two tuners' times compare). A line without it is lamina's (records written before
the peer existed).

`cache` says how the runner timed it (runner.py): "cold", each call after a flush of the caches
(the local runner's default), or "warm", calls in a row (a line without it: records written
before the cold runner, and RPC devices'). The two do not compare: warm times are lower (MobileNetV2's
kernels summed to 2.85 ms warm, 3.46 ms cold). A run reads back only the records of its own kind (resuming with the
other kind measures each candidate again), and apply-history-best decides each task among the
records of the kind of its last record.

`confirm` marks a measurement of the run's end, when the tuner measures each task's fastest few
candidates again, in turns (tuner.py): one measurement among hundreds can be lucky by 10-20% on a
busy machine, and the fastest of hundreds is likely to be such a one. A line without it is not.

`best_programs` is "apply-history-best": for each task, the fastest candidate (a schedule of a
tuner) whose records did not fail, whichever tuner made it. Where lamina's tuner measured a
task's finalists again, its candidate is the finalist with the lowest median of those confirming
measurements (a candidate left out of the finals does not come back on one lucky measurement);
any other candidate counts by its fastest record.
"""

from __future__ import annotations

import datetime
import json
import os
import statistics
import sys
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .runner import COLD, WARM
from .tasks import identity_text, target_identity

SCHED_FORMAT = 1  # the schedule IR's text format the records' programs are written in
LAMINA = "lamina"  # the `tuner` of lamina's own records (and of the defaults)

FIELDS = ("task", "target", "knobs", "schedule", "median_s", "spread_s", "failed", "error", "timestamp",
          "lamina", "tvm", "sched_format")


def knob_key(knobs: dict) -> str:
    """A knob assignment as canonical text: what identifies a candidate within its task."""
    return json.dumps({k: int(v) for k, v in sorted(knobs.items())}, separators=(",", ":"))


def _versions() -> tuple[str, str]:
    import lamina
    from lamina.lowering import tvm_adapter

    return lamina.__version__, str(tvm_adapter.VERSION)


@dataclass
class Record:
    task: str
    target: dict
    knobs: dict
    schedule: str
    median_s: float | None
    spread_s: float | None
    failed: bool = False
    error: str | None = None
    timestamp: str = ""
    lamina: str = ""
    tvm: str = ""
    sched_format: int = SCHED_FORMAT
    tuner: str = LAMINA
    confirm: bool = False  # a measurement of the end of a run, of one of the fastest candidates
    cache: str = WARM  # how the runner timed it: "cold" or "warm" (the module's docstring)
    line: int = field(default=0, compare=False)  # where it was read from (not written)

    @classmethod
    def new(cls, task: str, target, knobs: dict, schedule: str, median_s=None, spread_s=None,
            failed: bool = False, error: str | None = None, tuner: str = LAMINA,
            confirm: bool = False, cache: str = WARM) -> "Record":
        """A record of a measurement made now, for `target` (a lowering.targets.Target)."""
        lamina_version, tvm_version = _versions()
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return cls(task, target_identity(target), {k: int(v) for k, v in knobs.items()}, schedule,
                   median_s, spread_s, failed, error, stamp, lamina_version, tvm_version, SCHED_FORMAT, tuner,
                   confirm, cache)

    @classmethod
    def of(cls, task: str, target, knobs: dict, schedule: str, m, tuner: str = LAMINA,
           confirm: bool = False) -> "Record":
        """A record of the runner's measurement `m` (runner.py `Measurement`), made now."""
        return cls.new(task, target, knobs, schedule, m.median_s, m.spread_s, m.failed, m.error, tuner, confirm,
                       m.cache)

    def to_line(self) -> str:
        data = asdict(self)
        data.pop("line")
        return json.dumps(data, separators=(",", ":")) + "\n"


def append(path, record: Record) -> None:
    """Append one record to `path` (made if missing) with one write and a flush. If the file
    ends in the middle of a line (a run stopped mid-write), the record starts on a new line."""
    path = Path(path)
    with open(path, "a+b") as f:
        end = f.seek(0, os.SEEK_END)
        prefix = b""
        if end:
            f.seek(end - 1)
            if f.read(1) != b"\n":
                prefix = b"\n"
        f.write(prefix + record.to_line().encode("utf-8"))
        f.flush()


class RecordWriter:
    """Appends records to one file (`append` per record: the file stays whole between lines)."""

    def __init__(self, path):
        self.path = Path(path)
        self.written = 0

    def write(self, record: Record) -> None:
        append(self.path, record)
        self.written += 1


def _warn(line: str) -> None:
    print(line, file=sys.stderr)


def read_records(path, target=None, tasks=None, warn=_warn, cache: str | None = None) -> list[Record]:
    """The records of `path` that apply here: of `target` (a lowering.targets.Target; None: any),
    this TVM version and schedule-IR format, one of `tasks` (keys or Task objects; None: any), and
    timed with `cache` ("cold" or "warm"; None: either). A missing file has none. A line that is
    not a record is skipped with a warning naming its line; a cut-off last line (a run stopped mid-write) is dropped with a note; the records that
    do not apply are counted in ONE warning line."""
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    lines = data.split(b"\n")
    truncated_last = not data.endswith(b"\n") and bool(lines[-1].strip())
    want_target = identity_text(target_identity(target)) if target is not None else None
    keys = None if tasks is None else {getattr(t, "key", t) for t in tasks}
    _, tvm_version = _versions()
    kept, ignored = [], Counter()
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        record, why = _parse_line(raw)
        if record is None:
            if number == len(lines) and truncated_last:
                warn(f"note: {path}:{number}: dropped the cut-off last line (a run stopped while writing it)")
            else:
                warn(f"warning: {path}:{number}: skipped a corrupt record ({why})")
            continue
        record.line = number
        if record.sched_format != SCHED_FORMAT:
            ignored["of another schedule-IR format"] += 1
        elif record.tvm != tvm_version:
            ignored["of another TVM version"] += 1
        elif want_target is not None and identity_text(record.target) != want_target:
            ignored["for another target"] += 1
        elif keys is not None and record.task not in keys:
            ignored["of tasks this model does not have"] += 1
        elif cache is not None and record.cache != cache:
            ignored[f"timed {record.cache}"] += 1
        else:
            kept.append(record)
    if ignored:
        total = sum(ignored.values())
        reasons = ", ".join(f"{n} {why}" for why, n in ignored.most_common())
        warn(f"warning: {path}: ignored {total} of {total + len(kept)} records: {reasons}")
    return kept


def _parse_line(raw: bytes):
    """(Record, None), or (None, why the line is not one)."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        return None, f"not JSON: {e.msg if hasattr(e, 'msg') else e}"
    if not isinstance(data, dict):
        return None, "not a JSON object"
    missing = [f for f in FIELDS if f not in data]
    if missing:
        return None, f"missing {', '.join(missing)}"
    tuner, confirm, cache = data.get("tuner", LAMINA), data.get("confirm", False), data.get("cache", WARM)
    if not isinstance(data["knobs"], dict) or not isinstance(data["target"], dict) \
            or not isinstance(data["schedule"], str) or not isinstance(tuner, str) or not isinstance(confirm, bool) \
            or cache not in (COLD, WARM):
        return None, "a field of the wrong kind"
    try:
        return Record(**{f: data[f] for f in FIELDS}, tuner=tuner, confirm=confirm, cache=cache), None
    except TypeError as e:
        return None, str(e)


def best_records(records) -> dict:
    """Task key -> the record of its fastest candidate that did not fail. A task whose fastest
    candidates were measured again (`confirm` records) is decided among those, each by the
    median of its confirming records (the record returned is the lower middle one), and among
    other tuners' candidates, which lamina's runs do not measure again; a task without them by
    the fastest record of each candidate. Only the records timed as the task's last record was
    (`cache`) count."""
    records = list(records)
    kind = {r.task: r.cache for r in records}  # each task's last record's: cold and warm do not compare
    fastest: dict = {}
    confirmed: dict = defaultdict(list)
    for r in records:
        if r.failed or r.median_s is None or r.cache != kind[r.task]:
            continue
        candidate = (r.task, r.tuner, r.schedule)
        if r.confirm:
            confirmed[candidate].append(r)
        elif candidate not in fastest or r.median_s < fastest[candidate].median_s:
            fastest[candidate] = r
    decided = {(task, tuner) for task, tuner, _ in confirmed}
    for candidate in [c for c in fastest if (c[0], c[1]) in decided]:
        del fastest[candidate]  # the run measured its finalists again: the others are out
    for candidate, measured in confirmed.items():
        middle = statistics.median_low([r.median_s for r in measured])
        fastest[candidate] = next(r for r in measured if r.median_s == middle)
    best: dict = {}
    for r in fastest.values():
        if r.task not in best or r.median_s < best[r.task].median_s:
            best[r.task] = r
    return best


def parse_program(record: Record, path=""):
    """The sched.schedule program of a record."""
    from lamina.compiler.parser import parse
    from lamina.dialects.sched import ScheduleOp

    module = parse(record.schedule, f"{path}:{record.line}" if path else "<record>")
    found = [op for op in module.block if isinstance(op, ScheduleOp)]
    if len(found) != 1:
        raise ValueError("the record's schedule holds no single sched.schedule op")
    program = found[0]
    program.detach()
    return program


def best_programs(path, target, tasks, warn=_warn) -> dict:
    """Apply-history-best: task key -> the parsed program of the fastest non-failed record of
    that task in `path` (records of another target, TVM, format or task are ignored, see
    `read_records`). A record whose schedule does not parse is skipped with a warning."""
    from lamina.compiler.errors import LaminaError

    out = {}
    for key, record in best_records(read_records(path, target, tasks, warn)).items():
        try:
            out[key] = parse_program(record, path)
        except (LaminaError, ValueError) as e:
            warn(f"warning: {path}:{record.line}: the best record of task {key[:8]} has a schedule that "
                 f"does not parse ({str(e).splitlines()[0]}); that task keeps its default")
    return out
