"""Shape and data movement: index arithmetic only."""

from __future__ import annotations

from ..tvm_adapter import te, tir
from . import LoweringError, lowers
from .common import attr, const, elementwise, out_shape


def _flat_index(index, shape):
    flat = index[0] if index else const(0, "int64")
    for i, d in zip(index[1:], shape[1:]):
        flat = flat * d + i
    return flat


def _unflatten(flat, shape):
    out = []
    for d in reversed(shape):
        out.append(flat % d)
        flat = flat // d
    return tuple(reversed(out))


@lowers("nn.reshape", "nn.flatten", "nn.squeeze", "nn.unsqueeze")
def reshape(op, x):
    """Same elements in row-major order: output index -> flat offset -> input index."""
    in_shape = [int(d) for d in x.shape]
    shape = out_shape(op)
    if not in_shape:
        return te.compute(shape, lambda *i: x[()], name="reshape")
    return te.compute(shape, lambda *i: x[_unflatten(_flat_index(i, shape), in_shape)], name="reshape")


@lowers("nn.transpose")
def transpose(op, x):
    rank = len(x.shape)
    perm = attr(op, "perm", None) or tuple(reversed(range(rank)))
    inverse = [perm.index(d) for d in range(rank)]
    return te.compute(out_shape(op), lambda *i: x[tuple(i[inverse[d]] for d in range(rank))], name="transpose")


@lowers("nn.channel_shuffle")
def channel_shuffle(op, x):
    """Output channel c reads input channel (c % groups) * (C / groups) + c // groups."""
    groups = attr(op, "groups")
    per_group = int(x.shape[1]) // groups
    return te.compute(out_shape(op), lambda n, c, *rest: x[(n, (c % groups) * per_group + c // groups, *rest)],
                      name="channel_shuffle")


@lowers("nn.expand")
def expand(op, x):
    return elementwise(op, lambda v: v, x, name="expand")


@lowers("nn.concat")
def concat(op, *xs):
    """Each output index reads the operand whose range along `axis` contains it."""
    rank = len(xs[0].shape)
    axis = attr(op, "axis") % rank
    offsets, total = [], 0
    for t in xs:
        offsets.append(total)
        total += int(t.shape[axis])

    def read(t, start, i):
        size = int(t.shape[axis])
        return t[tuple(tir.min(tir.max(i[d] - start, 0), size - 1) if d == axis else i[d] for d in range(rank))]

    def at(*i):
        value = read(xs[0], 0, i)
        for t, start in zip(xs[1:], offsets[1:]):
            value = tir.if_then_else(i[axis] >= start, read(t, start, i), value)
        return value
    return te.compute(out_shape(op), at, name="concat")


@lowers("nn.split")
def split(op, x):
    rank = len(x.shape)
    axis = attr(op, "axis", 0) % rank
    def piece(n, start):
        return te.compute(out_shape(op, n), lambda *i: x[tuple(
            i[d] + start if d == axis else i[d] for d in range(rank))], name=f"split{n}")
    outs, start = [], 0
    for n, result in enumerate(op.results):
        outs.append(piece(n, start))
        start += int(result.type.shape[axis])
    return outs


@lowers("nn.slice")
def slice_(op, x):
    """y[i] = x[start + i * step] on sliced axes; starts are clamped as ONNX does."""
    rank = len(x.shape)
    shape = [int(d) for d in x.shape]
    first, step = [0] * rank, [1] * rank
    axes = attr(op, "axes", None) or tuple(range(len(attr(op, "starts"))))
    steps = attr(op, "steps", None) or (1,) * len(axes)
    for start, axis, st in zip(attr(op, "starts"), axes, steps):
        a, dim = axis % rank, shape[axis % rank]
        start = start + dim if start < 0 else start
        first[a] = max(0, min(start, dim)) if st > 0 else max(0, min(start, dim - 1))
        step[a] = st
    return te.compute(out_shape(op), lambda *i: x[tuple(first[d] + i[d] * step[d] for d in range(rank))],
                      name="slice")


@lowers("nn.gather")
def gather(op, x, indices):
    rank = len(x.shape)
    axis = attr(op, "axis", 0) % rank
    q = len(indices.shape)
    dim = int(x.shape[axis])

    def at(*i):
        idx = indices[i[axis:axis + q]].astype("int64")
        idx = tir.Select(idx < 0, idx + dim, idx)
        return x[(*i[:axis], idx, *i[axis + q:])]
    return te.compute(out_shape(op), at, name="gather")


@lowers("nn.tile")
def tile(op, x):
    shape = [int(d) for d in x.shape]
    return te.compute(out_shape(op), lambda *i: x[tuple(v % d for v, d in zip(i, shape))], name="tile")


@lowers("nn.pad")
def pad(op, x):
    rank = len(x.shape)
    pads = attr(op, "pads")
    begin = pads[:rank]
    shape = [int(d) for d in x.shape]
    mode = attr(op, "mode", "constant")
    value = const(attr(op, "value", 0.0), x.dtype)

    def at(*i):
        src = [v - b for v, b in zip(i, begin)]
        if mode == "constant":
            inside = None
            for s, d in zip(src, shape):
                cond = tir.all(s >= 0, s < d)
                inside = cond if inside is None else tir.all(inside, cond)
            safe = tuple(tir.min(tir.max(s, 0), d - 1) for s, d in zip(src, shape))
            return tir.Select(inside, x[safe], value) if inside is not None else x[()]
        if mode == "edge":
            return x[tuple(tir.min(tir.max(s, 0), d - 1) for s, d in zip(src, shape))]
        if mode == "reflect":
            def reflect(s, d):
                s = tir.abs(s)
                return tir.Select(s >= d, 2 * (d - 1) - s, s)
            return x[tuple(reflect(s, d) for s, d in zip(src, shape))]
        raise LoweringError(f"nn.pad mode {mode!r} is not lowered")
    return te.compute(out_shape(op), at, name="pad")
