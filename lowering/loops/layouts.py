"""Reading and writing tensors in a data layout (dialects/nn/layout.py) by their logical indices.

A lowering thinks in logical axes (n, c, h, w for an image; o, i, kh, kw for a weight); the
buffer is in some layout ("NCHW", "NHWC", "NCHW8c", "OIHW8i8o", ...). Two helpers translate:

- `logical_nest(L, buffer, layout, body)`: loops over every element of `buffer` in its own
  (physical) order, so stores are contiguous, and hands `body` the logical index of each
  letter: for a blocked axis (c of NCHW8c) that is `cb * 8 + ci`;
- `physical(L, layout, shape, logical)`: the buffer indices of logical indices: for a blocked
  axis `c // 8` and `c % 8` (arith.divui / arith.remui by a constant, which LLVM turns into
  shifts for a power of two).

An axis whose block has size 1 in `shape` (a broadcast operand, see layout.py) divides by 1.
"""

from __future__ import annotations

from lamina.dialects.nn.layout import Layout

from .builder import Loops


def _extent(layout: Layout, shape, letter: str, block) -> int:
    position = next(k for k, (a, b) in enumerate(layout.axes) if a == letter and (b is None) == (block is None))
    return shape[position]


def inner_extent(layout: Layout, shape, letter: str) -> int:
    """The size of `letter`'s block axis in `shape` (1 when the letter is not blocked)."""
    block = layout.block(letter)
    if not any(a == letter and b is not None for a, b in layout.axes):
        return 1
    return _extent(layout, shape, letter, block)


def physical(L: Loops, layout: Layout, shape, logical: dict) -> list:
    """Buffer indices, in `layout`'s axis order, of the logical indices `logical` (letter -> index)."""
    out = []
    for letter, block in layout.axes:
        inner = inner_extent(layout, shape, letter)
        if inner == 1 and block is None:
            out.append(logical[letter])
        elif block is None:
            out.append(L.div(logical[letter], inner))
        else:
            out.append(L.rem(logical[letter], inner))
    return out


def logical_of(L: Loops, layout: Layout, shape, ivs) -> dict:
    """Letter -> logical index, from the buffer indices `ivs` of a tensor in `layout`."""
    outer, inner = {}, {}
    for (letter, block), iv in zip(layout.axes, ivs):
        (outer if block is None else inner)[letter] = iv
    logical = {}
    for letter, iv in outer.items():
        if letter in inner:
            logical[letter] = L.affine([(iv, inner_extent(layout, shape, letter)), (inner[letter], 1)],
                                       name=letter.lower())
        else:
            logical[letter] = iv
    return logical


def iv_names(layout: Layout) -> list[str]:
    """Loop names for a layout's axes: n, c, h, w; a block of c is cb (outer) and ci (inner)."""
    blocked = {a for a, b in layout.axes if b is not None}
    names = []
    for letter, block in layout.axes:
        base = letter.lower()
        names.append(base + ("i" if block is not None else "b" if letter in blocked else ""))
    return names


def logical_nest(L: Loops, buffer, layout: Layout, body, names=None) -> None:
    """Loops over `buffer` in its own order; `body(logical, ivs)` with letter -> logical index."""
    shape = buffer.type.shape
    L.nest(shape, names or iv_names(layout), lambda ivs: body(logical_of(L, layout, shape, ivs), ivs))
