"""nn ops as TVM tensor expressions: one compute function per op, found by the op's name.

A compute function takes the op (for its attributes and result type) and one TE tensor per
operand, and returns the TE tensor(s) of its results:

    @lowers("nn.relu")
    def relu(op, x):
        return elementwise(op, lambda v: tir.max(v, zero(x.dtype)), x)

Shapes are static here: the executor only lowers ops whose types are fully known.
"""

from __future__ import annotations

from typing import Callable

from lamina.compiler.types import FloatType, IndexType, IntegerType, RankedTensorType

from .tvm_adapter import te, tir

COMPUTES: dict[str, Callable] = {}


def lowers(*names: str):
    """Register a compute function for the nn ops `names`."""
    def register(fn):
        for name in names:
            COMPUTES[name] = fn
        return fn
    return register


class LoweringError(ValueError):
    """An op the compute table cannot express (an unsupported attribute value, a dynamic shape)."""


# ---------------------------------------------------------------------------------------------
# Types and small helpers


def dtype_of(element) -> str:
    if isinstance(element, FloatType):
        return {"f16": "float16", "bf16": "bfloat16", "f32": "float32", "f64": "float64"}[element.name]
    if isinstance(element, IndexType):
        return "int64"
    if isinstance(element, IntegerType):
        if element.width == 1:
            return "bool"
        return f"{'u' if element.signedness == 'u' else ''}int{element.width}"
    raise LoweringError(f"no TVM dtype for {element}")


def out_shape(op, index: int = 0) -> tuple[int, ...]:
    t = op.results[index].type
    if not isinstance(t, RankedTensorType) or not t.has_static_shape:
        raise LoweringError(f"'{op.name}' has result type {t}; lowering needs a static shape")
    return tuple(int(d) for d in t.shape)


def out_dtype(op, index: int = 0) -> str:
    return dtype_of(op.results[index].type.element_type)


def const(value, dtype: str):
    return tir.const(value, dtype)


def broadcast_index(tensor, index: tuple):
    """Read `tensor` at the output `index` under numpy broadcasting (size-1 dims read index 0)."""
    rank, shape = len(index), [int(d) for d in tensor.shape]
    offset = rank - len(shape)
    return tensor[tuple(0 if d == 1 else index[offset + k] for k, d in enumerate(shape))]


def accumulator(dtype: str) -> str:
    """The dtype a dot product sums in: float32 for half precision, which then rounds once (as
    ONNX's reference and ONNX Runtime do) instead of at each of its k additions."""
    return "float32" if dtype in ("float16", "bfloat16") else dtype


def rounded(t, dtype: str):
    """`t` as `dtype`: a cast stage, or `t` itself when it has that dtype already."""
    if t.dtype == dtype:
        return t
    return te.compute(t.shape, lambda *i: t[i].astype(dtype), name="round")


def elementwise(op, fn: Callable, *tensors, name: str | None = None):
    """The result of `fn` applied to the broadcast operands at each index of the result."""
    return te.compute(out_shape(op), lambda *i: fn(*(broadcast_index(t, i) for t in tensors)),
                      name=name or op.name.split(".")[1])


# ---------------------------------------------------------------------------------------------
# Elementwise ops


def _unary(name: str, fn: Callable):
    @lowers(name)
    def compute(op, x):
        return elementwise(op, lambda v: fn(v, x.dtype, op), x)
    return compute


_unary("nn.neg", lambda v, dt, op: -v)
_unary("nn.abs", lambda v, dt, op: tir.abs(v))
_unary("nn.exp", lambda v, dt, op: tir.exp(v))
_unary("nn.log", lambda v, dt, op: tir.log(v))
_unary("nn.sqrt", lambda v, dt, op: tir.sqrt(v))
_unary("nn.reciprocal", lambda v, dt, op: const(1, dt) / v)
_unary("nn.tanh", lambda v, dt, op: tir.tanh(v))
_unary("nn.sigmoid", lambda v, dt, op: tir.sigmoid(v))
_unary("nn.erf", lambda v, dt, op: tir.erf(v))
_unary("nn.relu", lambda v, dt, op: tir.max(v, const(0, dt)))
_unary("nn.identity", lambda v, dt, op: v)
_unary("nn.dropout", lambda v, dt, op: v)  # inference
_unary("nn.hard_swish", lambda v, dt, op: v * tir.max(const(0, dt), tir.min(const(1, dt), v / const(6, dt) + const(0.5, dt))))


