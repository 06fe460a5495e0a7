"""Build a candidate here, measure it in another process.

Why another process: a candidate schedule is code no one has run. TVM may accept a schedule
whose kernel then crashes (a bad load), hangs, or takes minutes; in the tuning process any of
those ends the run. So a worker process (`python -m lamina.lowering.tuning.runner`, started once
and reused: importing TVM takes a second) loads each built library, makes random inputs of the
kernel's argument shapes, and times it; the tuner waits for its answer with a timeout. A worker
that dies or does not answer in time is killed and the candidate recorded as failed, with why;
the next measurement starts a fresh worker.

Why build here and not in the worker: building needs lamina's IR (the op, the program); the
worker needs only a library path and argument shapes. Builds and measurements never overlap:
the tuner builds a batch, then measures it one candidate at a time, since on a 2-core machine a
build running beside a measurement would skew it.

How a kernel is timed (in the worker): one warm-up call; a trial call sets `number`, the calls
per block, so that a block lasts about BLOCK_SECONDS; one block to warm up (caches, clocks), and
before a worker's first measurement, FIRST_WARMUP_SECONDS of calls (a fresh process's thread pool
and the cores' clocks: without it the first task's default schedule measured 1.3-1.6x its time
measured later, and every later candidate of that task looked that much better); then
REPEAT blocks, each timed by TVM's time_evaluator (C++ timing, no Python per call). The time is
the median block's time per call, the spread the median absolute deviation of the blocks: both
robust to one block hit by a stray process.

Cold or warm (`cache`): a kernel called again and again finds its inputs and weights in its
core's L2, where in the model they are not: the kernel before it has just written other data
(its own output, most of it still in L2, is the one exception), and the weights were last read
a whole model run ago. Timed warm, MobileNetV2's kernels summed to 2.85 ms against 3.72 ms in
the model, each off its in-model time by 38% on average (|log| of the ratio 0.32), and the
schedules a warm tuning run chose ran no faster in the model than the defaults (3.79 against
3.77 ms, though the warm estimate said 3.49 -> 3.23 ms). So by default ("cold") every timed call
follows a write of COLD_FLUSH_BYTES (TVM's time_evaluator `cache_flush_bytes`: twice this
machine's L2s together), which evicts the kernel's data to L3 as the model run does: the same
kernels then summed to 3.46 ms, each off its in-model time by 14% on average. A cold block is
at most COLD_CALLS calls, each after its flush.

The protocol: one JSON object per line on the worker's stdin and on a private copy of its
stdout (its own stdout goes to stderr, so a library printing something cannot corrupt it).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

BLOCK_SECONDS = 0.01
COLD = "cold"  # `cache`: each timed call after a flush of COLD_FLUSH_BYTES (the default)
WARM = "warm"  # `cache`: calls in a row, the kernel's data left in cache by the call before
COLD_FLUSH_BYTES = 8 << 20
COLD_CALLS = 10
FIRST_WARMUP_SECONDS = 0.3
REPEAT = 5
TIMEOUT = 10.0        # seconds a measurement may take
START_TIMEOUT = 120.0  # seconds the worker may take to start (it imports TVM)
TIMED_OUT = object()   # what `Runner._answer` returns when the worker did not answer in time


@dataclass
class Measurement:
    median_s: float | None
    spread_s: float | None
    failed: bool = False
    error: str | None = None
    cache: str = WARM  # how it was timed: COLD or WARM (the module's docstring)


class InvalidCandidate(Exception):
    """A candidate the compute or the schedule verifier refuses: dropped, never measured."""


class BuildFailed(Exception):
    """A verified candidate that TVM refused to apply or build: a failed record."""


def build_candidate(task, program, target, path: Path) -> list:
    """Build `program` (a sched.schedule, candidate of `task`) for `target` into the shared
    library `path`, outside the kernel cache. Returns the kernel's argument specs. Raises
    InvalidCandidate (the compute or the verifier refuses it) or BuildFailed (TVM does)."""
    from lamina.compiler.errors import LaminaError
    from lamina.lowering import tvm_adapter
    from lamina.lowering.build import lower_op, prepack_for
    from lamina.lowering.schedules import ScheduleError, verify_schedule
    from lamina.lowering.te import LoweringError
    from lamina.lowering.te.common import compute_knobs

    from .tasks import arg_specs

    try:
        with compute_knobs(program.knobs(), target.family):  # packing knobs shape the compute
            prepacks = prepack_for(task.op)
            module = lower_op(task.op, prepacks)
        verify_schedule(program, target, tvm_adapter.kernel_info(module))
    except (LaminaError, LoweringError) as e:
        raise InvalidCandidate(_first_line(e)) from None
    try:
        scheduled = tvm_adapter.apply_schedule(module, program, target)
        executable = tvm_adapter.compile_module(scheduled, target.tvm_target())
        tvm_adapter.export(executable, str(path))
    except ScheduleError as e:
        raise BuildFailed(_first_line(e)) from None
    except Exception as e:  # TVM's own error types
        raise BuildFailed(f"{type(e).__name__}: {_first_line(e)}") from None
    return arg_specs(task.op, prepacks)


def _first_line(e) -> str:
    text = getattr(e, "message", None) or str(e)
    return (text.strip().splitlines() or [type(e).__name__])[0][:300]


class Runner:
    """Measures built kernel libraries in a worker process (see the module's docstring).
    `fault` (tests): a function of the request that may return "crash", "hang" or "error"."""

    def __init__(self, threads: int, timeout: float = TIMEOUT, fault=None, cache: str = COLD):
        if cache not in (COLD, WARM):
            raise ValueError(f"cache must be {COLD!r} or {WARM!r}, not {cache!r}")
        self.threads = int(threads)
        self.timeout = timeout
        self.fault = fault
        self.cache = cache
        self._proc = None
        self._answers: queue.Queue | None = None
        self._stderr: collections.deque = collections.deque(maxlen=20)
        self.seconds = 0.0  # time spent measuring (waiting for the worker)

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        env = dict(os.environ, TVM_NUM_THREADS=str(self.threads))
        self._proc = subprocess.Popen([sys.executable, "-m", "lamina.lowering.tuning.runner"], env=env,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, bufsize=1)
        self._answers = queue.Queue()
        self._stderr.clear()
        threading.Thread(target=_pump_answers, args=(self._proc.stdout, self._answers), daemon=True).start()
        threading.Thread(target=_pump_text, args=(self._proc.stderr, self._stderr), daemon=True).start()
        ready = self._answer(START_TIMEOUT)
        if not isinstance(ready, dict) or not ready.get("ready"):
            why = "no answer" if ready is TIMED_OUT else self._death()
            self._stop()
            raise RuntimeError(f"the measuring process did not start: {why}")

    def _answer(self, timeout: float):
        """The worker's next answer; None if it died (its stdout ended), TIMED_OUT if it did
        not answer in time."""
        try:
            return self._answers.get(timeout=timeout)
        except queue.Empty:
            return TIMED_OUT

    def _death(self) -> str:
        """Why the worker died: its exit (a signal's name) and its last words on stderr."""
        try:
            code = self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "its output ended"
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
        time.sleep(0.05)  # let the stderr pump catch the last line
        last = next((ln.strip() for ln in reversed(self._stderr) if ln.strip()), "")
        return how + (f": {last[:200]}" if last else "")

    def _stop(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
                try:
                    stream.close()
                except OSError:
                    pass
        self._proc = None

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            try:
                self._proc.stdin.write("null\n")
                self._proc.stdin.flush()
                self._proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._stop()

    def measure(self, library, args) -> Measurement:
        """Time the kernel in `library` (a shared library) called with random arrays of `args`
        ([(shape, dtype)]: inputs, then outputs)."""
        request = {"library": str(library), "args": [[list(s), str(d)] for s, d in args],
                   "flush_bytes": COLD_FLUSH_BYTES if self.cache == COLD else 0}
        if self.fault is not None:
            request["fault"] = self.fault(request)
        return dataclasses.replace(self._ask(request), cache=self.cache)

    def _ask(self, request: dict) -> Measurement:
        """The worker's measurement of `request`, or why there is none."""
        start = time.perf_counter()
        try:
            limit = self.timeout
            if self._proc is None or self._proc.poll() is not None:
                self._start()
                limit += FIRST_WARMUP_SECONDS  # (a fresh worker warms up first: not the candidate's time)
            try:
                self._proc.stdin.write(json.dumps(request) + "\n")
                self._proc.stdin.flush()
            except OSError:
                pass  # it died: the answer below says how
            answer = self._answer(limit)
            if answer is TIMED_OUT:
                self._stop()
                return Measurement(None, None, True, f"timed out after {self.timeout:g} s")
            if answer is None:
                why = self._death()
                self._stop()
                return Measurement(None, None, True, f"the measuring process died ({why})")
            if answer.get("error"):
                return Measurement(None, None, True, answer["error"])
            return Measurement(answer["median_s"], answer["spread_s"])
        finally:
            self.seconds += time.perf_counter() - start


def _pump_answers(stream, answers: queue.Queue) -> None:
    """The worker's answers, one JSON object a line; None once it is gone."""
    for line in stream:
        try:
            answers.put(json.loads(line))
        except json.JSONDecodeError:
            continue
    answers.put(None)


def _pump_text(stream, lines: collections.deque) -> None:
    """The worker's stderr, its last lines kept (they say why it died)."""
    for line in stream:
        lines.append(line)


# ---------------------------------------------------------------------------------------------
# the worker


_first = True  # no kernel measured yet in this (worker) process


def _measure(request: dict) -> dict:
    import numpy as np

    from lamina.lowering import tvm_adapter
    from lamina.lowering.build import aligned_empty

    fault = request.get("fault")
    if fault == "crash":
        os.abort()
    if fault == "hang":
        time.sleep(1e6)
    if fault == "error":
        raise RuntimeError("injected fault")
    kernel = tvm_adapter.load(request["library"])
    rng = np.random.default_rng(0)
    tensors = []
    for shape, dtype in request["args"]:
        a = aligned_empty(tuple(shape), dtype)  # guard pages around it, as the executor's buffers
        if a.dtype.kind == "f":
            a[...] = rng.standard_normal(a.shape).astype(a.dtype)
        else:
            a[...] = 0  # indices and masks: 0 is always in range
        try:
            tensors.append(tvm_adapter.shared_tensor(a) if a.size else tvm_adapter.empty_tensor(a.shape, a.dtype))
        except Exception:  # a dtype DLPack cannot carry
            tensors.append(tvm_adapter.device_tensor(a))
    function = kernel.module[kernel.entry]
    function(*tensors)  # warm-up
    global _first
    if _first:  # the process's first kernel: its thread pool and the clocks (see the docstring)
        _first, until = False, time.perf_counter() + FIRST_WARMUP_SECONDS
        while time.perf_counter() < until:
            function(*tensors)
    start = time.perf_counter()
    function(*tensors)
    number = calls_per_block(time.perf_counter() - start)
    flush = int(request.get("flush_bytes", 0))
    if flush:  # cold: each call of a block timed alone, after its flush
        number, repeat = 1, max(3, min(COLD_CALLS, number))
    else:
        repeat = 1
    tvm_adapter.median_seconds(kernel.module, kernel.entry, tensors, number, repeat, flush)  # clocks, pages
    blocks = [tvm_adapter.median_seconds(kernel.module, kernel.entry, tensors, number, repeat, flush)
              for _ in range(REPEAT)]
    median, spread = median_and_spread(blocks)
    return {"median_s": median, "spread_s": spread}


def calls_per_block(once: float) -> int:
    """Calls in one timed block, for a kernel one call of which took `once` seconds: a block
    lasts about BLOCK_SECONDS (here and on an RPC device, rpc.py)."""
    return max(1, min(100000, int(BLOCK_SECONDS / max(once, 1e-7))))


def median_and_spread(blocks: list[float]) -> tuple[float, float]:
    """A measurement from its blocks' times per call: the median, and the blocks' median
    absolute deviation from it (both robust to one block hit by a stray process)."""
    median = statistics.median(blocks)
    return median, statistics.median(abs(b - median) for b in blocks)


def serve() -> None:
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # what the kernels or TVM print goes to stderr, never into the protocol
    from lamina.lowering import tvm_adapter  # noqa: F401 (import TVM before saying ready)

    protocol.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        if request is None:
            return
        try:
            answer = _measure(request)
        except Exception as e:  # a library that does not load or run: the candidate failed
            answer = {"error": f"{type(e).__name__}: {_first_line(e)}"}
        protocol.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    serve()
