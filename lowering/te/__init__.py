"""nn ops as TVM tensor expressions: one compute function per op, found by the op's name.

A compute function takes the op (for its attributes and result type) and one TE tensor per
operand, and returns the TE tensor(s) of its results:

    @lowers("nn.relu")
    def relu(op, x):
        return elementwise(op, lambda v: tir.max(v, zero(x.dtype)), x)

Shapes are static here: the executor only lowers ops whose types are fully known.

The computes live in one module per op family, mirroring the nn dialect (dialects/nn/): `common`
holds the dtype/shape helpers they share, and `elementwise`, `reduce` (reductions and softmax),
`shape`, `conv` (convolution and pooling), `linalg` (matmul, gemm), `norm` and `image` register
their computes in `COMPUTES` when imported, which this module does below.
"""

from __future__ import annotations

from typing import Callable

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


# Importing the families registers their computes (they import `lowers` from this module, so it
# and COMPUTES must be defined first).
from . import common, conv, elementwise, image, layout, linalg, norm, reduce, shape  # noqa: E402,F401
from .common import dtype_of, out_dtype, out_shape  # noqa: E402,F401