@lowers("nn.leaky_relu")
def leaky_relu(op, x):
    alpha = const(_attr(op, "alpha", 0.01), x.dtype)
    return elementwise(op, lambda v: tir.Select(v >= const(0, x.dtype), v, v * alpha), x)


def _attr(op, name, default=None):
    """An attribute's Python value (tuple for arrays), or `default` when absent."""
    from lamina.dialects.nn.base import py

    return py(op.properties.get(name), default)


def _binary(name: str, fn: Callable):
    @lowers(name)
    def compute(op, a, b):
        return elementwise(op, lambda u, v: fn(u, v), a, b)
    return compute


_binary("nn.add", lambda u, v: u + v)
_binary("nn.sub", lambda u, v: u - v)
_binary("nn.mul", lambda u, v: u * v)
_binary("nn.max", lambda u, v: tir.max(u, v))
_binary("nn.min", lambda u, v: tir.min(u, v))


@lowers("nn.div")
def div(op, a, b):
    if str(a.dtype).startswith(("int", "uint")):  # ONNX integer division truncates toward zero
        return elementwise(op, lambda u, v: tir.truncdiv(u, v), a, b)
    return elementwise(op, lambda u, v: u / v, a, b)


# ---------------------------------------------------------------------------------------------
# Linear algebra


@lowers("nn.matmul")
def matmul(op, a, b):
    """numpy.matmul: batch dims broadcast; a 1-D `a` is a row (k), a 1-D `b` a column (k), and
    their dim is not in the result."""
    k = te.reduce_axis((0, int(a.shape[-1])), name="k")
    acc = accumulator(a.dtype)

    def at(*i):
        i = list(i)
        n = i.pop() if len(b.shape) > 1 else None
        m = i.pop() if len(a.shape) > 1 else None
        batch = tuple(i)
        lhs = a[(*_broadcast_batch(a, batch), m, k)] if m is not None else a[k]
        rhs = b[(*_broadcast_batch(b, batch), k, n)] if n is not None else b[k]
        return te.sum(lhs.astype(acc) * rhs.astype(acc), axis=k)
    return rounded(te.compute(out_shape(op), at, name="matmul"), a.dtype)


def _broadcast_batch(tensor, batch: tuple) -> tuple:
    dims = [int(d) for d in tensor.shape[:-2]]
    offset = len(batch) - len(dims)
    return tuple(0 if d == 1 else batch[offset + j] for j, d in enumerate(dims))


@lowers("nn.pow")
def pow_(op, a, b):
    """TVM's power is for floats: integer bases go through float64 and back (numpy's x ** y)."""
    dt = out_dtype(op)
    if "float" in dt:
        return elementwise(op, lambda u, v: tir.power(u, v.astype(dt)), a, b)
    return elementwise(op, lambda u, v: tir.power(u.astype("float64"), v.astype("float64")).astype(dt), a, b)


@lowers("nn.equal")
def equal(op, a, b):
    """Bools compare as int8: a vectorized `==` of i1 vectors reaches LLVM as an invalid fcmp."""
    if a.dtype == "bool":
        return elementwise(op, lambda u, v: u.astype("int8") == v.astype("int8"), a, b)
    return elementwise(op, lambda u, v: u == v, a, b)


_binary("nn.less", lambda u, v: u < v)
_binary("nn.greater", lambda u, v: u > v)
_binary("nn.prelu", lambda x, slope: tir.Select(x >= const(0, x.dtype), x, x * slope))


@lowers("nn.where")
def where(op, cond, a, b):
    return elementwise(op, lambda c, u, v: tir.Select(c, u, v), cond, a, b)


@lowers("nn.sum")
def sum_(op, *xs):
    def add_all(*vs):
        total = vs[0]
        for v in vs[1:]:
            total = total + v
        return total
    return elementwise(op, add_all, *xs)


@lowers("nn.cast")
def cast(op, x):
    dt = out_dtype(op)
    if dt == "bool":
        return elementwise(op, lambda v: v != const(0, x.dtype), x)
    return elementwise(op, lambda v: v.astype(dt), x)


