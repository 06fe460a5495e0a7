"""Search over a task's space: random search, the baseline, and evolutionary search guided by a
learned cost model (cost_model.py), the default.

Each proposal is a knob assignment not tried before in this task: not measured in this run, not
in the records of an earlier run (resume), not refused earlier (an invalid candidate is never
proposed twice). Identity is the assignment's canonical text (records.knob_key), so the same
schedule reached twice is measured once. Both searches have the same interface:
`propose(n, seen)` for the next batch, `observe(knobs, seconds)` for each measurement (None: it
failed), which random search ignores.

Random search: a space small enough to list (SMALL_SPACE candidates) is listed and shuffled, so
it is covered exactly once without rejection; a larger one is sampled, retrying a drawn duplicate
a bounded number of times.

Evolutionary search (as Ansor's, Zheng et al. OSDI 2020, section 5, on knob assignments instead
of whole programs), per batch of n:
  1. Until MIN_POINTS measurements are known, propose random samples: a model of fewer points
     ranks no better than chance.
  2. Train the cost model on every measurement so far (failed ones as slow).
  3. Parents: the POPULATION fastest measured assignments.
  4. Children, CHILDREN of them: a mutation (MUTATE of the time) moves one or two knobs of a
     parent to a neighbouring value in the knob's candidate list; a crossover takes each knob
     from one of two parents. Children seen before (or twice) are dropped.
  5. Rank the children with the model; propose the n - m best, plus m = round(EPSILON * n)
     random unseen samples (epsilon-greedy: exploration the model cannot veto).
`predicted` keeps the model's prediction of every proposal (log seconds), so the tuner can
report how well the model ranked what it then measured.
"""

from __future__ import annotations

import itertools
import random

from .records import knob_key

SMALL_SPACE = 4096
SEARCHES = ("evolutionary", "random")

MIN_POINTS = 8      # measurements before the cost model ranks proposals
POPULATION = 16     # parents: the fastest measured assignments
CHILDREN = 256      # children ranked by the model per batch
MUTATE = 0.7        # the share of children made by mutation (the rest by crossover)
EPSILON = 0.125     # the share of each batch drawn at random


class RandomSearch:
    def __init__(self, space, seed: int = 0):
        self.space = space
        self.rng = random.Random(seed)
        self.predicted: dict[str, float] = {}  # none: random search ranks nothing
        self._listed = None
        if space.size <= SMALL_SPACE:
            names = [k.name for k in space.knobs]
            default = space.default
            self._listed = [{**default, **dict(zip(names, values))}
                            for values in itertools.product(*(k.values for k in space.knobs))]
            self.rng.shuffle(self._listed)

    def observe(self, knobs: dict, seconds: float | None) -> None:
        """Random search learns nothing from a measurement."""

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


class EvolutionarySearch:
    def __init__(self, space, seed: int = 0):
        from .cost_model import CostModel

        self.space = space
        self.rng = random.Random(seed)
        self.random = RandomSearch(space, seed)   # step 1 and the epsilon-greedy share
        self.model = CostModel(space)
        self.measured: dict[str, tuple[dict, float | None]] = {}  # knob_key -> (knobs, seconds)
        self.predicted: dict[str, float] = {}     # knob_key -> predicted log seconds, per proposal

    def observe(self, knobs: dict, seconds: float | None) -> None:
        key = knob_key(knobs)
        old = self.measured.get(key)
        if old is not None and old[1] is not None and (seconds is None or old[1] <= seconds):
            return  # keep the best of two measurements of one assignment (records may repeat one)
        self.measured[key] = (dict(knobs), seconds)

    def propose(self, n: int, seen: set) -> list[dict]:
        """Up to `n` assignments whose knob_key is not in `seen`, the model's best first; their
        keys are added to `seen`."""
        if len(self.measured) < MIN_POINTS or n <= 0:
            return self.random.propose(n, seen)
        knobs, seconds = zip(*self.measured.values())
        self.model.fit(list(knobs), list(seconds))
        explore = round(EPSILON * n)
        children = self._children(seen)
        if children:
            scores = self.model.predict(children)
            best = sorted(range(len(children)), key=lambda i: scores[i])[: n - explore]
            out = [children[i] for i in best]
            for a in out:
                seen.add(knob_key(a))
        else:
            out = []
        out += self.random.propose(n - len(out), seen)  # exploration, and the rest when few children
        if out:
            for a, p in zip(out, self.model.predict(out)):
                self.predicted[knob_key(a)] = float(p)
        return out

    def _children(self, seen: set) -> list[dict]:
        """Up to CHILDREN distinct unseen children of the fastest measured assignments."""
        ranked = sorted((v for v in self.measured.values() if v[1] is not None), key=lambda v: v[1])
        parents = [k for k, _ in ranked[:POPULATION]]
        if not parents:
            return []
        knobs = self.space.knobs
        out, keys = [], set()
        for _ in range(4 * CHILDREN):
            if len(out) >= CHILDREN:
                break
            if self.rng.random() < MUTATE or len(parents) < 2:
                child = dict(self.rng.choice(parents))
                for k in self.rng.sample(knobs, min(len(knobs), self.rng.choice((1, 2)))):
                    i = k.values.index(child[k.name]) if child[k.name] in k.values else 0
                    j = min(len(k.values) - 1, max(0, i + self.rng.choice((-1, 1))))
                    child[k.name] = k.values[j]
            else:
                a, b = self.rng.sample(parents, 2)
                child = {**a, **{k.name: self.rng.choice((a, b))[k.name] for k in knobs}}
            key = knob_key(child)
            if key not in seen and key not in keys:
                keys.add(key)
                out.append(child)
        return out


def make_search(kind: str, space, seed: int = 0):
    """The search called `kind` (one of SEARCHES; tuner.tune checks it) over `space`."""
    return EvolutionarySearch(space, seed) if kind == "evolutionary" else RandomSearch(space, seed)
