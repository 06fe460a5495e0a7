"""The cost model: predicts a candidate's time from its knob assignment, trained on the task's
measurements so far (this run's and the records'), so the search measures only what it ranks best.

One model per task (tasks have different knobs). What it sees of an assignment (`features`):

    per knob      log2(value); for a split factor of a loop of extent E (space.Knob.extent):
                  whether it divides E (no bound test), log2(ceil(E / value)) (the outer loop's
                  trip count), and the padding it wastes, ceil(E / value) * value / E - 1
    per task      log2 of the product of all knob values (the tile's footprint, roughly)

(The value relative to the default, log2(value / default), is log2(value) shifted by a constant
within a task: a tree splits on it at the same places, so it is left out.) It predicts log(time):
what matters is the ranking, and times span orders of magnitude. A failed candidate counts as
twice the slowest measured, as Ansor counts it as zero throughput, so the search learns to avoid
its neighbourhood.

The model: gradient-boosted regression trees (depth DEPTH, ROUNDS rounds, shrinkage
LEARNING_RATE), as Ansor and meta-schedule use (there with xgboost), written in numpy: a task has
a few dozen points, so an exhaustive split search is cheap (~80 ms to fit 100 points, ~2 ms to
rank 256 children), and xgboost stays out of lamina's dependencies. Why trees: a kernel's time is
not smooth in its knobs (a tile that stops fitting a cache, a factor that stops dividing its
extent) but has thresholds in single features, which is what a tree splits on.

Measured (held-out Spearman rank correlation between predicted and measured times; trained on 30
random measurements of a task, tested on the rest; mean over 5 splits):

                                                trees (this)  ridge (features + squares)  3-NN (log2 knobs)
    the synthetic task of tests/test_tuning.py     0.94              0.84                   0.81
    zoo mlp fc1 (121 measured, random search)      0.66              0.47                   0.67
    zoo mlp fc2 (121 measured)                     0.76              0.51                   0.76
    zoo mlp fc3 (116 measured)                     0.50              0.52                   0.50

The mlp's kernels run in 0.2-5 us, where the measurement's own spread is 2% typically and 18% at
the 90th percentile, which bounds any model's ranking there; trees are never much worse than the
best of the three and clearly better where the structure is known. Depth 2-4, shrinkage 0.1-0.3
and 40-150 rounds all score within 0.03 of these numbers.
"""

from __future__ import annotations

import math

import numpy as np

ROUNDS = 60
LEARNING_RATE = 0.2
DEPTH = 3
MIN_LEAF = 2


def features(space, assignments: list[dict]) -> np.ndarray:
    """One row of features per assignment (see the module's docstring), over `space.knobs`."""
    rows = []
    for a in assignments:
        row, total = [], 0.0
        for k in space.knobs:
            v = max(1, int(a.get(k.name, k.default)))
            row.append(math.log2(v))
            total += math.log2(v)
            if k.extent:
                outer = -(-k.extent // v)
                row += [float(k.extent % v == 0), math.log2(outer), outer * v / k.extent - 1]
        row.append(total)
        rows.append(row)
    return np.asarray(rows, dtype=np.float64).reshape(len(assignments), -1)


class _Tree:
    """A regression tree of depth <= DEPTH, as flat arrays (feature -1: a leaf)."""

    def __init__(self, x: np.ndarray, r: np.ndarray):
        self.feature, self.threshold, self.left, self.right, self.value = [], [], [], [], []
        self._grow(x, r, np.arange(len(r)), 0)
        self.feature, self.threshold = np.array(self.feature), np.array(self.threshold)
        self.left, self.right, self.value = np.array(self.left), np.array(self.right), np.array(self.value)

    def _grow(self, x, r, rows, depth) -> int:
        node = len(self.feature)
        for a in (self.feature, self.threshold, self.left, self.right, self.value):
            a.append(0)
        self.feature[node], self.value[node] = -1, float(r[rows].mean())
        split = _best_split(x[rows], r[rows]) if depth < DEPTH and len(rows) >= 2 * MIN_LEAF else None
        if split is None:
            return node
        j, t = split
        go_left = x[rows, j] <= t
        self.feature[node], self.threshold[node] = j, t
        self.left[node] = self._grow(x, r, rows[go_left], depth + 1)
        self.right[node] = self._grow(x, r, rows[~go_left], depth + 1)
        return node

    def predict(self, x: np.ndarray) -> np.ndarray:
        node = np.zeros(len(x), dtype=np.int64)
        for _ in range(DEPTH):
            f = self.feature[node]
            inner = f >= 0
            go_left = x[np.arange(len(x)), np.maximum(f, 0)] <= self.threshold[node]
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
        return self.value[node]


def _best_split(x: np.ndarray, r: np.ndarray):
    """(feature, threshold) that most reduces the squared error of `r`, None if nothing does."""
    n, best, out = len(r), 1e-12, None
    base = r.sum() ** 2 / n
    for j in range(x.shape[1]):
        order = np.argsort(x[:, j], kind="stable")
        xs, left = x[order, j], np.cumsum(r[order])[:-1]
        nl = np.arange(1, n)
        gain = left ** 2 / nl + (r.sum() - left) ** 2 / (n - nl) - base
        ok = (xs[:-1] < xs[1:]) & (nl >= MIN_LEAF) & (n - nl >= MIN_LEAF)
        if not ok.any():
            continue
        i = int(np.argmax(np.where(ok, gain, -np.inf)))
        if gain[i] > best:
            best, out = gain[i], (j, (xs[i] + xs[i + 1]) / 2)
    return out


class CostModel:
    """Gradient-boosted trees on `features`, predicting log(seconds) of a task's candidates."""

    def __init__(self, space):
        self.space = space
        self.trees: list[_Tree] = []
        self.base = 0.0

    def fit(self, assignments: list[dict], seconds: list) -> "CostModel":
        """Train on measured assignments; a None (failed) time counts as twice the slowest."""
        times = [s for s in seconds if s is not None and s > 0]
        if not times:
            self.trees, self.base = [], 0.0
            return self
        worst = 2 * max(times)
        y = np.log([s if s is not None and s > 0 else worst for s in seconds])
        x = features(self.space, assignments)
        self.base, self.trees = float(y.mean()), []
        pred = np.full(len(y), self.base)
        for _ in range(ROUNDS):
            tree = _Tree(x, y - pred)
            if tree.feature[0] < 0:
                break  # nothing left to split on
            self.trees.append(tree)
            pred += LEARNING_RATE * tree.predict(x)
        return self

    def predict(self, assignments: list[dict]) -> np.ndarray:
        """Predicted log(seconds) of each assignment (lower is faster)."""
        x = features(self.space, assignments)
        pred = np.full(len(x), self.base)
        for tree in self.trees:
            pred += LEARNING_RATE * tree.predict(x)
        return pred


def ranks(a) -> np.ndarray:
    """The ranks of `a` (0-based), ties sharing their mean rank."""
    a = np.asarray(a, dtype=np.float64)
    order = np.argsort(a, kind="stable")
    r = np.empty(len(a))
    r[order] = np.arange(len(a))
    _, inverse, counts = np.unique(a, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=r)
    return sums[inverse] / counts[inverse]


def spearman(a, b) -> float:
    """Spearman's rank correlation of two sequences (nan when either is constant)."""
    ra, rb = ranks(a), ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = math.sqrt(float((ra ** 2).sum() * (rb ** 2).sum()))
    return float((ra * rb).sum() / den) if den else math.nan
