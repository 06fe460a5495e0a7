"""Reductions over axes (sum, mean, max, min, prod) and softmax / log_softmax."""

from __future__ import annotations

from typing import Callable

from ..tvm_adapter import te, tir
from . import fast_math, lowers
from .common import attr, const, highest, lowest, max_reducer, min_reducer, out_shape


def _reduce_axes(op, rank: int) -> list[int]:
    axes = attr(op, "axes", ()) or tuple(range(rank))
    return sorted(a % rank for a in axes)


_prod = te.comm_reducer(lambda a, b: a * b, lambda t: tir.const(1, t), name="prod")


def _reduction(name: str, reducer, identity: Callable):
    def reduce(op, x):
        rank = len(x.shape)
        axes = _reduce_axes(op, rank)
        keep = bool(attr(op, "keepdims", 1))
        raxes = [te.reduce_axis((0, int(x.shape[a])), name=f"r{a}") for a in axes]

        def at(*i):
            full, it, r = [], iter(i), iter(raxes)
            for d in range(rank):
                if d in axes:
                    full.append(next(r))
                    if keep:
                        next(it)
                else:
                    full.append(next(it))
            return reducer(x[tuple(full)], axis=raxes)
        count = 1
        for a in axes:
            count *= int(x.shape[a])
        if count == 0:  # TIR initializes in the first step of the reduction loop, which never runs
            reduced = te.compute(out_shape(op), lambda *i: identity(x.dtype), name="identity")
        else:
            reduced = te.compute(out_shape(op), at, name=name.split(".")[1])
        if name == "nn.reduce_mean":
            return te.compute(out_shape(op), lambda *i: reduced[i] / const(count, x.dtype), name="mean")
        return reduced

    @lowers(name)
    def compute(op, x):
        if x.dtype == "bool":  # max is any, min is all: reduce 0/1 as int8 (TVM has no bool extremes);
            # `> 0` also maps the int8 identities of an empty reduction (-128, 127) to False, True
            as_int = te.compute(x.shape, lambda *i: x[i].astype("int8"), name="as_int8")
            y = reduce(op, as_int)
            return te.compute(out_shape(op), lambda *i: y[i] > const(0, "int8"), name="as_bool")
        return reduce(op, x)
    return compute


_reduction("nn.reduce_sum", te.sum, lambda t: const(0, t))
_reduction("nn.reduce_mean", te.sum, lambda t: const(0, t))
_reduction("nn.reduce_max", max_reducer, lowest)
_reduction("nn.reduce_min", min_reducer, highest)
_reduction("nn.reduce_prod", _prod, lambda t: const(1, t))


@lowers("nn.softmax", "nn.log_softmax")
def softmax(op, x):
    """exp(x - max) / sum(exp(x - max)) along one axis (log: x - max - log(sum))."""
    rank = len(x.shape)
    axis = attr(op, "axis", -1) % rank
    shape = [int(d) for d in x.shape]
    reduced_shape = shape[:axis] + shape[axis + 1:]
    k = te.reduce_axis((0, shape[axis]), name="k")
    k2 = te.reduce_axis((0, shape[axis]), name="k2")

    def with_axis(i, value):
        return (*i[:axis], value, *i[axis:])
    mx = te.compute(reduced_shape, lambda *i: te.max(x[with_axis(i, k)], axis=k), name="max")

    def drop(i):
        return (*i[:axis], *i[axis + 1:])
    if op.name == "nn.log_softmax":
        total = te.compute(reduced_shape, lambda *i: te.sum(fast_math.exp(x[with_axis(i, k2)] - mx[i]), axis=k2),
                           name="sum")
        return te.compute(shape, lambda *i: x[i] - mx[drop(i)] - tir.log(total[drop(i)]), name="log_softmax")
    # each exp once, kept: the sum reads it and the division rescales it (schedule_reduce.py
    # computes all three a row at a time)
    e = te.compute(shape, lambda *i: fast_math.exp(x[i] - mx[drop(i)]), name="softmax_exp")
    total = te.compute(reduced_shape, lambda *i: te.sum(e[with_axis(i, k2)], axis=k2), name="sum")
    return te.compute(shape, lambda *i: e[i] / total[drop(i)], name="softmax")
