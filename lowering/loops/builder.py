"""The small library every nn -> loops lowering is written with: nests of loops over index
values, loads and stores with index arithmetic, accumulators, conditionals, scalar arithmetic.

    L = Loops(fn.entry)
    def body(ivs):                                   # ivs: one index value per output dim
        v = L.load(x, ivs)
        L.store(L.maximumf(v, L.constant(0.0, f32)), y, ivs)
    L.nest([4, 8], ["i", "j"], body)

prints as

    %c0 = arith.constant 0 : index
    %c4 = arith.constant 4 : index
    ...
    scf.for %i = %c0 to %c4 step %c1 {
      scf.for %j = %c0 to %c8 step %c1 {
        %v = memref.load %x[%i, %j] : memref<4x8xf32>
        ...
        memref.store %r, %y[%i, %j] : memref<4x8xf32>
      }
    }

Conventions, so that the IR reads like hand-written loops:
- constants (loop bounds, 0.0, epsilon, ...) are made once per function, at its top, and named
  (`%c0`, `%c16`, `%cst`); a dimension of extent 1 gets no loop: its index is `%c0`;
- `nest` makes the loops over independent output elements (with `parallel=True`, the outermost
  one is an `scf.parallel`: LLVM runs it on threads); `accumulate` makes a reduction, an scf.for
  nest whose `iter_args` carry the accumulators;
- index arithmetic with constants folds as it is built (`i * 1 + 0` is `i`), so an affine
  expression of the loop indices is as short as it can be.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from lamina.compiler.attributes import FloatAttr, IntegerAttr
from lamina.compiler.builder import Builder, InsertionPoint
from lamina.compiler.errors import LaminaError
from lamina.compiler.ir import Block, Operation, Value
from lamina.compiler.location import UnknownLoc
from lamina.compiler.types import FloatType, IndexType, IntegerType, Type, i1
from lamina.dialects import arith, math as mathd, memref, scf

INDEX = IndexType()


class LoweringError(LaminaError):
    """An nn op (or a type) the loop lowering does not handle: the op, where it is, and the
    backend to use instead."""


def unsupported(op: Operation, why: str = "has no loop lowering") -> LoweringError:
    """The one-line error for an op `lower-nn-to-loops` cannot lower."""
    where = "" if isinstance(op.location, UnknownLoc) else f" at {op.location}"
    return LoweringError(f"'{op.name}' op{where} {why}", pos=op.source_pos,
                         hint="compile this model with the TVM backend instead (--backend tvm)")


# ---------------------------------------------------------------------------------------------
# The table of op lowerings, filled by the family modules

LOWERINGS: dict[str, Callable] = {}


def lowers(*names: str):
    """Decorator: `fn(L, op, inputs, outputs)` lowers the ops `names`; inputs and outputs are
    memref values (one per operand, one per result), the outputs to be written."""
    def register(fn):
        for name in names:
            LOWERINGS[name] = fn
        return fn
    return register


def row_major(shape) -> tuple[int, ...]:
    strides, step = [], 1
    for d in reversed(shape):
        strides.append(step)
        step *= d
    return tuple(reversed(strides))


def is_float(t: Type) -> bool:
    return isinstance(t, FloatType)


# ---------------------------------------------------------------------------------------------
# The emitter


class Loops:
    """Emits loop IR into one function body (see the module docstring)."""

    def __init__(self, block: Block, parallel: bool = False):
        self.block = block
        self.b = Builder.at_end(block)
        self.parallel = parallel
        self._constants: dict[tuple, Value] = {}
        self._last_constant: Operation | None = None
        self.known: dict[Value, int] = {}  # index constants -> their value

    # -- constants, hoisted to the top of the function ---------------------------------------

    def constant(self, value, type: Type, name: str | None = None) -> Value:
        """A scalar constant of `type` (made once per function, at its top)."""
        if isinstance(type, FloatType):
            value = float(np.asarray(value, type.numpy_dtype))
            key = (str(type), "f", np.asarray(value, np.float64).tobytes())
            attr = FloatAttr(value, type)
        else:
            value = int(value)
            key = (str(type), "i", value)
            attr = IntegerAttr(value, type)
        if key in self._constants:
            return self._constants[key]
        op = arith.ConstantOp.from_attr(attr)
        anchor = self._last_constant.next_op if self._last_constant is not None else self.block.first_op
        self.block.insert_before(op, anchor)
        self._last_constant = op
        if name is None:
            if isinstance(type, IndexType):
                name = f"c{value}" if value >= 0 else f"c_{-value}"
            elif type == i1:
                name = "true" if value else "false"
            else:
                name = "cst"
        op.result.name_hint = name
        self._constants[key] = op.result
        if isinstance(type, IndexType):
            self.known[op.result] = value
        return op.result

    def index(self, n: int) -> Value:
        return self.constant(int(n), INDEX)

    # -- creating ops ----------------------------------------------------------------------------

    def create(self, op_class, *operands, name: str | None = None, result_types=None, **props) -> Operation:
        op = self.b.create(op_class, *operands, result_types=result_types, **props)
        if name is not None and op.results:
            op.results[0].name_hint = name
        return op

    def value(self, op_class, *operands, name: str | None = None, result_types=None, **props) -> Value:
        return self.create(op_class, *operands, name=name, result_types=result_types, **props).results[0]

    # -- index arithmetic, folding constants -----------------------------------------------------

    def add(self, a: Value, b: Value | int, name: str | None = None) -> Value:
        if isinstance(b, int):
            if b == 0:
                return a
            if a in self.known:
                return self.index(self.known[a] + b)
            if b < 0:
                return self.value(arith.SubIOp, a, self.index(-b), name=name)
            b = self.index(b)
        if a in self.known and b in self.known:
            return self.index(self.known[a] + self.known[b])
        if self.known.get(a) == 0:
            return b
        if self.known.get(b) == 0:
            return a
        if b in self.known and self.known[b] < 0:
            return self.value(arith.SubIOp, a, self.index(-self.known[b]), name=name)
        return self.value(arith.AddIOp, a, b, name=name)

    def mul(self, a: Value, k: int, name: str | None = None) -> Value:
        if k == 1:
            return a
        if a in self.known:
            return self.index(self.known[a] * k)
        if k == 0:
            return self.index(0)
        return self.value(arith.MulIOp, a, self.index(k), name=name)

    def affine(self, terms: Sequence[tuple[Value, int]], const: int = 0, name: str | None = None) -> Value:
        """sum(iv * k for iv, k in terms) + const, as few ops as it takes."""
        total = None
        for v, k in terms:
            if k == 0:
                continue
            term = self.mul(v, k)
            total = term if total is None else self.add(total, term)
        if total is None:
            return self.index(const)
        out = self.add(total, const)
        if name is not None and out not in self.known and out.name_hint is None:
            out.name_hint = name
        return out

    def div(self, a: Value, k: int) -> Value:
        """a // k for a >= 0."""
        if k == 1:
            return a
        if a in self.known:
            return self.index(self.known[a] // k)
        return self.value(arith.DivUIOp, a, self.index(k))

    def rem(self, a: Value, k: int) -> Value:
        """a % k for a >= 0."""
        if k == 1:
            return self.index(0)
        if a in self.known:
            return self.index(self.known[a] % k)
        return self.value(arith.RemUIOp, a, self.index(k))

    def cmp_index(self, predicate: str, a: Value, b: Value | int) -> Value:
        b = self.index(b) if isinstance(b, int) else b
        return self.value(arith.CmpIOp, a, b, predicate=IntegerAttr(arith.CMPI_PREDICATES.index(predicate)))

    def all_of(self, conditions: list[Value]) -> Value | None:
        out = None
        for c in conditions:
            out = c if out is None else self.value(arith.AndIOp, out, c)
        return out

    def in_bounds(self, pairs: Sequence[tuple[Value, int, bool, bool]]) -> Value | None:
        """The i1 that every (index, size, check_low, check_high) has 0 <= index < size (only the
        checks asked for), or None when none is needed."""
        conditions = []
        for v, size, low, high in pairs:
            if low:
                conditions.append(self.cmp_index("sge", v, 0))
            if high:
                conditions.append(self.cmp_index("slt", v, size))
        inside = self.all_of(conditions)
        if inside is not None:
            inside.name_hint = "inside"
        return inside

    # -- memory ------------------------------------------------------------------------------------

    def load(self, buffer: Value, indices: Sequence[Value], name: str | None = None) -> Value:
        return self.value(memref.LoadOp, buffer, *indices, name=name)

    def store(self, value: Value, buffer: Value, indices: Sequence[Value]) -> None:
        self.b.insert(memref.StoreOp.create(value, buffer, list(indices)))

    def load_broadcast(self, buffer: Value, out_indices: Sequence[Value], name: str | None = None) -> Value:
        """Element `out_indices` of an operand that broadcasts (numpy's rules) to the output."""
        shape = buffer.type.shape
        lead = len(out_indices) - len(shape)
        idx = [self.index(0) if d == 1 else out_indices[lead + k] for k, d in enumerate(shape)]
        return self.load(buffer, idx, name=name)

    # -- loops -------------------------------------------------------------------------------------

    def _in(self, block: Block):
        return self.b.at(InsertionPoint.at_end(block))

    def loop(self, lo: int, hi: int, step: int, name: str, body: Callable[[Value], None],
             parallel: bool = False) -> None:
        """`for name in range(lo, hi, step): body(name)`: an scf.for, or with `parallel` an
        scf.parallel. No loop when it runs once (`name` is then the constant `lo`), nothing when
        it runs never."""
        if hi <= lo:
            return
        if hi - lo <= step:
            body(self.index(lo))
            return
        bounds = self.index(lo), self.index(hi), self.index(step)
        if parallel:
            loop, terminator = scf.ParallelOp.create(*([v] for v in bounds)), scf.ReduceOp()
        else:
            loop, terminator = scf.ForOp.create(*bounds), scf.YieldOp()
        self.b.insert(loop)
        block = loop.body.blocks[0]
        block.args[0].name_hint = name
        with self._in(block):
            body(block.args[0])
        block.append(terminator)

    def nest(self, extents: Sequence[int], names: Sequence[str], body: Callable[[list[Value]], None],
             parallel: bool | None = None) -> None:
        """Loops over every index of `extents` (outermost first), calling `body(ivs)` inside.
        Extent-1 dims get no loop (their index is %c0). With `parallel` (default: the emitter's
        setting) the outermost loop is an scf.parallel."""
        parallel = self.parallel if parallel is None else parallel
        ivs: list[Value] = []

        def level(d: int, first: bool) -> None:
            if d == len(extents):
                body(list(ivs))
                return

            def inner(iv: Value) -> None:
                ivs.append(iv)
                level(d + 1, first and extents[d] == 1)  # (an extent-1 dim makes no loop)
                ivs.pop()
            self.loop(0, extents[d], 1, names[d], inner, parallel=first and parallel)

        level(0, True)

    def accumulate(self, extents: Sequence[int], names: Sequence[str], inits: Sequence[Value],
                   body: Callable[[list[Value], list[Value]], list[Value]],
                   acc_names: Sequence[str] | None = None) -> list[Value]:
        """A reduction: scf.for loops over `extents` whose iter_args carry the accumulators,
        starting at `inits`; `body(ivs, accs)` returns the next accumulators. Returns the last."""
        acc_names = list(acc_names or ["acc"] * len(inits))
        ivs: list[Value] = []

        def level(d: int, accs: list[Value]) -> list[Value]:
            if d == len(extents):
                return list(body(list(ivs), accs))
            if extents[d] == 1:
                ivs.append(self.index(0))
                out = level(d + 1, accs)
                ivs.pop()
                return out
            if extents[d] == 0:
                return accs
            loop = scf.ForOp.create(self.index(0), self.index(extents[d]), self.index(1), accs)
            self.b.insert(loop)
            block = loop.body.blocks[0]
            block.args[0].name_hint = names[d]
            for arg, n in zip(block.args[1:], acc_names):
                arg.name_hint = n
            for r, n in zip(loop.results, acc_names):
                r.name_hint = n
            ivs.append(block.args[0])
            with self._in(block):
                new = level(d + 1, list(block.args[1:]))
                self.b.insert(scf.YieldOp(operands=new))
            ivs.pop()
            return list(loop.results)

        return level(0, list(inits))

    def if_else(self, condition: Value | None, then: Callable[[], list[Value]],
                otherwise: Callable[[], list[Value]], types: Sequence[Type], name: str | None = None) -> list[Value]:
        """scf.if with results: `then()` where `condition` holds, else `otherwise()`; with no
        condition, just `then()`."""
        if condition is None:
            return then()
        op = scf.IfOp.create(condition, result_types=list(types))
        self.b.insert(op)
        for region, fn in ((op.thenRegion, then), (op.elseRegion, otherwise)):
            block = region.blocks[0]
            with self._in(block):
                values = fn()
                self.b.insert(scf.YieldOp(operands=values))
        if name is not None:
            for r in op.results:
                r.name_hint = name
        return list(op.results)

    def when(self, condition: Value | None, then: Callable[[], None]) -> None:
        """scf.if without results (or just `then()` with no condition)."""
        if condition is None:
            then()
            return
        op = scf.IfOp.create(condition, with_else=False)
        self.b.insert(op)
        block = op.thenRegion.blocks[0]
        with self._in(block):
            then()
            self.b.insert(scf.YieldOp())

    # -- scalar arithmetic on element values --------------------------------------------------

    def binary(self, kind: str, a: Value, b: Value, name: str | None = None) -> Value:
        """add, sub, mul, div, max, min on floats or integers."""
        t = a.type
        table = FLOAT_BINARY if is_float(t) else INT_BINARY
        if kind not in table:
            raise LoweringError(f"no {kind} on {t} in the loop lowering")
        return self.value(table[kind], a, b, name=name)

    def addf(self, a, b, name=None):
        return self.binary("add", a, b, name)

    def subf(self, a, b, name=None):
        return self.binary("sub", a, b, name)

    def mulf(self, a, b, name=None):
        return self.binary("mul", a, b, name)

    def divf(self, a, b, name=None):
        return self.binary("div", a, b, name)

    def maxf(self, a, b, name=None):
        return self.binary("max", a, b, name)

    def minf(self, a, b, name=None):
        return self.binary("min", a, b, name)

    def math(self, op_class, *operands, name=None) -> Value:
        return self.value(op_class, *operands, name=name)

    def cmpf(self, predicate: str, a: Value, b: Value, name=None) -> Value:
        return self.value(arith.CmpFOp, a, b, name=name,
                          predicate=IntegerAttr(arith.CMPF_PREDICATES.index(predicate)))

    def cmpi(self, predicate: str, a: Value, b: Value, name=None) -> Value:
        return self.value(arith.CmpIOp, a, b, name=name,
                          predicate=IntegerAttr(arith.CMPI_PREDICATES.index(predicate)))

    def select(self, c: Value, a: Value, b: Value, name=None) -> Value:
        return self.value(arith.SelectOp, c, a, b, name=name)

    def cast(self, v: Value, to: Type, name=None) -> Value:
        """Convert a scalar to `to` as numpy's astype does (float -> int truncates)."""
        src = v.type
        if src == to:
            return v
        if isinstance(src, IndexType) or isinstance(to, IndexType):
            if isinstance(src, IndexType) and is_float(to):
                v = self.value(arith.IndexCastOp, v, result_types=[IntegerType(64)])
                return self.value(arith.SIToFPOp, v, result_types=[to], name=name)
            return self.value(arith.IndexCastOp, v, result_types=[to], name=name)
        if is_float(src) and is_float(to):
            cls = arith.ExtFOp if src.width < to.width else arith.TruncFOp
            return self.value(cls, v, result_types=[to], name=name)
        if is_float(src):  # -> integer (i1: != 0)
            if to == i1:
                return self.cmpf("une", v, self.constant(0.0, src), name=name)
            return self.value(arith.FPToSIOp, v, result_types=[to], name=name)
        if is_float(to):  # integer -> float; i1 is unsigned
            cls = arith.UIToFPOp if src == i1 else arith.SIToFPOp
            return self.value(cls, v, result_types=[to], name=name)
        if to == i1:
            return self.cmpi("ne", v, self.constant(0, src), name=name)
        if src.width < to.width:
            cls = arith.ExtUIOp if src == i1 else arith.ExtSIOp
            return self.value(cls, v, result_types=[to], name=name)
        return self.value(arith.TruncIOp, v, result_types=[to], name=name)


FLOAT_BINARY = {"add": arith.AddFOp, "sub": arith.SubFOp, "mul": arith.MulFOp, "div": arith.DivFOp,
                "max": arith.MaximumFOp, "min": arith.MinimumFOp, "pow": mathd.PowFOp}
INT_BINARY = {"add": arith.AddIOp, "sub": arith.SubIOp, "mul": arith.MulIOp, "div": arith.DivSIOp,
              "max": arith.MaxSIOp, "min": arith.MinSIOp}