@lowers("nn.clip")
def clip(op, x):
    lo, hi = _attr(op, "min"), _attr(op, "max")

    def fn(v):
        if lo is not None:
            v = tir.max(v, const(lo, x.dtype))
        if hi is not None:
            v = tir.min(v, const(hi, x.dtype))
        return v
    return elementwise(op, fn, x)


@lowers("nn.gelu")
def gelu(op, x):
    dt = x.dtype
    if _attr(op, "approximate", "none") == "tanh":
        c = const(0.7978845608028654, dt)  # sqrt(2 / pi)
        return elementwise(op, lambda v: const(0.5, dt) * v * (const(1, dt) + tir.tanh(
            c * (v + const(0.044715, dt) * v * v * v))), x)
    return elementwise(op, lambda v: const(0.5, dt) * v * (const(1, dt) + tir.erf(v * const(0.7071067811865476, dt))), x)


@lowers("nn.hard_sigmoid")
def hard_sigmoid(op, x):
    dt = x.dtype
    alpha, beta = const(_attr(op, "alpha", 0.2), dt), const(_attr(op, "beta", 0.5), dt)
    return elementwise(op, lambda v: tir.max(const(0, dt), tir.min(const(1, dt), alpha * v + beta)), x)


# ---------------------------------------------------------------------------------------------
# Reductions


def _reduce_axes(op, rank: int) -> list[int]:
    axes = _attr(op, "axes", ()) or tuple(range(rank))
    return sorted(a % rank for a in axes)


def _lowest(dtype: str):
    """The identity of max: -inf for floats (as numpy's), else the dtype's smallest value."""
    return tir.const(float("-inf"), dtype) if "float" in str(dtype) else tir.min_value(dtype)


def _highest(dtype: str):
    return tir.const(float("inf"), dtype) if "float" in str(dtype) else tir.max_value(dtype)


_max = te.comm_reducer(lambda a, b: tir.max(a, b), _lowest, name="max")
_min = te.comm_reducer(lambda a, b: tir.min(a, b), _highest, name="min")
_prod = te.comm_reducer(lambda a, b: a * b, lambda t: tir.const(1, t), name="prod")


def _reduction(name: str, reducer, identity: Callable):
    def reduce(op, x):
        rank = len(x.shape)
        axes = _reduce_axes(op, rank)
        keep = bool(_attr(op, "keepdims", 1))
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
_reduction("nn.reduce_max", _max, _lowest)
_reduction("nn.reduce_min", _min, _highest)
_reduction("nn.reduce_prod", _prod, lambda t: const(1, t))


@lowers("nn.softmax", "nn.log_softmax")
def softmax(op, x):
    """exp(x - max) / sum(exp(x - max)) along one axis (log: x - max - log(sum))."""
    rank = len(x.shape)
    axis = _attr(op, "axis", -1) % rank
    shape = [int(d) for d in x.shape]
    reduced_shape = shape[:axis] + shape[axis + 1:]
    k = te.reduce_axis((0, shape[axis]), name="k")
    k2 = te.reduce_axis((0, shape[axis]), name="k2")

    def with_axis(i, value):
        return (*i[:axis], value, *i[axis:])
    mx = te.compute(reduced_shape, lambda *i: te.max(x[with_axis(i, k)], axis=k), name="max")
    total = te.compute(reduced_shape, lambda *i: te.sum(tir.exp(x[with_axis(i, k2)] - mx[i]), axis=k2),
                       name="sum")

    def drop(i):
        return (*i[:axis], *i[axis + 1:])
    if op.name == "nn.log_softmax":
        return te.compute(shape, lambda *i: x[i] - mx[drop(i)] - tir.log(total[drop(i)]), name="log_softmax")
    return te.compute(shape, lambda *i: tir.exp(x[i] - mx[drop(i)]) / total[drop(i)], name="softmax")


# ---------------------------------------------------------------------------------------------
# Shape and data movement: index arithmetic only


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
    perm = _attr(op, "perm", None) or tuple(reversed(range(rank)))
    inverse = [perm.index(d) for d in range(rank)]
    return te.compute(out_shape(op), lambda *i: x[tuple(i[inverse[d]] for d in range(rank))], name="transpose")


