"""Random search over a task's space: the baseline every smarter search must beat.

Each proposal is a knob assignment not tried before in this task: not measured in this run, not
in the records of an earlier run (resume), not refused earlier (an invalid candidate is never
proposed twice). Identity is the assignment's canonical text (records.knob_key), so the same
schedule reached twice is measured once. A space small enough to list (SMALL_SPACE candidates)
is listed and shuffled, so it is covered exactly once without rejection; a larger one is
sampled, retrying a drawn duplicate a bounded number of times.
"""

from __future__ import annotations

import itertools
import random

from .records import knob_key

SMALL_SPACE = 4096


class RandomSearch:
    def __init__(self, space, seed: int = 0):
        self.space = space
        self.rng = random.Random(seed)
        self._listed = None
        if space.size <= SMALL_SPACE:
            names = [k.name for k in space.knobs]
            default = space.default
            self._listed = [{**default, **dict(zip(names, values))}
                            for values in itertools.product(*(k.values for k in space.knobs))]
            self.rng.shuffle(self._listed)

    def propose(self, n: int, seen: set) -> list[dict]:
        """Up to `n` assignments whose knob_key is not in `seen` (fewer, or none, when the space
        is used up); their keys are added to `seen`."""
        out = []
        if self._listed is not None:
            while self._listed and len(out) < n:
                a = self._listed.pop()
                if knob_key(a) not in seen:
                    seen.add(knob_key(a))
                    out.append(a)
            return out
        tries = 0
        while len(out) < n and tries < 50 * n:
            tries += 1
            a = self.space.sample(self.rng)
            if knob_key(a) not in seen:
                seen.add(knob_key(a))
                out.append(a)
        return out
