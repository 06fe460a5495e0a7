"""Data movement -> one nest over the output that loads each element from where it comes from.

Each op is its index map, output index -> input index:

    transpose          x[ivs permuted back]
    concat             each input in its own nest, stored at its offset along the axis
    split              each output in its own nest, loaded at its offset along the axis
    slice              x[start + i * step] on the sliced axes
    gather             x[..., indices[j] (negative: + dim), ...]
    expand             x broadcast (a size-1 dim reads index 0)
    tile               x[i % dim]
    pad                constant: in bounds ? x[i - begin] : value; edge: x[clamp(i - begin)];
                       reflect: x[mirror(i - begin)]
    channel_shuffle    x[n, (c % groups) * (C / groups) + c // groups, ...]
    layout_transform   dialects/nn/layout.py: the same logical element, in another layout

reshape, flatten, squeeze and unsqueeze move nothing: the pass makes their result a view of
the operand's buffer (memref.reinterpret_cast, see pass_.py); `VIEW_OPS` lists them.
"""

from __future__ import annotations

from lamina.dialects import arith, memref
from lamina.dialects.nn.base import normalize_axis, py
from lamina.dialects.nn.layout import Layout
from lamina.dialects.nn.shape import slice_bounds

from .builder import Loops, lowers, row_major
from .elementwise import each_element, names_for
from .layouts import logical_of, physical

VIEW_OPS = ("nn.reshape", "nn.flatten", "nn.squeeze", "nn.unsqueeze", "nn.identity", "nn.dropout")
"""Ops whose result is the operand's buffer seen with another shape (no loop, no copy)."""


@lowers("nn.transpose")
def lower_transpose(L: Loops, op, inputs, outputs):
    (x,), (y,) = inputs, outputs
    perm = op.permutation(op.properties, len(x.type.shape))

    def body(ivs):
        index = [None] * len(perm)
        for out_dim, in_dim in enumerate(perm):
            index[in_dim] = ivs[out_dim]
        return L.load(x, index, name="x")
    each_element(L, y, body)


@lowers("nn.concat")
def lower_concat(L: Loops, op, inputs, outputs):
    (y,) = outputs
    axis = normalize_axis(py(op.axis), len(y.type.shape))
    offset = 0
    for x in inputs:
        def body(ivs, x=x, offset=offset):
            at = list(ivs)
            at[axis] = L.add(ivs[axis], offset)
            L.store(L.load(x, ivs, name="x"), y, at)
        L.nest(x.type.shape, names_for(len(x.type.shape)), body)
        offset += x.type.shape[axis]


@lowers("nn.split")
def lower_split(L: Loops, op, inputs, outputs):
    (x,) = inputs
    axis = normalize_axis(py(op.axis), len(x.type.shape))
    offset = 0
    for y in outputs:
        def body(ivs, offset=offset):
            at = list(ivs)
            at[axis] = L.add(ivs[axis], offset)
            return L.load(x, at, name="x")
        each_element(L, y, body)
        offset += y.type.shape[axis]


@lowers("nn.slice")
def lower_slice(L: Loops, op, inputs, outputs):
    (x,), (y,) = inputs, outputs
    shape = x.type.shape
    per_axis = op.per_axis(op.properties, len(shape))

    def body(ivs):
        index = list(ivs)
        for axis, (start, end, step) in per_axis.items():
            first, _, _ = slice_bounds(start, end, step, shape[axis])
            index[axis] = L.affine([(ivs[axis], step)], first)
        return L.load(x, index, name="x")
    each_element(L, y, body)


@lowers("nn.gather")
def lower_gather(L: Loops, op, inputs, outputs):
    (x, indices), (y,) = inputs, outputs
    axis = normalize_axis(py(op.axis), len(x.type.shape))
    k = len(indices.type.shape)
    dim = x.type.shape[axis]

    def body(ivs):
        raw = L.load(indices, ivs[axis:axis + k], name="idx")
        i = L.cast(raw, L.index(0).type, name="i")
        wrapped = L.select(L.cmp_index("slt", i, 0), L.add(i, L.index(dim)), i, name="at")
        return L.load(x, ivs[:axis] + [wrapped] + ivs[axis + k:], name="x")
    each_element(L, y, body)