@lowers("nn.expand")
def expand(op, x):
    return elementwise(op, lambda v: v, x, name="expand")


@lowers("nn.concat")
def concat(op, *xs):
    """Each output index reads the operand whose range along `axis` contains it."""
    rank = len(xs[0].shape)
    axis = _attr(op, "axis") % rank
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
    axis = _attr(op, "axis", 0) % rank
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
    axes = _attr(op, "axes", None) or tuple(range(len(_attr(op, "starts"))))
    steps = _attr(op, "steps", None) or (1,) * len(axes)
    for start, axis, st in zip(_attr(op, "starts"), axes, steps):
        a, dim = axis % rank, shape[axis % rank]
        start = start + dim if start < 0 else start
        first[a] = max(0, min(start, dim)) if st > 0 else max(0, min(start, dim - 1))
        step[a] = st
    return te.compute(out_shape(op), lambda *i: x[tuple(first[d] + i[d] * step[d] for d in range(rank))],
                      name="slice")


@lowers("nn.gather")
def gather(op, x, indices):
    rank = len(x.shape)
    axis = _attr(op, "axis", 0) % rank
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
    pads = _attr(op, "pads")
    begin = pads[:rank]
    shape = [int(d) for d in x.shape]
    mode = _attr(op, "mode", "constant")
    value = const(_attr(op, "value", 0.0), x.dtype)

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


# ---------------------------------------------------------------------------------------------
# Convolution and pooling (NCHW; NHWC by reading through a transposed view)


def _nchw(op, x):
    """`x` seen as NCHW, and a function that turns an NCHW result back into the op's layout."""
    if _attr(op, "layout", "NCHW") == "NCHW":
        return x, lambda t, name: t
    n, h, w, c = (int(d) for d in x.shape)
    view = te.compute((n, c, h, w), lambda b, ch, i, j: x[b, i, j, ch], name="to_nchw")

    def back(t, name):
        return te.compute(out_shape(op), lambda b, i, j, ch: t[b, ch, i, j], name=name)
    return view, back


def _padded(x, pads, value, name="pad"):
    top, left, bottom, right = pads
    n, c, h, w = (int(d) for d in x.shape)
    if not any(pads):
        return x
    return te.compute((n, c, h + top + bottom, w + left + right), lambda b, ch, i, j: tir.Select(
        tir.all(i >= top, i < top + h, j >= left, j < left + w),
        x[b, ch, tir.min(tir.max(i - top, 0), h - 1), tir.min(tir.max(j - left, 0), w - 1)], value), name=name)


def _nchw_shape(op):
    shape = out_shape(op)
    if _attr(op, "layout", "NCHW") == "NHWC":
        n, h, w, c = shape
        return (n, c, h, w)
    return shape


