"""Types and small helpers shared by the compute families: TVM dtypes of lamina types, the
result's static shape and dtype, constants, broadcasting reads, and op attributes."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable

import numpy as np

from lamina.compiler.types import FloatType, IndexType, IntegerType, RankedTensorType

from ..tvm_adapter import te, tir
from . import LoweringError


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


def expr_dtype(v) -> str:
    """The dtype of a TE element read (`.dtype`) or of a TIR expression (`.ty` in TVM 0.27)."""
    try:
        return str(v.dtype)
    except AttributeError:
        return str(v.ty)


def nan_max(u, v):
    """numpy.maximum: NaN if either is NaN. (tir.max is select(u > v, u, v), which returns v
    where either is NaN: relu(NaN) was 0 in a kernel and NaN in the interpreter; check_pass
    -O3 --compile found it on a pow of a negative base.) As max_reducer's combiner, v is the
    element read and u the accumulator: the NaN test is on v, off the loop-carried chain."""
    if not expr_dtype(u).startswith("float"):  # (TVM has no isnan for bfloat16)
        return tir.max(u, v)
    return tir.Select(tir.isnan(v), v, tir.Select(v > u, v, u))


def nan_min(u, v):
    if not expr_dtype(u).startswith("float"):
        return tir.min(u, v)
    return tir.Select(tir.isnan(v), v, tir.Select(v < u, v, u))


# A max pool is NaN where a NaN is in its window, as numpy's max. Its reduction combines with
# nan_max (max_reducer), but a window pool whose windows overlap reads each element up to kh * kw
# times, and at the odd vector widths of pool rows (14, 28 or 7 columns) LLVM scalarized that
# NaN test: Inception v1's 3x3 stride-1 max pools ran 4x slower than with te.max (0.14 against
# 0.033 ms over 512x14x14, 2 threads). Such a pool reduces integer keys instead, which order as
# the floats do with every NaN above +inf: an integer max, and each element's key computed once,
# where the pool schedule copies its padded rows (schedules/pool.py): 0.032 ms.
ORDER_KEY_DTYPES = {"float32": "int32", "float64": "int64"}


def keyed(x):
    """x's order keys (a stage of its own, inlined where x is read or copied)."""
    return te.compute(x.shape, lambda *i: order_key(x[i]), name="order_key")


def unkeyed(y, dtype: str):
    return te.compute(y.shape, lambda *i: from_order_key(y[i], dtype), name="from_order_key")


def order_key(x):
    """The integer whose order is x's (sign and magnitude bits to two's complement: a negative
    float's magnitude bits flipped), any NaN mapped to the positive quiet NaN, above +inf."""
    ft = expr_dtype(x)
    it, bits = ORDER_KEY_DTYPES[ft], int(ft[5:])
    magnitude = (1 << (bits - 1)) - 1
    mantissa = np.finfo(ft).nmant
    exponent = magnitude ^ ((1 << mantissa) - 1)  # +inf's bits
    quiet = exponent | (1 << (mantissa - 1))  # its key is itself
    c = lambda v: tir.const(v, it)  # noqa: E731
    if isinstance(x, tir.FloatImm):  # (TVM's OpenCL C takes the address of a reinterpreted constant)
        value = float(x.value)
        if value != value:
            return c(quiet)
        raw = int(np.array(value, ft).view(it))
        return c(raw ^ (magnitude if raw < 0 else 0))
    raw = tir.reinterpret(it, x)
    key = _flip_negative(raw, bits)
    # -1 where the magnitude is above +inf's (a NaN), else 0: a select would be scalarized at
    # the odd widths of padded rows (14 + 2 columns)
    is_nan = tir.shift_right(c(exponent) - (raw & c(magnitude)), c(bits - 1))
    return key ^ ((key ^ c(quiet)) & is_nan)


def from_order_key(key, dtype: str):
    """The float whose order_key is `key`."""
    return tir.reinterpret(dtype, _flip_negative(key, int(dtype[5:])))


def _flip_negative(v, bits: int):
    """v with its magnitude bits flipped where it is negative: a float's bits to its key, and
    (its own inverse) a key to the float's bits."""
    it = ORDER_KEY_DTYPES[f"float{bits}"]
    return v ^ (tir.shift_right(v, tir.const(bits - 1, it)) & tir.const((1 << (bits - 1)) - 1, it))


def lowest(dtype: str):
    """The identity of max: -inf for floats (as numpy's), else the dtype's smallest value."""
    return tir.const(float("-inf"), dtype) if "float" in str(dtype) else tir.min_value(dtype)


def highest(dtype: str):
    return tir.const(float("inf"), dtype) if "float" in str(dtype) else tir.max_value(dtype)


# te.max / te.min over NaN keep whichever operand the loop order makes the accumulator (a
# reduce_max with a NaN as its first element gave a number, as its last NaN); numpy's max is
# NaN if any element is, and so are these
max_reducer = te.comm_reducer(nan_max, lowest, name="nan_max")
min_reducer = te.comm_reducer(nan_min, highest, name="nan_min")


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


def attr(op, name, default=None):
    """An attribute's Python value (tuple for arrays), or `default` when absent."""
    from lamina.dialects.nn.base import py

    return py(op.properties.get(name), default)


# ---------------------------------------------------------------------------------------------
# Compute knobs: choices that shape a compute (the weight-packing block sizes), named so that a
# schedule program can set them (`sched.knob pack_ob 16`) and tuning can search them.

_KNOBS: ContextVar = ContextVar("lamina_compute_knobs", default=None)


_FAMILY: ContextVar = ContextVar("lamina_target_family", default="cpu")


@contextmanager
def compute_knobs(overrides: dict | None = None, family: str = "cpu"):
    """Lower computes with the knob values in `overrides`, for a target of `family` (a compute
    only the CPU's generators schedule, te/winograd.py, is not chosen for another); yields the
    dict of every knob the computes asked for and the value each used (the second `pack_nv` of
    a kernel is `pack_nv_1`)."""
    used: dict = {}
    token = _KNOBS.set((dict(overrides or {}), used))
    family_token = _FAMILY.set(family)
    try:
        yield used
    finally:
        _FAMILY.reset(family_token)
        _KNOBS.reset(token)


def target_family() -> str:
    """The family of the target the computes are lowered for ("cpu", "gpu"): `compute_knobs`'."""
    return _FAMILY.get()


def knob(name: str, default: int, divides: int | None = None, what: str = "") -> int:
    """The value of compute knob `name`: the override, else `default`. With `divides`, the value
    must divide it (a packing block of a dimension)."""
    state = _KNOBS.get()
    if state is None:
        return default
    overrides, used = state
    key, n = name, 0
    while key in used:
        n += 1
        key = f"{name}_{n}"
    value = int(overrides.get(key, default))
    if divides is not None and (value < 1 or divides % value):
        raise LoweringError(f"knob {key} = {value} does not divide the {divides} {what or 'elements'} it blocks")
    used[key] = value
    return value
