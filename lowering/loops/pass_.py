"""The `lower-nn-to-loops` pass: nn functions on tensors -> plain loops on memrefs.

    lamina opt model.onnx -O3 -p lower-nn-to-loops            # scf.for everywhere
    lamina opt model.onnx -O3 -p "lower-nn-to-loops{parallel=true}"

turns

    func.func @main(%x: tensor<1x3x8x8xf32>) -> tensor<1x10xf32> { ... nn ops ... }

into a function in destination-passing style: the inputs as memrefs, then one memref per result
that the caller allocates and the function writes, and nothing returned:

    func.func @main(%x: memref<1x3x8x8xf32>, %out0: memref<1x10xf32>) attributes {lamina.num_results = 1 : i64} {
      ... loops ...
      func.return
    }

(`lamina.num_results` says how many trailing arguments are results; `loop_signature` reads it).

The algorithm, in five steps:

1. **Flatten.** nn.fused groups are inlined: their ops are lowered one after another, each its
   own loop nest over its own buffer (a later loop-fusion pass merges producer and consumer).
   Every op is checked first: one the lowering does not cover is a `LoweringError` naming it,
   before anything changes.
2. **Buffers.** Each value gets a place: a function input is its argument; a constant
   (nn.constant, a tensor arith.constant) a `memref.global "private" constant` read with
   memref.get_global; a result of the function the caller's buffer (`%out0`), written directly
   by the op that computes it; a reshape / flatten / squeeze / unsqueeze / identity / dropout a
   view of its operand's buffer (`memref.reinterpret_cast`, no copy); every other value a view
   into one arena (per element type).
3. **Planning** (runtime/memory_plan.py, the TVM backend's planner): the ops that compute are
   steps 0..n-1; a buffer lives from the step that writes it to the last step that reads it or
   any view of it; the greedy-by-size planner gives buffers whose lives do not overlap the same
   bytes. The arena is one `memref.alloc` (64-byte aligned), freed with `memref.dealloc` at the
   end. No buffer is shared with an operand of the op that writes it (lives overlap at that step).
4. **Loops.** Each op's lowering (`LOWERINGS`, one module per op family) writes its result
   buffers with loop nests (builder.py); constants and loop bounds are made once at the top.
5. **Results.** A result that is an input, a constant, a view, or a value returned twice is
   copied into its buffer (memref.copy) at the end.

`parallel=true` makes the outermost loop of each nest over independent output elements an
scf.parallel (the LLVM backend runs it on threads); reductions stay scf.for with iter_args.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lamina.compiler.attributes import DenseElementsAttr, IntegerAttr, StringAttr, SymbolRefAttr
from lamina.compiler.ir import Operation, Value
from lamina.compiler.passes.pass_base import Pass, register_pass
from lamina.compiler.types import FloatType, IntegerType, MemRefType, RankedTensorType, i64
from lamina.dialects import memref
from lamina.dialects.func import FuncOp, ReturnOp
from lamina.runtime.memory_plan import ALIGN, Buffer, plan_buffers

from . import conv, elementwise, image, linalg, norm, pool, reduce, shape  # noqa: F401  (fill LOWERINGS)
from .builder import LOWERINGS, LoweringError, Loops, row_major, unsupported
from .shape import VIEW_OPS

NUM_RESULTS = "lamina.num_results"
"""The discardable attribute of a lowered function: how many trailing arguments are results."""

CONSTANT_OPS = ("nn.constant", "arith.constant")


@register_pass
@dataclass(frozen=True)
class LowerNnToLoopsPass(Pass):
    """Lower every function of nn ops on tensors to loops on memrefs (scf / memref / arith / math)."""

    name = "lower-nn-to-loops"
    summary = "nn ops on tensors -> loops on memrefs in destination-passing style (for the LLVM backend)"
    parallel: bool = False

    def run(self, module: Operation) -> None:
        count = lower_to_loops(module, parallel=self.parallel, _count=True)
        self.statistics["functions lowered"] += count


def lower_to_loops(module: Operation, parallel: bool = False, _count: bool = False):
    """Lower every func.func of `module` that works on tensors to loops, in place; returns the
    module (or, for the pass, how many functions it lowered). See the module docstring."""
    functions = [op for op in module.regions[0].blocks[0] if isinstance(op, FuncOp) and not op.is_declaration
                 and _on_tensors(op)]
    for fn in functions:
        _check(fn)
    taken = {op.properties["sym_name"].value for op in module.walk() if "sym_name" in op.properties
             and isinstance(op.properties["sym_name"], StringAttr)}
    for fn in functions:
        FunctionLowering(fn, taken, parallel).run()
    return len(functions) if _count else module


def loop_signature(module: Operation, function: str = "main") -> tuple[list[MemRefType], list[MemRefType]]:
    """(input memref types, result memref types) of a lowered function, in argument order: a
    runner allocates one array per result type and calls `jit(module).call(function, *inputs,
    *outputs)`."""
    fn = next((op for op in module.regions[0].blocks[0] if isinstance(op, FuncOp)
               and op.sym_name.value == function), None)
    if fn is None or NUM_RESULTS not in fn.attributes:
        raise LoweringError(f"no function @{function} lowered by lower-nn-to-loops in the module",
                            hint="run the lower-nn-to-loops pass first")
    n = fn.attributes[NUM_RESULTS].value
    types = list(fn.type.inputs)
    return types[:len(types) - n], types[len(types) - n:]


def output_arrays(module: Operation, function: str = "main") -> list[np.ndarray]:
    """Fresh numpy arrays for a lowered function's results (its last arguments)."""
    _, outs = loop_signature(module, function)
    return [np.empty(t.shape, t.element_type.numpy_dtype) for t in outs]