@lowers("nn.conv2d")
def conv2d(op, x, w, *bias):
    x, back = _nchw(op, x)
    sh, sw = _attr(op, "strides", (1, 1))
    dh, dw = _attr(op, "dilations", (1, 1))
    group = _attr(op, "group", 1)
    xp = _padded(x, _attr(op, "pads", (0, 0, 0, 0)), const(0, x.dtype))
    out_c, in_per_group, kh, kw = (int(d) for d in w.shape)
    per_group_out = out_c // group
    rc = te.reduce_axis((0, in_per_group), name="rc")
    ry = te.reduce_axis((0, kh), name="ry")
    rx = te.reduce_axis((0, kw), name="rx")
    acc = accumulator(x.dtype)

    def at(b, o, i, j):
        ch = (o // per_group_out) * in_per_group + rc
        return te.sum(xp[b, ch, i * sh + ry * dh, j * sw + rx * dw].astype(acc) * w[o, rc, ry, rx].astype(acc),
                      axis=[rc, ry, rx])
    y = te.compute(_nchw_shape(op), at, name="conv2d")
    if bias:
        y = te.compute(y.shape, lambda b, o, i, j: y[b, o, i, j] + bias[0][o].astype(acc), name="bias_add")
    return back(rounded(y, x.dtype), "to_nhwc")


def _pool_geometry(op):
    return (_attr(op, "kernel_shape"), _attr(op, "strides", (1, 1)), _attr(op, "pads", (0, 0, 0, 0)),
            _attr(op, "dilations", (1, 1)))


@lowers("nn.max_pool2d")
def max_pool2d(op, x):
    x, back = _nchw(op, x)
    (kh, kw), (sh, sw), pads, (dh, dw) = _pool_geometry(op)
    lowest = tir.min_value(x.dtype)
    # ceil_mode windows may run past the padded input: pad generously, padding never wins
    n, c, h, w = (int(d) for d in x.shape)
    _, _, oh, ow = _nchw_shape(op)
    extra_h = max(0, (oh - 1) * sh + (kh - 1) * dh + 1 - (h + pads[0] + pads[2]))
    extra_w = max(0, (ow - 1) * sw + (kw - 1) * dw + 1 - (w + pads[1] + pads[3]))
    xp = _padded(x, (pads[0], pads[1], pads[2] + extra_h, pads[3] + extra_w), lowest)
    ry, rx = te.reduce_axis((0, kh), name="ry"), te.reduce_axis((0, kw), name="rx")
    y = te.compute(_nchw_shape(op), lambda b, ch, i, j: te.max(
        xp[b, ch, i * sh + ry * dh, j * sw + rx * dw], axis=[ry, rx]), name="max_pool")
    return back(y, "to_nhwc")


@lowers("nn.avg_pool2d")
def avg_pool2d(op, x):
    x, back = _nchw(op, x)
    (kh, kw), (sh, sw), pads, _ = _pool_geometry(op)
    top, left, bottom, right = pads
    n, c, h, w = (int(d) for d in x.shape)
    _, _, oh, ow = _nchw_shape(op)
    extra_h = max(0, (oh - 1) * sh + kh - (h + top + bottom))
    extra_w = max(0, (ow - 1) * sw + kw - (w + left + right))
    xp = _padded(x, (top, left, bottom + extra_h, right + extra_w), const(0, x.dtype))
    ry, rx = te.reduce_axis((0, kh), name="ry"), te.reduce_axis((0, kw), name="rx")
    total = te.compute(_nchw_shape(op), lambda b, ch, i, j: te.sum(xp[b, ch, i * sh + ry, j * sw + rx],
                                                                  axis=[ry, rx]), name="window_sum")
    include_pad = bool(_attr(op, "count_include_pad", 0))

    def count(i, j):
        """Elements the window covers: of the input only, or of the padded input (ONNX)."""
        lo_h, lo_w = i * sh - top, j * sw - left
        if include_pad:
            hi_h = tir.min(lo_h + kh, h + bottom)
            hi_w = tir.min(lo_w + kw, w + right)
            return (hi_h - lo_h) * (hi_w - lo_w)
        hi_h, hi_w = tir.min(lo_h + kh, h), tir.min(lo_w + kw, w)
        return (hi_h - tir.max(lo_h, 0)) * (hi_w - tir.max(lo_w, 0))
    y = te.compute(total.shape, lambda b, ch, i, j: total[b, ch, i, j] / count(i, j).astype(x.dtype),
                   name="avg_pool")
    return back(y, "to_nhwc")


@lowers("nn.global_avg_pool", "nn.global_max_pool")
def global_pool(op, x):
    x, back = _nchw(op, x)
    n, c, h, w = (int(d) for d in x.shape)
    ry, rx = te.reduce_axis((0, h), name="ry"), te.reduce_axis((0, w), name="rx")
    if op.name == "nn.global_max_pool":
        y = te.compute((n, c, 1, 1), lambda b, ch, i, j: te.max(x[b, ch, ry, rx], axis=[ry, rx]), name="gmax")
    else:
        s = te.compute((n, c, 1, 1), lambda b, ch, i, j: te.sum(x[b, ch, ry, rx], axis=[ry, rx]), name="gsum")
        y = te.compute((n, c, 1, 1), lambda b, ch, i, j: s[b, ch, i, j] / const(h * w, x.dtype), name="gavg")
    return back(y, "to_nhwc")


# ---------------------------------------------------------------------------------------------
# Normalization


def _channel(t, index):
    return t[index[1]]


@lowers("nn.batch_norm")
def batch_norm(op, x, scale, bias, mean, var):
    eps = const(_attr(op, "epsilon", 1e-5), x.dtype)
    return te.compute(out_shape(op), lambda *i: (x[i] - mean[i[1]]) / tir.sqrt(var[i[1]] + eps) * scale[i[1]]
                      + bias[i[1]], name="batch_norm")


def _moments(x, axes, name):
    """Mean and variance of `x` over `axes` (kept as size-1 dims)."""
    shape = [int(d) for d in x.shape]
    count = 1
    for a in axes:
        count *= shape[a]
    reduced = [1 if d in axes else s for d, s in enumerate(shape)]

    def over(i, r):
        it = iter(r)
        return tuple(next(it) if d in axes else i[d] for d in range(len(shape)))
    n = const(count, x.dtype)
    r1 = [te.reduce_axis((0, shape[a]), name=f"m{a}") for a in axes]
    total = te.compute(reduced, lambda *i: te.sum(x[over(i, r1)], axis=r1), name=f"{name}_sum")
    mean = te.compute(reduced, lambda *i: total[i] / n, name=f"{name}_mean")
    r2 = [te.reduce_axis((0, shape[a]), name=f"v{a}") for a in axes]

    def sq(i):
        d = x[over(i, r2)] - mean[tuple(0 if k in axes else i[k] for k in range(len(shape)))]
        return d * d
    squares = te.compute(reduced, lambda *i: te.sum(sq(i), axis=r2), name=f"{name}_sq")
    var = te.compute(reduced, lambda *i: squares[i] / n, name=f"{name}_var")
    return mean, var


@lowers("nn.layer_norm")
def layer_norm(op, x, scale, *bias):
    rank = len(x.shape)
    axis = _attr(op, "axis", -1) % rank
    axes = list(range(axis, rank))
    eps = const(_attr(op, "epsilon", 1e-5), x.dtype)
    mean, var = _moments(x, axes, "ln")

    def at(*i):
        stat = tuple(0 if d in axes else i[d] for d in range(rank))
        y = (x[i] - mean[stat]) / tir.sqrt(var[stat] + eps) * broadcast_index(scale, i)
        return y + broadcast_index(bias[0], i) if bias else y
    return te.compute(out_shape(op), at, name="layer_norm")


@lowers("nn.instance_norm")
def instance_norm(op, x, scale, bias):
    rank = len(x.shape)
    axes = list(range(2, rank))
    eps = const(_attr(op, "epsilon", 1e-5), x.dtype)
    mean, var = _moments(x, axes, "in")

    def at(*i):
        stat = tuple(0 if d in axes else i[d] for d in range(rank))
        return (x[i] - mean[stat]) / tir.sqrt(var[stat] + eps) * scale[i[1]] + bias[i[1]]
    return te.compute(out_shape(op), at, name="instance_norm")


@lowers("nn.lrn")
def lrn(op, x):
    size = _attr(op, "size")
    alpha, beta, bias = _attr(op, "alpha", 1e-4), _attr(op, "beta", 0.75), _attr(op, "bias", 1.0)
    c = int(x.shape[1])
    lo = (size - 1) // 2
    r = te.reduce_axis((0, size), name="r")

    def square_sum(*i):
        ch = i[1] - lo + r
        inside = tir.all(ch >= 0, ch < c)
        v = x[(i[0], tir.min(tir.max(ch, 0), c - 1), *i[2:])]
        return te.sum(tir.Select(inside, v * v, const(0, x.dtype)), axis=r)
    s = te.compute(out_shape(op), square_sum, name="square_sum")
    dt = x.dtype
    return te.compute(out_shape(op), lambda *i: x[i] / tir.power(
        const(bias, dt) + const(alpha / size, dt) * s[i], const(beta, dt)), name="lrn")


# ---------------------------------------------------------------------------------------------
# Gemm and image ops


@lowers("nn.gemm")
def gemm(op, a, b, *c):
    ta, tb = bool(_attr(op, "trans_a", 0)), bool(_attr(op, "trans_b", 0))
    alpha, beta = _attr(op, "alpha", 1.0), _attr(op, "beta", 1.0)
    k_extent = int(a.shape[0] if ta else a.shape[1])
    k = te.reduce_axis((0, k_extent), name="k")
    dt = accumulator(a.dtype)
    prod = te.compute(out_shape(op), lambda m, n: te.sum(
        (a[k, m] if ta else a[m, k]).astype(dt) * (b[n, k] if tb else b[k, n]).astype(dt), axis=k), name="gemm")
    if not c and alpha == 1.0:
        return rounded(prod, a.dtype)
    return rounded(te.compute(out_shape(op), lambda m, n: const(alpha, dt) * prod[m, n] + (
        const(beta, dt) * broadcast_index(c[0], (m, n)).astype(dt) if c else const(0, dt)), name="gemm_out"), a.dtype)


@lowers("nn.depth_to_space")
def depth_to_space(op, x):
    bs = _attr(op, "blocksize")
    c_out = out_shape(op)[1]
    crd = _attr(op, "mode", "DCR") == "CRD"

    def at(b, ch, i, j):
        di, dj = i % bs, j % bs
        src = ch * bs * bs + di * bs + dj if crd else (di * bs + dj) * c_out + ch
        return x[b, src, i // bs, j // bs]
    return te.compute(out_shape(op), at, name="depth_to_space")


@lowers("nn.space_to_depth")
def space_to_depth(op, x):
    bs = _attr(op, "blocksize")
    c_in = int(x.shape[1])

    def at(b, ch, i, j):
        block, src_c = ch // c_in, ch % c_in
        return x[b, src_c, i * bs + block // bs, j * bs + block % bs]
    return te.compute(out_shape(op), at, name="space_to_depth")


@lowers("nn.resize")
def resize(op, x):
    """4-D NCHW resize of H and W; nearest or linear, ONNX coordinate modes."""
    n, c, h, w = (int(d) for d in x.shape)
    _, _, oh, ow = out_shape(op)
    mode = _attr(op, "mode", "nearest")
    ctm = _attr(op, "coordinate_transformation_mode", "half_pixel")
    nearest_mode = _attr(op, "nearest_mode", "round_prefer_floor")
    f32 = "float32"

    def source(i, out_len, in_len):
        scale = out_len / in_len
        i = i.astype(f32)
        if ctm == "asymmetric":
            return i / const(scale, f32)
        if ctm == "align_corners":
            return i * const((in_len - 1) / (out_len - 1) if out_len > 1 else 0.0, f32)
        if ctm == "pytorch_half_pixel" and out_len == 1:
            return const(0.0, f32)
        return (i + const(0.5, f32)) / const(scale, f32) - const(0.5, f32)  # half_pixel

    def nearest(s, in_len):
        if nearest_mode == "floor":
            k = tir.floor(s)
        elif nearest_mode == "ceil":
            k = tir.ceil(s)
        elif nearest_mode == "round_prefer_ceil":
            k = tir.floor(s + const(0.5, f32))
        else:  # round_prefer_floor
            k = tir.ceil(s - const(0.5, f32))
        return tir.min(tir.max(k.astype("int64"), 0), in_len - 1)

    if mode == "nearest":
        return te.compute((n, c, oh, ow), lambda b, ch, i, j: x[
            b, ch, nearest(source(i, oh, h), h), nearest(source(j, ow, w), w)], name="resize")
    if mode != "linear":
        raise LoweringError(f"nn.resize mode {mode!r} is not lowered")

    def lerp_axis(s, in_len):
        s = tir.min(tir.max(s, const(0.0, f32)), const(in_len - 1, f32))
        lo = tir.floor(s).astype("int64")
        hi = tir.min(lo + 1, in_len - 1)
        return lo, hi, s - lo.astype(f32)

    def at(b, ch, i, j):
        y0, y1, fy = lerp_axis(source(i, oh, h), h)
        x0, x1, fx = lerp_axis(source(j, ow, w), w)
        top = x[b, ch, y0, x0].astype(f32) * (const(1.0, f32) - fx) + x[b, ch, y0, x1].astype(f32) * fx
        bottom = x[b, ch, y1, x0].astype(f32) * (const(1.0, f32) - fx) + x[b, ch, y1, x1].astype(f32) * fx
        return (top * (const(1.0, f32) - fy) + bottom * fy).astype(x.dtype)
    return te.compute((n, c, oh, ow), at, name="resize")
