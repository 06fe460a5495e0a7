"""fold-constants: evaluate every op whose operands are all constants, with the reference
interpreter, and put a constant in its place.

    %w = nn.constant ... : () -> tensor<4x3xf32>
    %t = nn.transpose %w {perm = [1, 0]} : (tensor<4x3xf32>) -> tensor<3x4xf32>
    %y = nn.matmul %x, %t ...
->
    %t = nn.constant <the transposed weight> : () -> tensor<3x4xf32>
    %y = nn.matmul %x, %t ...

The idea is ONNX Runtime's ConstantFolding (and MNN's / NCNN's weight pre-transforms): whatever a
graph computes from initializers alone is computed once, at compile time. Unlike `canonicalize`,
which only runs the folds an op declares, this pass runs the op's `interpret`, so it folds any op
with reference semantics: `constant_of_shape`, shape arithmetic, transposes and reshapes of
weights, whole constant subgraphs.

The algorithm:
  1. Walk every op in order (operands are defined before their users, so one sweep reaches the
     fixpoint: a folded op's constant feeds the next op).
  2. Skip ops that are constants already, have regions, are not `Pure` (side effects), or have
     no `interpret`. `nn.shape` of a statically shaped tensor needs no constant operand.
  3. If every operand is the result of a constant-like op, run the op through
     `Interpreter.run_op` on the constants' arrays. Results with more than `max-elements`
     elements (any of them) leave the op alone, so huge tensors stay computed at run time.
  4. Materialize each result as a constant of the op's dialect (`materialize_constant`), or an
     `nn.constant` when the dialect has none for it; replace the op's uses and erase it.
  5. Erase the constants left without users.

Statistics: `ops folded`, `constants erased`, `too large` (ops left alone by the size cap).

Inside `counting_applications` (rewrite.py; `lamina bisect`) each op folded counts as one
application of "fold-constants", and the pass stops folding once the limit is spent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..attributes import DenseElementsAttr, FloatAttr, IntegerAttr
from ..ir import Operation, Value
from ..opdef import ConstantLike, Op, Pure, get_dialect
from ..rewrite import active_counter
from ..types import FloatType, IndexType, IntegerType, RankedTensorType
from .pass_base import Pass, register_pass

# ops whose result depends only on their operands' static shapes, not on their data
SHAPE_ONLY_OPS = ("nn.shape",)


@register_pass
@dataclass(frozen=True)
class FoldConstantsPass(Pass):
    """Evaluate ops whose operands are all constants and replace them by constants."""

    name = "fold-constants"
    summary = "evaluate ops whose operands are all constant (with the interpreter) into constants"

    max_elements: int = 1 << 20

    def run(self, module: Operation) -> None:
        from lamina.runtime.interpreter import Interpreter

        arrays: dict[int, np.ndarray] = {}  # id(value) -> its constant array, filled as we go
        counter = active_counter()  # None unless lamina bisect counts the rewrites
        for op in [o for o in module.walk() if o is not module]:
            if op.parent is None:
                continue  # erased on the way (cannot happen today; cheap to check)
            if op.has_trait(ConstantLike):
                continue
            args = self._constant_operands(op, arrays)
            if args is None or not self._foldable(op):
                continue
            if counter is not None:
                if counter.spent:
                    break
                counter.before_attempt(op)
            try:
                outs = Interpreter.run_op(op, args)
            except Exception:  # noqa: BLE001 - an op that cannot evaluate here stays an op
                continue
            if any(np.asarray(o).size > self.max_elements for o in outs):
                self.statistics["too large"] += 1
                continue
            constants = [_materialize(op, result, out) for result, out in zip(op.results, outs)]
            if any(c is None for c in constants) or len(constants) != len(op.results):
                continue
            for const, result, out in zip(constants, op.results, outs):
                op.parent.insert_before(const, op)
                const.results[0].name_hint = result.name_hint  # %t stays %t
                arrays[id(const.results[0])] = np.asarray(out)
                result.replace_all_uses_with(const.results[0])
            op.erase()
            self.statistics["ops folded"] += 1
            if counter is not None:
                counter.applied(self.name, op, constants + [u for c in constants for u in c.results[0].users])
        self._erase_unused_constants(module)

    # -- steps -----------------------------------------------------------------------------------

    @staticmethod
    def _foldable(op: Operation) -> bool:
        return (bool(op.results) and not op.regions and op.has_trait(Pure)
                and type(op).interpret is not Op.interpret
                and all(_static(r.type) for r in op.results))

    @staticmethod
    def _constant_operands(op: Operation, arrays: dict) -> list | None:
        """The operands' arrays if each is a constant (or a shape-only op's static input)."""
        if op.name in SHAPE_ONLY_OPS:
            if all(_static(v.type) and isinstance(v.type, RankedTensorType) for v in op.operands):
                return [np.zeros(v.type.shape, v.type.element_type.numpy_dtype) for v in op.operands]
            return None
        args = []
        for v in op.operands:
            array = _constant_array(v, arrays)
            if array is None:
                return None
            args.append(array)
        return args

    def _erase_unused_constants(self, module: Operation) -> None:
        for op in reversed([o for o in module.walk() if o is not module]):
            if op.has_trait(ConstantLike) and op.results and all(not r.uses for r in op.results):
                op.erase()
                self.statistics["constants erased"] += 1


def _static(t) -> bool:
    if isinstance(t, RankedTensorType):
        return t.has_static_shape and t.encoding is None
    return isinstance(t, (IntegerType, FloatType, IndexType))


def _constant_array(v: Value, arrays: dict) -> np.ndarray | None:
    if id(v) in arrays:
        return arrays[id(v)]
    owner = getattr(v, "op", None)
    if owner is None or not owner.has_trait(ConstantLike):
        return None
    from lamina.runtime.interpreter import Interpreter

    try:
        (array,) = Interpreter.run_op(owner, [])
    except Exception:  # noqa: BLE001 - a constant the interpreter cannot read is not folded through
        return None
    arrays[id(v)] = array
    return array


def _materialize(op: Operation, result: Value, out) -> Operation | None:
    """A constant op holding `out` with `result`'s type: the op's dialect's constant, else
    an nn.constant (tensors) or arith.constant (scalars)."""
    t = result.type
    if isinstance(t, RankedTensorType):
        value = DenseElementsAttr(t, np.asarray(out))
    elif isinstance(t, FloatType):
        value = FloatAttr(float(np.asarray(out).reshape(())), t)
    else:
        value = IntegerAttr(int(np.asarray(out).reshape(())), t)
    makers = []
    dialect = get_dialect(op.name.split(".")[0])
    if dialect is not None and dialect.materialize_constant is not None:
        makers.append(dialect.materialize_constant)
    for fallback in ("nn", "arith"):
        d = get_dialect(fallback)
        if d is not None and d.materialize_constant is not None:
            makers.append(d.materialize_constant)
    for make in makers:
        const = make(value, t, op.location)
        if const is not None:
            return const
    return None
