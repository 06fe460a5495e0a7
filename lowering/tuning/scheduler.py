"""The task scheduler: which task gets the next batch of trials.

A model's time is sum(weight x time) over its tasks, so a trial is worth what it is expected to
cut from that sum. Ansor's gradient scheduler (Zheng et al., OSDI 2020, section 6) estimates, per
task i with best time g_i after t_i trials, how fast its weighted time is still falling:

    backward_i = (best W trials ago - best now) / W          what its last trials bought
    forward_i  = g_i / t_i                                   optimistic: it could fall to 0 in as
                                                             many trials again
    gain_i     = weight_i * (ALPHA * backward_i + (1 - ALPHA) * forward_i)

and gives the next batch to the task with the largest gain. (Ansor adds a term from similar
tasks' FLOP rates; lamina's tasks are too few per model for it to pay, so it is left out.) A task
that has only its default measured has t_i = 1: its forward term is its whole weighted time, so
every task gets trials early, the heavy ones first. A task whose search stopped (no improvement
in `early_stop` trials, its space used up) is out. `round-robin` gives batches in turn instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .records import knob_key

ALPHA = 0.2   # Ansor's weight of the backward (measured) estimate
WINDOW = 3    # Ansor's backward window, in trials
SCHEDULERS = ("gradient", "round-robin")


@dataclass
class TaskState:
    """What the tuner knows of one task during a run."""

    task: object
    space: object
    search: object
    default_s: float | None = None      # the default schedule's time (None: it failed)
    best_s: float = math.inf
    best_knobs: dict | None = None
    trials: int = 0                     # candidates measured in this run (the default not counted)
    earlier: int = 0                    # candidates measured in earlier runs (records)
    invalid: int = 0                    # candidates the compute or verifier refused
    failed: int = 0                     # candidates that failed to build or run (this run)
    stale: int = 0                      # trials since the best last improved by >= 1%
    history: list = field(default_factory=list)  # best time after the default and each trial
    done: str = ""                      # why its search stopped ("" while it goes on)
    seen: set = field(default_factory=set)  # knob_keys measured or refused (never proposed again)
    default_recorded: bool = False      # an earlier run measured the default: not measured again
    measured: dict = field(default_factory=dict)  # knob_key -> (fastest seconds, knobs), of lamina's candidates
    confirmed: bool = False             # its fastest candidates were measured again at the end

    def observe(self, seconds: float | None, knobs: dict) -> bool:
        """Take a measurement (None: it failed); True when it is a new best."""
        if seconds is not None:
            self.note_measured(seconds, knobs)
        better = seconds is not None and seconds < self.best_s
        if better:
            self.stale = 0 if seconds < self.best_s * 0.99 else self.stale + 1
            self.best_s, self.best_knobs = seconds, dict(knobs)
        else:
            self.stale += 1
        self.history.append(self.best_s)
        return better

    def note_measured(self, seconds: float, knobs: dict) -> None:
        """Keep a candidate's fastest time (the finalists of tuner.py's `_confirm` come from these)."""
        key = knob_key(knobs)
        if key not in self.measured or seconds < self.measured[key][0]:
            self.measured[key] = (seconds, dict(knobs))

    def gain(self) -> float:
        """Ansor's expected gain of a next trial (see the module's docstring)."""
        w = self.task.weight
        if not math.isfinite(self.best_s):
            return math.inf  # nothing works yet: anything that runs is a gain
        h = [x for x in self.history if math.isfinite(x)] or [self.best_s]
        back = (h[-1 - min(WINDOW, len(h) - 1)] - h[-1]) / max(1, min(WINDOW, len(h) - 1))
        forward = self.best_s / max(1, len(h))
        return w * (ALPHA * back + (1 - ALPHA) * forward)


class Scheduler:
    def __init__(self, kind: str = "gradient"):
        if kind not in SCHEDULERS:
            from lamina.compiler.errors import LaminaError

            raise LaminaError(f"unknown task scheduler '{kind}'", hint=f"use one of: {', '.join(SCHEDULERS)}")
        self.kind = kind
        self._turn = 0

    def next(self, states: list[TaskState]) -> TaskState | None:
        """The task that gets the next batch, None when every search has stopped."""
        live = [s for s in states if not s.done]
        if not live:
            return None
        if self.kind == "round-robin":
            order = [s for s in states[self._turn:] + states[:self._turn] if not s.done]
            chosen = order[0]
            self._turn = (states.index(chosen) + 1) % len(states)
            return chosen
        return max(live, key=lambda s: s.gain())
