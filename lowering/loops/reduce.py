"""Reductions and the softmaxes: a nest over the kept dims, an scf.for nest over the reduced
ones whose iter_args carry the accumulator.

    nn.reduce_sum %x {axes = [1], keepdims = 0} : (tensor<4x8xf32>) -> tensor<4xf32>

becomes

    scf.for %i = %c0 to %c4 step %c1 {
      %acc = scf.for %r = %c0 to %c8 step %c1 iter_args(%acc_1 = %cst) -> (f32) {
        %x = memref.load %x[%i, %r] : memref<4x8xf32>
        %s = arith.addf %acc_1, %x : f32
        scf.yield %s : f32
      }
      memref.store %acc, %out0[%i] : memref<4xf32>
    }

softmax along an axis, as its numpy reference (max-subtracted): one loop for the max, one for
sum(exp(x - max)), one that writes exp(x - max) / sum (log_softmax: x - max - log(sum)).
"""

from __future__ import annotations

import numpy as np

from lamina.dialects import math as m
from lamina.dialects.nn.base import normalize_axis, py
from lamina.dialects.nn.reduce import reduced_axes

from .builder import Loops, is_float, lowers, unsupported
from .elementwise import names_for

COMBINE = {"nn.reduce_sum": "add", "nn.reduce_mean": "add", "nn.reduce_prod": "mul",
           "nn.reduce_max": "max", "nn.reduce_min": "min"}


def _identity(name: str, dtype: np.dtype):
    if name in ("nn.reduce_sum", "nn.reduce_mean"):
        return 0
    if name == "nn.reduce_prod":
        return 1
    largest = name == "nn.reduce_min"
    if dtype.kind == "f":
        return np.inf if largest else -np.inf
    info = np.iinfo(dtype)
    return info.max if largest else info.min


@lowers(*COMBINE)
def lower_reduce(L: Loops, op, inputs, outputs):
    (x,), (y,) = inputs, outputs
    shape = x.type.shape
    axes = reduced_axes(py(op.axes), len(shape))
    keep = bool(py(op.keepdims))
    t = y.type.element_type
    if op.name == "nn.reduce_mean" and not is_float(t):
        raise unsupported(op, f"on {t} has no loop lowering (only floats)")
    init = L.constant(_identity(op.name, np.dtype(t.numpy_dtype)), t)
    kind = COMBINE[op.name]
    kept = [d for d in range(len(shape)) if d not in axes]
    x_names = names_for(len(shape))
    out_names = [x_names[d] for d in range(len(shape)) if keep or d in kept]
    count = int(np.prod([shape[a] for a in axes], dtype=np.int64))

    def body(ivs):
        by_dim = dict(zip(range(len(shape)), ivs)) if keep else dict(zip(kept, ivs))

        def step(rivs, accs):
            index = dict(by_dim)
            index.update(zip(axes, rivs))
            v = L.load(x, [index[d] for d in range(len(shape))], name="x")
            return [L.binary(kind, accs[0], v, name="r")]

        (total,) = L.accumulate([shape[a] for a in axes], ["r" + x_names[a] for a in axes], [init], step)
        if op.name == "nn.reduce_mean":
            total = L.divf(total, L.constant(count, t), name="mean")
        L.store(total, y, ivs)

    L.nest(y.type.shape, out_names, body)


@lowers("nn.softmax", "nn.log_softmax")
def lower_softmax(L: Loops, op, inputs, outputs):
    (x,), (y,) = inputs, outputs
    shape = x.type.shape
    axis = normalize_axis(py(op.axis), len(shape))
    t = y.type.element_type
    names = names_for(len(shape))
    outer = [1 if d == axis else n for d, n in enumerate(shape)]

    def body(ivs):
        def at(k):
            return ivs[:axis] + [k] + ivs[axis + 1:]

        (high,) = L.accumulate([shape[axis]], ["k"], [L.constant(-np.inf, t)],
                               lambda r, a: [L.maxf(a[0], L.load(x, at(r[0]), name="x"), name="m")],
                               acc_names=["max"])

        def add_exp(r, a):
            shifted = L.subf(L.load(x, at(r[0]), name="x"), high, name="shifted")
            return [L.addf(a[0], L.math(m.ExpOp, shifted, name="e"), name="s")]

        (total,) = L.accumulate([shape[axis]], ["k"], [L.constant(0.0, t)], add_exp, acc_names=["sum"])
        log_total = L.math(m.LogOp, total, name="log_sum") if op.name == "nn.log_softmax" else None

        def write(k):
            shifted = L.subf(L.load(x, at(k[0]), name="x"), high, name="shifted")
            if log_total is not None:
                value = L.subf(shifted, log_total, name="y")
            else:
                value = L.divf(L.math(m.ExpOp, shifted, name="e"), total, name="y")
            L.store(value, y, at(k[0]))

        L.nest([shape[axis]], ["k"], write, parallel=False)

    L.nest(outer, names, body)
