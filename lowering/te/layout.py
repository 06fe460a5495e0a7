"""Layouts in TE: `nn.layout_transform`, and views of a tensor in another layout that the conv,
pool and norm computes read through (an index map, inlined by the schedule: no copy).

The index map: element i of the `dst` form of a tensor is, for each whole axis X, at position
p[X] = outer * block + inner (outer, inner: i's X axes in `dst`); in `src` that is outer =
p // block, inner = p % block. A size-1 axis (a broadcast operand) reads index 0.
"""

from __future__ import annotations

from lamina.dialects.nn.layout import Layout

from ..tvm_adapter import te, tir
from . import lowers
from .common import attr, out_shape


def whole_indices(layout: Layout, index) -> dict:
    """Letter -> the whole-axis position of the element at `index` of a `layout` tensor."""
    positions = {}
    for letter in layout.primal:
        outer = index[layout._position(letter, None)]
        if layout._is_blocked(letter):
            b = layout.block(letter)
            positions[letter] = outer * b + index[layout._position(letter, b)]
        else:
            positions[letter] = outer
    return positions


def layout_index(layout: Layout, shape, positions: dict) -> tuple:
    """The index into a `layout` tensor of `shape` of the element at whole positions `positions`."""
    sizes = layout.sizes([int(d) for d in shape], strict=False)
    index = []
    for letter, block in layout.axes:
        p = positions[letter]
        if sizes[letter] == 1:
            index.append(0)
        elif not layout._is_blocked(letter):
            index.append(p)
        elif block is None:
            index.append(tir.floordiv(p, layout.block(letter)))
        else:
            index.append(tir.floormod(p, layout.block(letter)))
    return tuple(index)


def view(x, src: Layout, dst: Layout, shape, name: str):
    """`x` (in `src`) as a tensor of `shape` in `dst`."""
    return te.compute(tuple(shape), lambda *i: x[layout_index(src, x.shape, whole_indices(dst, i))], name=name)


@lowers("nn.layout_transform")
def layout_transform(op, x):
    src, dst = Layout.parse(attr(op, "src")), Layout.parse(attr(op, "dst"))
    return view(x, src, dst, out_shape(op), "layout_transform")