# ---------------------------------------------------------------------------------------------


def _on_tensors(fn: FuncOp) -> bool:
    return any(isinstance(t, RankedTensorType) for t in (*fn.type.inputs, *fn.type.results)) or any(
        op.name.startswith("nn.") for op in fn.walk())


def _flatten(fn: FuncOp) -> tuple[list[Operation], dict]:
    """The ops of `fn` with nn.fused groups inlined, and the alias of each group's block
    argument (its operand) and result (what its nn.yield yields)."""
    ops, alias = [], {}

    def walk(block):
        for op in block:
            if op.name in ("func.return", "nn.yield"):
                continue
            if op.name == "nn.fused":
                alias.update(zip(op.block.args, op.operands))
                walk(op.block)
                alias.update(zip(op.results, op.block.last_op.operands))
                continue
            ops.append(op)

    walk(fn.entry)
    return ops, alias


def _check(fn: FuncOp) -> None:
    """Raise a LoweringError for the first op or type the lowering cannot take."""
    ops, _ = _flatten(fn)
    for arg in fn.entry.args:
        _check_type(arg.type, fn, f"argument %{arg.name_hint or arg.index}")
    for op in ops:
        if op.name in CONSTANT_OPS or op.name in VIEW_OPS or op.name in LOWERINGS:
            for v in (*op.operands, *op.results):
                _check_type(v.type, op, "a value")
            continue
        if op.name == "nn.shape" and op.x.type.has_static_shape:
            continue
        raise unsupported(op)


def _check_type(t, op: Operation, what: str) -> None:
    if not isinstance(t, RankedTensorType):
        raise unsupported(op, f"has {what} of type {t}; the loop lowering takes tensors")
    if not t.has_static_shape:
        raise unsupported(op, f"has {what} of type {t}; the loop lowering needs static shapes")
    e = t.element_type
    if not (isinstance(e, IntegerType) or isinstance(e, FloatType) and e.name in ("f16", "f32", "f64")):
        raise unsupported(op, f"has {what} of type {t}; the loop lowering takes f16/f32/f64 and integers")


def memref_of(t: RankedTensorType) -> MemRefType:
    return MemRefType(t.shape, t.element_type)


def _nbytes(t) -> int:
    return int(np.prod(t.shape, dtype=np.int64)) * np.dtype(t.element_type.numpy_dtype).itemsize


def _short(op: Operation) -> str:
    return op.name.split(".", 1)[1]