@lowers("nn.expand")
def lower_expand(L: Loops, op, inputs, outputs):
    (x,), (y,) = inputs, outputs
    each_element(L, y, lambda ivs: L.load_broadcast(x, ivs, name="x"))


@lowers("nn.tile")
def lower_tile(L: Loops, op, inputs, outputs):
    (x,), (y,) = inputs, outputs
    shape = x.type.shape
    each_element(L, y, lambda ivs: L.load(x, [L.rem(i, d) for i, d in zip(ivs, shape)], name="x"))


@lowers("nn.pad")
def lower_pad(L: Loops, op, inputs, outputs):
    (x,), (y,) = inputs, outputs
    shape = x.type.shape
    rank = len(shape)
    pads, mode = py(op.pads), py(op.mode)
    begins, ends = pads[:rank], pads[rank:]
    t = y.type.element_type

    def body(ivs):
        at = [L.add(i, -b) for i, b in zip(ivs, begins)]
        if mode == "constant":
            inside = L.in_bounds([(a, d, b > 0, e > 0) for a, d, b, e in zip(at, shape, begins, ends)])
            return L.if_else(inside, lambda: [L.load(x, at, name="x")],
                             lambda: [L.constant(py(op.value), t)], [t], name="v")[0]
        index = []
        for a, d in zip(at, shape):
            if mode == "edge":  # clamp(a, 0, d - 1)
                a = L.value(arith.MinSIOp, L.value(arith.MaxSIOp, a, L.index(0)), L.index(d - 1))
            else:  # reflect: |a|, then 2 (d - 1) - a past the end
                a = L.value(arith.MaxSIOp, a, L.value(arith.SubIOp, L.index(0), a))
                a = L.value(arith.MinSIOp, a, L.value(arith.SubIOp, L.index(2 * (d - 1)), a))
            index.append(a)
        return L.load(x, index, name="x")
    each_element(L, y, body)


@lowers("nn.channel_shuffle")
def lower_channel_shuffle(L: Loops, op, inputs, outputs):
    (x,), (y,) = inputs, outputs
    groups = py(op.groups)
    per_group = x.type.shape[1] // groups

    def body(ivs):
        c = L.affine([(L.rem(ivs[1], groups), per_group), (L.div(ivs[1], groups), 1)], name="src_c")
        return L.load(x, [ivs[0], c] + ivs[2:], name="x")
    each_element(L, y, body)


@lowers("nn.layout_transform")
def lower_layout_transform(L: Loops, op, inputs, outputs):
    (x,), (y,) = inputs, outputs
    src, dst = Layout.parse(py(op.src)), Layout.parse(py(op.dst))

    def body(ivs):
        logical = logical_of(L, dst, y.type.shape, ivs)
        return L.load(x, physical(L, src, x.type.shape, logical), name="x")
    each_element(L, y, body)


@lowers("nn.constant_of_shape")
def lower_constant_of_shape(L: Loops, op, inputs, outputs):
    (y,) = outputs
    t = y.type.element_type
    each_element(L, y, lambda ivs: L.constant(op.fill().item(), t))


@lowers(*VIEW_OPS)
def lower_copy(L: Loops, op, inputs, outputs):
    """A copy in row-major order (the pass uses views instead; this is for a result that must
    have its own buffer)."""
    (x,), (y,) = inputs, outputs
    if x.type.shape == y.type.shape:
        each_element(L, y, lambda ivs: L.load(x, ivs, name="x"))
        return
    offset = x.type.strides_and_offset()[1]
    view = memref.ReinterpretCastOp.create(x, [offset], y.type.shape, row_major(y.type.shape))
    L.b.insert(view)
    each_element(L, y, lambda ivs: L.load(view.result, ivs, name="x"))