class FunctionLowering:
    """Lowers one function (see the module docstring's steps)."""

    def __init__(self, fn: FuncOp, taken_symbols: set, parallel: bool):
        self.fn = fn
        self.taken = taken_symbols
        self.parallel = parallel

    def run(self) -> None:
        fn = self.fn
        ops, self.alias = _flatten(fn)
        results = [self.resolve(v) for v in fn.entry.last_op.operands]
        steps = [op for op in ops if op.name in LOWERINGS and op.name not in VIEW_OPS]
        step_of = {op: s for s, op in enumerate(steps)}

        # which computed values are written straight into a result buffer
        direct: dict[Value, int] = {}
        for k, v in enumerate(results):
            owner = getattr(v, "op", None)
            if owner in step_of and v not in direct:
                direct[v] = k
        copies = [(v, k) for k, v in enumerate(results) if direct.get(v) != k]

        # 3. liveness of each computed value (through the views of it) and the plan
        root: dict[Value, Value] = {}
        for op in ops:
            if op.name in VIEW_OPS:
                root[op.results[0]] = root.get(self.resolve(op.operands[0]), self.resolve(op.operands[0]))
        last: dict[Value, int] = {}
        for s, op in enumerate(steps):
            for v in op.operands:
                r = self.root(v, root)
                last[r] = max(last.get(r, -1), s)
        for v, _ in copies:
            last[self.root(v, root)] = len(steps)
        planned: dict[str, list[tuple[Value, Buffer]]] = {}
        for s, op in enumerate(steps):
            for r in op.results:
                if r in direct:
                    continue
                b = Buffer(r.name_hint or _short(op), _nbytes(r.type), s, max(s, last.get(r, s)))
                planned.setdefault(str(r.type.element_type), []).append((r, b))

        # 4. the new function
        inputs = [memref_of(a.type) for a in fn.entry.args]
        outputs = [memref_of(v.type) for v in results]
        new = FuncOp.create_with_body(fn.sym_name.value, inputs + outputs, ())
        if fn.sym_visibility is not None:
            new.sym_visibility = fn.sym_visibility
        new.attributes[NUM_RESULTS] = IntegerAttr(len(outputs), i64)
        new.location = fn.location
        entry = new.entry
        for old, arg in zip(fn.entry.args, entry.args):
            arg.name_hint = old.name_hint
            arg.location = old.location
        out_args = entry.args[len(inputs):]
        for k, arg in enumerate(out_args):
            arg.name_hint = f"out{k}"
        self.module_block = fn.parent
        self.new = new
        L = self.L = Loops(entry, parallel=self.parallel)

        self.env: dict[Value, Value] = dict(zip(fn.entry.args, entry.args))
        for v, k in direct.items():
            self.env[v] = out_args[k]
        arenas = self.allocate(planned, steps)

        for op in ops:
            if op.name in CONSTANT_OPS or op.name == "nn.shape":
                self.env[op.results[0]] = self.constant(op)
            elif op.name in VIEW_OPS:
                self.env[op.results[0]] = self.view(self.buffer(op.operands[0]), op.results[0].type,
                                                    op.results[0].name_hint or _short(op))
            else:
                for r in op.results:
                    if r not in self.env:
                        arena, offset = arenas[r]
                        self.env[r] = self.view(arena, r.type, r.name_hint or _short(op), offset)
                LOWERINGS[op.name](L, op, [self.buffer(v) for v in op.operands], [self.env[r] for r in op.results])

        for v, k in copies:
            L.b.insert(memref.CopyOp(operands=[self.buffer(v), out_args[k]]))
        for arena in self.arena_values:
            L.b.insert(memref.DeallocOp(operands=[arena]))
        L.b.insert(ReturnOp(operands=[]))
        self.module_block.insert_before(new, fn)
        fn.erase()

    # -- values and buffers -----------------------------------------------------------------------

    def resolve(self, v: Value) -> Value:
        while v in self.alias:
            v = self.alias[v]
        return v

    def root(self, v: Value, roots: dict) -> Value:
        v = self.resolve(v)
        return roots.get(v, v)

    def buffer(self, v: Value) -> Value:
        return self.env[self.resolve(v)]

    def allocate(self, planned: dict, steps: list) -> dict:
        """Plan each element type's buffers into one arena; value -> (arena, element offset)."""
        where, self.arena_values = {}, []
        for element, entries in planned.items():
            plan = plan_buffers([b for _, b in entries], len(steps), align=ALIGN)
            t = entries[0][0].type.element_type
            itemsize = np.dtype(t.numpy_dtype).itemsize
            size = max(1, -(-plan.arena_bytes // itemsize))
            alloc = memref.AllocOp.create(MemRefType((size,), t), alignment=ALIGN)
            alloc.result.name_hint = "arena" if len(planned) == 1 else f"arena_{element}"
            self.L.b.insert(alloc)
            self.arena_values.append(alloc.result)
            for value, b in entries:
                where[value] = (alloc.result, b.offset // itemsize)
        return where

    def view(self, source: Value, t: RankedTensorType, name: str, offset: int | None = None) -> Value:
        """`source` (contiguous) seen as a row-major memref of `t`'s shape, at `offset`
        elements from the start of its buffer (default: where `source` starts)."""
        if offset is None:
            offset = source.type.strides_and_offset()[1]
        op = memref.ReinterpretCastOp.create(source, [offset], t.shape, row_major(t.shape))
        op.result.name_hint = name
        self.L.b.insert(op)
        return op.result

    def constant(self, op: Operation) -> Value:
        """A memref.global holding the constant (inserted before the function), read here."""
        t = op.results[0].type
        if op.name == "nn.shape":
            dims = op.x.type.shape[op.dims(op.properties, op.x.type.rank)]
            value = DenseElementsAttr(t, np.array(dims, np.int64))
        else:
            value = op.properties["value"]
        name = self.symbol(op.results[0].name_hint or "cst")
        g = memref.GlobalOp.create(name, value)
        g.location = op.location
        self.module_block.insert_before(g, self.fn)
        get = memref.GetGlobalOp(result_types=[g.memref_type],
                                 properties={"name": SymbolRefAttr(name)})
        get.result.name_hint = op.results[0].name_hint
        self.L.b.insert(get)
        return get.result

    def symbol(self, hint: str) -> str:
        base = "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in hint) or "cst"
        if base[0].isdigit():
            base = "c" + base
        name, k = base, 0
        while name in self.taken:
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name
