"""Loop IR -> LLVM IR, built with `llvmlite.ir`: what `mlir-translate --mlir-to-llvmir` does after
MLIR's conversions to the llvm dialect, in one step.

The input is a `builtin.module` of `func.func`s (and `memref.global`s) whose bodies use `scf`
(for, if, parallel), `memref`, `arith` and `math` on scalars and statically shaped memrefs, and
`vector` (load, store, broadcast, fma) on 1-D vectors. The
output is an `llvmlite.ir.Module`, not yet verified: `jit.verify` checks every module with LLVM's
verifier before anything else reads it.

The conventions, in the order a reader meets them:

1. Types. `index` is i64; `iN` is iN; f16/f32/f64 are half/float/double (llvmlite has no bfloat,
   so bf16 is refused). A memref is a pointer to its element type. `vector<16xf32>` is
   `<16 x float>`: vector.fma is `llvm.fma.v16f32`, vector.load/store one load/store of the
   vector at its first element's address (aligned to the element only).
2. Memrefs: MLIR's bare-pointer calling convention (`use-bare-ptr-memref-call-conv`). Shapes and
   strides are static, so they live in the type, not in a descriptor at run time; a memref value
   is only a pointer, **to its element [0, ..., 0]** (MLIR keeps the buffer's base and the offset
   apart; here the offset is already added when a view is made). So `memref.load %m[%i, %j]` is
   `getelementptr %m, i*stride0 + j*stride1` and a load; `memref.subview` and
   `memref.reinterpret_cast` are one `getelementptr` each; casts and reshapes are the same pointer.
3. Memory. `memref.alloc` calls libc's `aligned_alloc(alignment, size)` (the op's `alignment`, or
   64 bytes: a cache line, and a whole AVX-512 vector), the size rounded up to a multiple of the
   alignment as C11 asks; `memref.dealloc` calls `free`. `memref.alloca` is an LLVM `alloca` in the
   function's first block (its size is static, so one slot per function is enough, even inside a
   loop). Heap buffers never become allocas here: a buffer a function returns must outlive it.
4. Globals. `memref.global` with a small `initial_value` becomes an LLVM global holding the
   numbers (embedded in the IR); a big one (over `embed_limit` bytes, 64 KiB by default), and any
   the caller asks to bind, becomes an *external* global: the JIT points its symbol at a numpy
   buffer (`llvm.add_symbol`) before linking. Writing megabytes of weights as IR constants makes
   LLVM parse, optimize and copy them (seconds per model); binding costs nothing and lets the
   caller swap weights without recompiling. `initial_value` absent is a declaration (it must be
   bound); `uninitialized` is zero-filled.
5. Control flow. `scf.for` is a loop with a header block whose phi nodes carry the induction
   variable and the `iter_args`; `scf.if` is a branch and a merge block with one phi per result;
   `scf.parallel` is outlined into its own function and run on threads (see `parallel.py`).
6. Functions. `func.func` keeps its name and takes bare pointers; one result is returned as is,
   several as an LLVM struct. For callers outside LLVM (the JIT), every public function with a
   body also gets `void @_mlir_<name>(ptr %packed)`, MLIR ExecutionEngine's packed interface:
   `packed[i]` points at argument i, then at a slot for each result. One C signature for every
   function, so Python never has to match a C ABI for structs or halves.
7. Integer division. LLVM's `sdiv`/`udiv`/`srem`/`urem` are undefined for a zero divisor (and
   `sdiv` for MIN / -1); on x86 they trap and kill the process. Here a zero divisor gives a
   quotient of 0 and a remainder equal to the dividend (the interpreter's arith.divsi/remsi), and
   MIN / -1 wraps to MIN. For constant divisors LLVM folds the checks away.

How to read this file: `Translator.translate_op` looks the op's name up in `OP_TRANSLATIONS`, a
table filled by the `@translates(...)` lines above each method. The sections follow the dialects:
module and func, arith, math, memref, vector, scf. An op not in the table is an `LLVMTranslationError`
naming the op and where it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from llvmlite import ir

from lamina.compiler.attributes import (DenseArrayAttr, DenseElementsAttr, FloatAttr, IntegerAttr,
                                        StringAttr, SymbolRefAttr, TypeAttr, UnitAttr)
from lamina.compiler.errors import LaminaError
from lamina.compiler.ir import BlockArgument, Block, Operation, OpResult, Value
from lamina.compiler.location import UnknownLoc
from lamina.compiler.types import (FloatType, FunctionType, IndexType, IntegerType, MemRefType,
                                   RankedTensorType, Type, VectorType)

EMBED_LIMIT = 64 * 1024
"""memref.global initial values bigger than this many bytes are bound to a numpy buffer, not
written into the IR (see the module docstring, point 4)."""

DEFAULT_ALIGNMENT = 64
"""Bytes: the alignment of memref.alloc without an `alignment`, and of every global."""

DYNAMIC_INDEX = -(2 ** 63)
"""MLIR's ShapedType::kDynamic: in `static_offsets` etc., "this one is an operand"."""

I64 = ir.IntType(64)
I32 = ir.IntType(32)
I8 = ir.IntType(8)
I1 = ir.IntType(1)
PTR = I8.as_pointer()  # llvmlite prints typed pointers; LLVM reads them all as `ptr`


class LLVMTranslationError(LaminaError):
    """IR the LLVM translation cannot take: an op it does not know, a tensor or a dynamic shape."""


def op_error(op: Operation, problem: str, hint: str | None = None) -> LLVMTranslationError:
    """The error for `op`: `'memref.load' op problem`, at the op's place in the source."""
    notes = [] if isinstance(op.location, UnknownLoc) else [f"location: {op.location}"]
    return LLVMTranslationError(f"'{op.name}' op {problem}", pos=op.source_pos, hint=hint, notes=notes)


# ---------------------------------------------------------------------------------------------
# Types


def llvm_type(t: Type, op: Operation) -> ir.Type:
    """The LLVM type of an MLIR scalar or memref type (a memref is a pointer to its elements)."""
    if isinstance(t, IndexType):
        return I64
    if isinstance(t, IntegerType):
        return ir.IntType(t.width)
    if isinstance(t, FloatType):
        if t.name == "bf16":
            raise op_error(op, "uses bf16, which the LLVM translation does not support (llvmlite has no "
                               "bfloat type)", hint="compute in f32 (arith.extf / arith.truncf around it)")
        return {"f16": ir.HalfType(), "f32": ir.FloatType(), "f64": ir.DoubleType()}[t.name]
    if isinstance(t, MemRefType):
        static_layout(t, op)
        return llvm_type(t.element_type, op).as_pointer()
    if isinstance(t, VectorType):
        if t.rank != 1:
            raise op_error(op, f"uses {t}; the LLVM translation takes vectors of rank 1 only")
        return ir.VectorType(llvm_type(t.element_type, op), t.shape[0])
    if isinstance(t, RankedTensorType):
        raise op_error(op, f"works on {t}; the LLVM translation takes scalars and memrefs (loop IR)",
                       hint="lower the tensor ops to loops on memrefs first")
    raise op_error(op, f"uses type {t}, which the LLVM translation does not support")


def static_layout(t: MemRefType, op: Operation) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(shape, strides) of a memref type, all static: otherwise an error naming `op`."""
    strides, _ = t.strides_and_offset()
    if not t.has_static_shape or any(s is None for s in strides):
        raise op_error(op, f"uses {t}; the LLVM translation needs static shapes and strides",
                       hint="give every dimension and stride a number")
    return tuple(t.shape), tuple(strides)


def byte_size(t: Type) -> int:
    """Bytes of one element of an MLIR scalar type (i1 takes a byte, as numpy's bool does)."""
    return t.numpy_dtype.itemsize


def symbol(op: Operation) -> str:
    """The `sym_name` of a func.func or memref.global."""
    name = prop(op, "sym_name")
    if not isinstance(name, StringAttr):
        raise op_error(op, "needs a sym_name")
    return name.value


def prop(op: Operation, name: str):
    """A property of `op`, or the attribute of that name (older generic text puts properties
    in the attribute dictionary): the same for registered and unregistered ops."""
    value = op.properties.get(name)
    return value if value is not None else op.attributes.get(name)


def segment_sizes(op: Operation, count: int) -> list[int]:
    """The `operandSegmentSizes` of an op with variadic operand groups."""
    sizes = prop(op, "operandSegmentSizes")
    if not isinstance(sizes, DenseArrayAttr) or len(sizes.values) != count:
        raise op_error(op, f"needs operandSegmentSizes with {count} entries")
    return [int(v) for v in sizes.values]


def static_list(op: Operation, name: str) -> list[int]:
    attr = prop(op, name)
    if not isinstance(attr, DenseArrayAttr):
        raise op_error(op, f"needs the property {name} (array<i64: ...>)")
    return [int(v) for v in attr.values]


# ---------------------------------------------------------------------------------------------
# The result of a translation


@dataclass
class FunctionInfo:
    """What a caller outside LLVM needs to know about a translated function."""

    name: str
    type: FunctionType
    public: bool
    packed_name: str | None  # `_mlir_<name>`, the packed interface (None for private functions)
    # where each memref result comes from: "alloc" (the caller frees it), ("argument", i),
    # "global", or "unknown" (a view: the JIT refuses to hand it to numpy); None for scalars
    result_sources: list = field(default_factory=list)


@dataclass
class BoundGlobal:
    """A memref.global translated as an external LLVM global, to be bound to a buffer."""

    name: str  # the MLIR symbol
    symbol: str  # the LLVM symbol
    type: MemRefType
    array: np.ndarray | None  # the initial value to bind (None: the caller must give one)
    constant: bool


@dataclass
class Translation:
    module: ir.Module
    functions: dict[str, FunctionInfo]
    bound_globals: dict[str, BoundGlobal]  # by MLIR name
    num_threads_symbol: str | None  # the i64 global scf.parallel reads its thread count from


# ---------------------------------------------------------------------------------------------
# The translator

OP_TRANSLATIONS: dict[str, Callable[["Translator", Operation], None]] = {}


def translates(*names: str):
    """Register the decorated method as the translation of the ops `names`."""
    def register(fn):
        for name in names:
            OP_TRANSLATIONS[name] = fn
        return fn
    return register


TERMINATORS = {"scf.yield", "scf.reduce", "scf.reduce.return", "func.return"}
"""Read by the op that owns their block, never translated on their own."""


@dataclass
class FunctionScope:
    """Where the translator writes: the LLVM function, its builder, the values translated so far.

    `allocas` is the function's first block: `memref.alloca` and scratch slots go there, so that a
    loop does not grow the stack."""

    function: ir.Function
    builder: ir.IRBuilder
    allocas: ir.IRBuilder
    values: dict = field(default_factory=dict)


class Translator:
    """Translates one module. Use `translate_module`; the methods below are per op family."""

    def __init__(self, *, embed_limit: int = EMBED_LIMIT, bind: tuple = (), symbol_prefix: str = "",
                 num_threads: int = 1):
        self.embed_limit = embed_limit
        self.bind = set(bind)  # MLIR names of globals to bind to the caller's buffers
        self.symbol_prefix = symbol_prefix  # for the LLVM names of bound globals (unique per JIT)
        self.num_threads = num_threads
        self.module = ir.Module(name="lamina")
        self.functions: dict[str, ir.Function] = {}
        self.infos: dict[str, FunctionInfo] = {}
        self.globals: dict[str, tuple[ir.GlobalVariable, MemRefType]] = {}
        self.bound: dict[str, BoundGlobal] = {}
        self.scope: FunctionScope | None = None
        self.num_threads_global: ir.GlobalVariable | None = None
        self.outlined = 0  # scf.parallel bodies outlined so far, for their names

    # -- values ---------------------------------------------------------------------------------

    @property
    def builder(self) -> ir.IRBuilder:
        return self.scope.builder

    def value(self, v: Value) -> ir.Value:
        return self.scope.values[v]

    def bind_value(self, v: Value, llvm_value: ir.Value) -> None:
        # name the LLVM value as the MLIR text did (%sum, %i); llvmlite numbers unnamed ones ".4"
        if v.name_hint and isinstance(llvm_value, ir.Instruction) and llvm_value.name[:1] in ("", "."):
            llvm_value.name = v.name_hint
        self.scope.values[v] = llvm_value

    def bind_results(self, op: Operation, *values: ir.Value) -> None:
        for result, value in zip(op.results, values):
            self.bind_value(result, value)

    def operands(self, op: Operation) -> list[ir.Value]:
        return [self.value(v) for v in op.operands]

    # -- module ---------------------------------------------------------------------------------

    def translate(self, module: Operation) -> Translation:
        check_translatable(module)
        body = module.regions[0].blocks[0] if module.regions and module.regions[0].blocks else Block()
        ops = list(body)
        for op in ops:  # declare first: calls and get_global may come before the definition
            if op.name == "memref.global":
                self.declare_global(op)
            elif op.name == "func.func":
                self.declare_function(op)
            else:
                raise op_error(op, "cannot be translated at the top level of a module",
                               hint="a module for the LLVM translation holds func.func and memref.global")
        functions = {symbol(op): op for op in ops
                     if op.name == "func.func" and op.regions and op.regions[0].blocks}
        for op in functions.values():
            self.define_function(op)
        for name, op in functions.items():
            self.infos[name].result_sources = result_sources(op, functions)
        return Translation(self.module, self.infos, self.bound,
                           self.num_threads_global.name if self.num_threads_global else None)

    def translate_op(self, op: Operation) -> None:
        translation = OP_TRANSLATIONS.get(op.name)
        if translation is None:
            raise op_error(op, "has no LLVM translation", hint=TRANSLATABLE_HINT)
        for v in list(op.operands) + list(op.results):
            if isinstance(v.type, RankedTensorType):
                llvm_type(v.type, op)  # raises the "tensors are not loop IR" error
        translation(self, op)

    def translate_block(self, block: Block, terminators: tuple[str, ...]) -> list[ir.Value]:
        """Translate a block's ops; returns the (LLVM) values its terminator passes on. A block
        without one of `terminators` at its end (an scf.yield with nothing to yield may be left
        out) passes on nothing."""
        ops = list(block)
        last = ops[-1] if ops and ops[-1].name in terminators else None
        for op in ops if last is None else ops[:-1]:
            self.translate_op(op)
        return self.operands(last) if last is not None else []

    # -- func -----------------------------------------------------------------------------------

    def declare_function(self, op: Operation) -> None:
        name = symbol(op)
        fn_type = prop(op, "function_type")
        if not isinstance(fn_type, TypeAttr) or not isinstance(fn_type.type, FunctionType):
            raise op_error(op, "needs a function_type")
        fn_type = fn_type.type
        args = [llvm_type(t, op) for t in fn_type.inputs]
        results = [llvm_type(t, op) for t in fn_type.results]
        if not results:
            ret = ir.VoidType()
        elif len(results) == 1:
            ret = results[0]
        else:
            ret = ir.LiteralStructType(results)
        function = ir.Function(self.module, ir.FunctionType(ret, args), name=name)
        visibility = prop(op, "sym_visibility")
        private = isinstance(visibility, StringAttr) and visibility.value == "private"
        has_body = bool(op.regions and op.regions[0].blocks)
        if private and has_body:
            function.linkage = "internal"
        self.functions[name] = function
        public = has_body and not private
        self.infos[name] = FunctionInfo(name, fn_type, public, f"_mlir_{name}" if public else None)

    def define_function(self, op: Operation) -> None:
        name = symbol(op)
        function = self.functions[name]
        region = op.regions[0]
        if len(region.blocks) != 1:
            raise op_error(op, f"has {len(region.blocks)} blocks; the LLVM translation takes one block "
                               "per function (structured control flow: scf)")
        entry = region.blocks[0]
        self.scope = self.new_scope(function)
        for arg, llvm_arg in zip(entry.args, function.args):
            if arg.name_hint:
                llvm_arg.name = arg.name_hint
            self.scope.values[arg] = llvm_arg
        self.translate_block(entry, ())  # func.return included: translate_return
        if not self.builder.block.is_terminated:  # a body without func.return returns nothing
            self.builder.ret_void()
        self.finish_scope()
        info = self.infos[name]
        if info.public:
            self.define_packed_interface(info, function)

    def new_scope(self, function: ir.Function) -> FunctionScope:
        """Start writing `function`: a first block for allocas, then the body's first block."""
        allocas = ir.IRBuilder(function.append_basic_block("allocas"))
        body = function.append_basic_block("entry")
        return FunctionScope(function, ir.IRBuilder(body), allocas)

    def finish_scope(self) -> None:
        self.scope.allocas.branch(self.scope.function.blocks[1])
        self.scope = None

    @translates("func.return")
    def translate_return(self, op: Operation) -> None:
        values = self.operands(op)
        if not values:
            self.builder.ret_void()
        elif len(values) == 1:
            self.builder.ret(values[0])
        else:
            struct = ir.Constant(self.scope.function.function_type.return_type, ir.Undefined)
            for i, v in enumerate(values):
                struct = self.builder.insert_value(struct, v, i)
            self.builder.ret(struct)

    @translates("func.call")
    def translate_call(self, op: Operation) -> None:
        callee = prop(op, "callee")
        name = callee.root if isinstance(callee, SymbolRefAttr) else None
        if name not in self.functions:
            raise op_error(op, f"calls @{name}, which is not a function of this module")
        result = self.builder.call(self.functions[name], self.operands(op))
        if len(op.results) == 1:
            self.bind_results(op, result)
        else:
            self.bind_results(op, *[self.builder.extract_value(result, i) for i in range(len(op.results))])

    def define_packed_interface(self, info: FunctionInfo, function: ir.Function) -> None:
        """`void @_mlir_<name>(ptr %packed)`: load each argument through packed[i], call, store
        each result through packed[n_args + j] (MLIR ExecutionEngine's packFunctionArguments)."""
        wrapper = ir.Function(self.module, ir.FunctionType(ir.VoidType(), [PTR.as_pointer()]),
                              name=info.packed_name)
        wrapper.args[0].name = "packed"
        b = ir.IRBuilder(wrapper.append_basic_block("entry"))

        def slot(i: int, t: ir.Type) -> ir.Value:
            address = b.load(b.gep(wrapper.args[0], [ir.Constant(I64, i)]))
            return b.bitcast(address, t.as_pointer())

        fn_type = function.function_type
        args = [b.load(slot(i, t)) for i, t in enumerate(fn_type.args)]
        result = b.call(function, args)
        n_args, n_results = len(fn_type.args), len(info.type.results)
        if n_results == 1:
            b.store(result, slot(n_args, fn_type.return_type))
        for j in range(n_results if n_results > 1 else 0):
            b.store(b.extract_value(result, j), slot(n_args + j, fn_type.return_type.elements[j]))
        b.ret_void()

    # -- helpers for the sections below ---------------------------------------------------------

    def function_of(self, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
        """The module's declaration of an outside function (libc, libm) or intrinsic, made once."""
        existing = self.module.globals.get(name)
        if existing is not None:
            return existing
        return ir.Function(self.module, ir.FunctionType(ret, args), name=name)

    def intrinsic(self, name: str, t: ir.Type, count: int = 1) -> ir.Function:
        """`llvm.<name>.<type>` taking `count` operands of type `t`, e.g. llvm.sqrt.f32."""
        return self.function_of(f"llvm.{name}.{type_suffix(t)}", t, [t] * count)

    def index_constant(self, n: int) -> ir.Constant:
        return ir.Constant(I64, n)

    def emit_loop(self, lower: ir.Value, upper: ir.Value, step: ir.Value, inits: list[ir.Value],
                  body: Callable[[ir.Value, list[ir.Value]], list[ir.Value]],
                  name: str = "loop", iv_name: str | None = None) -> list[ir.Value]:
        """`for (iv = lower; iv < upper; iv += step) iters = body(iv, iters)`; returns the last
        iters. Blocks: `header` (a phi for iv and one per iter value, the exit test), `body`, and
        `exit`, where the builder is left. Used by scf.for, memref.copy and scf.parallel."""
        b = self.builder
        before = b.block
        header = b.append_basic_block(f"{name}.header")
        body_block = b.append_basic_block(f"{name}.body")
        exit_block = b.append_basic_block(f"{name}.exit")
        b.branch(header)
        b.position_at_end(header)
        iv = b.phi(lower.type, name=iv_name or "iv")
        iters = [b.phi(v.type) for v in inits]
        iv.add_incoming(lower, before)
        for phi, v in zip(iters, inits):
            phi.add_incoming(v, before)
        b.cbranch(b.icmp_signed("<", iv, upper), body_block, exit_block)
        b.position_at_end(body_block)
        new_iters = body(iv, list(iters))
        latch = b.block  # the body may have made blocks of its own
        next_iv = b.add(iv, step)
        b.branch(header)
        iv.add_incoming(next_iv, latch)
        for phi, v in zip(iters, new_iters):
            phi.add_incoming(v, latch)
        b.position_at_end(exit_block)
        return iters

    # =============================================================================================
    # arith

    @translates("arith.constant")
    def translate_constant(self, op: Operation) -> None:
        value = prop(op, "value")
        t = llvm_type(op.results[0].type, op)
        if isinstance(value, FloatAttr):
            self.bind_results(op, ir.Constant(t, float(value.value)))
        elif isinstance(value, IntegerAttr):
            self.bind_results(op, ir.Constant(t, constant_value(value.value, t)))
        else:
            raise op_error(op, "has a value that is not a scalar number; the LLVM translation takes "
                               "scalar constants (tensor constants belong in a memref.global)")

    FLOAT_BINARY = {"arith.addf": "fadd", "arith.subf": "fsub", "arith.mulf": "fmul",
                    "arith.divf": "fdiv", "arith.remf": "frem"}
    INT_BINARY = {"arith.addi": "add", "arith.subi": "sub", "arith.muli": "mul",
                  "arith.andi": "and_", "arith.ori": "or_", "arith.xori": "xor",
                  "arith.shli": "shl", "arith.shrsi": "ashr", "arith.shrui": "lshr"}
    MIN_MAX = {"arith.maximumf": "maximum", "arith.minimumf": "minimum",  # NaN in -> NaN out
               "arith.maxnumf": "maxnum", "arith.minnumf": "minnum",      # NaN in -> the other one
               "arith.maxsi": "smax", "arith.minsi": "smin", "arith.maxui": "umax", "arith.minui": "umin"}

    @translates(*FLOAT_BINARY, *INT_BINARY)
    def translate_binary(self, op: Operation) -> None:
        lhs, rhs = self.operands(op)
        instruction = self.FLOAT_BINARY.get(op.name) or self.INT_BINARY[op.name]
        self.bind_results(op, getattr(self.builder, instruction)(lhs, rhs))

    @translates(*MIN_MAX)
    def translate_min_max(self, op: Operation) -> None:
        lhs, rhs = self.operands(op)
        self.bind_results(op, self.builder.call(self.intrinsic(self.MIN_MAX[op.name], lhs.type, 2), [lhs, rhs]))

    @translates("arith.negf")
    def translate_negf(self, op: Operation) -> None:
        self.bind_results(op, self.builder.fneg(self.value(op.operands[0])))

    # -- integer division (point 7 of the module docstring) -----------------------------------

    def divide(self, a: ir.Value, b: ir.Value, signed: bool) -> tuple[ir.Value, ir.Value]:
        """(quotient, remainder) rounded toward zero, defined for every divisor: x / 0 = 0 and
        x % 0 = x; signed MIN / -1 = MIN and MIN % -1 = 0."""
        bld = self.builder
        zero, one = ir.Constant(a.type, 0), ir.Constant(a.type, 1)
        by_zero = bld.icmp_signed("==", b, zero)
        unsafe = by_zero
        if signed:
            by_minus_one = bld.icmp_signed("==", b, ir.Constant(a.type, -1))
            unsafe = bld.or_(by_zero, by_minus_one)
        safe_b = bld.select(unsafe, one, b)
        q = bld.sdiv(a, safe_b) if signed else bld.udiv(a, safe_b)
        r = bld.srem(a, safe_b) if signed else bld.urem(a, safe_b)
        if signed:  # x / -1 = -x (wrapping), x % -1 = 0
            q = bld.select(by_minus_one, bld.neg(a), q)
            r = bld.select(by_minus_one, zero, r)
        return bld.select(by_zero, zero, q), bld.select(by_zero, a, r)

    @translates("arith.divsi", "arith.remsi", "arith.divui", "arith.remui")
    def translate_div_rem(self, op: Operation) -> None:
        q, r = self.divide(*self.operands(op), signed=op.name.endswith("si"))
        self.bind_results(op, q if "div" in op.name else r)

    @translates("arith.floordivsi", "arith.ceildivsi")
    def translate_floor_ceil_div(self, op: Operation) -> None:
        """floordivsi: floor(a / b); ceildivsi: ceil(a / b). From the truncated quotient q and
        remainder r: when r != 0, q is one too big (floor) if r and b have different signs, one
        too small (ceil) if they have the same sign."""
        a, b = self.operands(op)
        bld = self.builder
        q, r = self.divide(a, b, signed=True)
        zero = ir.Constant(a.type, 0)
        inexact = bld.and_(bld.icmp_signed("!=", r, zero), bld.icmp_signed("!=", b, zero))  # x / 0 stays 0
        signs_differ = bld.icmp_signed("!=", bld.icmp_signed("<", r, zero), bld.icmp_signed("<", b, zero))
        if op.name == "arith.floordivsi":
            adjust = bld.and_(inexact, signs_differ)
            self.bind_results(op, bld.select(adjust, bld.sub(q, ir.Constant(a.type, 1)), q))
        else:
            adjust = bld.and_(inexact, bld.not_(signs_differ))
            self.bind_results(op, bld.select(adjust, bld.add(q, ir.Constant(a.type, 1)), q))

    # -- comparison and selection ------------------------------------------------------------

    # MLIR's predicate numbers (xdsl/dialects/arith.py: CMPI_/CMPF_COMPARISON_OPERATIONS) -> LLVM's
    # predicate of the same name.
    CMPI_PREDICATES = ("eq", "ne", "slt", "sle", "sgt", "sge", "ult", "ule", "ugt", "uge")
    CMPF_PREDICATES = ("false", "oeq", "ogt", "oge", "olt", "ole", "one", "ord",
                       "ueq", "ugt", "uge", "ult", "ule", "une", "uno", "true")
    ICMP_OPERATORS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}

    def predicate(self, op: Operation, names: tuple[str, ...]) -> str:
        attr = prop(op, "predicate")
        if not isinstance(attr, IntegerAttr) or not 0 <= attr.value < len(names):
            raise op_error(op, f"needs a predicate from 0 to {len(names) - 1}")
        return names[attr.value]

    @translates("arith.cmpi")
    def translate_cmpi(self, op: Operation) -> None:
        lhs, rhs = self.operands(op)
        name = self.predicate(op, self.CMPI_PREDICATES)
        if name in ("eq", "ne"):
            result = self.builder.icmp_signed(self.ICMP_OPERATORS[name], lhs, rhs)
        elif name[0] == "s":
            result = self.builder.icmp_signed(self.ICMP_OPERATORS[name[1:]], lhs, rhs)
        else:
            result = self.builder.icmp_unsigned(self.ICMP_OPERATORS[name[1:]], lhs, rhs)
        self.bind_results(op, result)

    @translates("arith.cmpf")
    def translate_cmpf(self, op: Operation) -> None:
        lhs, rhs = self.operands(op)
        # llvmlite passes a predicate it has no operator for through as written: `fcmp ueq`
        self.bind_results(op, self.builder.fcmp_ordered(self.predicate(op, self.CMPF_PREDICATES), lhs, rhs))

    @translates("arith.select")
    def translate_select(self, op: Operation) -> None:
        self.bind_results(op, self.builder.select(*self.operands(op)))

    # -- casts -------------------------------------------------------------------------------

    CASTS = {"arith.sitofp": "sitofp", "arith.uitofp": "uitofp", "arith.fptosi": "fptosi",
             "arith.fptoui": "fptoui", "arith.extf": "fpext", "arith.truncf": "fptrunc",
             "arith.extsi": "sext", "arith.extui": "zext", "arith.trunci": "trunc",
             "arith.bitcast": "bitcast"}

    @translates(*CASTS)
    def translate_cast(self, op: Operation) -> None:
        value = self.value(op.operands[0])
        target = llvm_type(op.results[0].type, op)
        self.bind_results(op, getattr(self.builder, self.CASTS[op.name])(value, target))

    @translates("arith.index_cast", "arith.index_castui")
    def translate_index_cast(self, op: Operation) -> None:
        """index <-> iN: sign-extend (index_cast) or zero-extend (index_castui) when widening,
        truncate when narrowing, nothing when the widths agree."""
        value = self.value(op.operands[0])
        target = llvm_type(op.results[0].type, op)
        if target.width > value.type.width:
            extend = self.builder.sext if op.name == "arith.index_cast" else self.builder.zext
            value = extend(value, target)
        elif target.width < value.type.width:
            value = self.builder.trunc(value, target)
        self.bind_results(op, value)

    # =============================================================================================
    # math: LLVM intrinsics where LLVM has one (it may vectorize them), else libm

    MATH_INTRINSICS = {"math.exp": "exp", "math.exp2": "exp2", "math.log": "log", "math.log2": "log2",
                       "math.sqrt": "sqrt", "math.absf": "fabs", "math.floor": "floor", "math.ceil": "ceil",
                       "math.trunc": "trunc", "math.roundeven": "roundeven", "math.round": "round",
                       "math.sin": "sin", "math.cos": "cos", "math.powf": "pow", "math.fma": "fma",
                       "math.copysign": "copysign"}
    MATH_LIBM = {"math.erf": "erf", "math.tanh": "tanh", "math.log1p": "log1p", "math.expm1": "expm1",
                 "math.atan2": "atan2"}

    @translates(*MATH_INTRINSICS)
    def translate_math_intrinsic(self, op: Operation) -> None:
        args = self.operands(op)
        fn = self.intrinsic(self.MATH_INTRINSICS[op.name], args[0].type, len(args))
        self.bind_results(op, self.builder.call(fn, args))

    @translates(*MATH_LIBM)
    def translate_math_libm(self, op: Operation) -> None:
        """A libm call: `erff` for f32, `erf` for f64; f16 is computed in f32."""
        args = self.operands(op)
        t = args[0].type
        if isinstance(t, ir.HalfType):
            args = [self.builder.fpext(a, ir.FloatType()) for a in args]
        f64 = isinstance(t, ir.DoubleType)
        name = self.MATH_LIBM[op.name] + ("" if f64 else "f")
        compute = ir.DoubleType() if f64 else ir.FloatType()
        result = self.builder.call(self.function_of(name, compute, [compute] * len(args)), args)
        if isinstance(t, ir.HalfType):
            result = self.builder.fptrunc(result, t)
        self.bind_results(op, result)

    @translates("math.rsqrt")
    def translate_rsqrt(self, op: Operation) -> None:
        x = self.value(op.operands[0])
        root = self.builder.call(self.intrinsic("sqrt", x.type), [x])
        self.bind_results(op, self.builder.fdiv(ir.Constant(x.type, 1.0), root))

    # =============================================================================================
    # memref

    def element_pointer(self, memref: ir.Value, t: MemRefType, indices: list[ir.Value],
                        op: Operation) -> ir.Value:
        """The address of element `indices` of a memref: its pointer (element [0, ..., 0]) plus
        sum(index_k * stride_k) elements."""
        _, strides = static_layout(t, op)
        b = self.builder
        flat = None
        for index, stride in zip(indices, strides):
            if stride == 0:
                continue
            term = index if stride == 1 else b.mul(index, self.index_constant(stride))
            flat = term if flat is None else b.add(flat, term)
        if flat is None:
            return memref
        return b.gep(memref, [flat], inbounds=True)

    @translates("memref.load")
    def translate_load(self, op: Operation) -> None:
        memref, *indices = op.operands
        pointer = self.element_pointer(self.value(memref), memref.type, [self.value(i) for i in indices], op)
        self.bind_results(op, self.builder.load(pointer))

    @translates("memref.store")
    def translate_store(self, op: Operation) -> None:
        value, memref, *indices = op.operands
        pointer = self.element_pointer(self.value(memref), memref.type, [self.value(i) for i in indices], op)
        self.builder.store(self.value(value), pointer)

    def alignment_of(self, op: Operation) -> int:
        attr = prop(op, "alignment")
        return int(attr.value) if isinstance(attr, IntegerAttr) else DEFAULT_ALIGNMENT

    def allocated_type(self, op: Operation) -> MemRefType:
        t = op.results[0].type
        if not isinstance(t, MemRefType) or op.operands and segment_sizes(op, 2)[0]:
            raise op_error(op, f"allocates {t} with dynamic sizes; the LLVM translation needs static shapes")
        static_layout(t, op)
        return t

    @translates("memref.alloc")
    def translate_alloc(self, op: Operation) -> None:
        """aligned_alloc(alignment, size rounded up to a multiple of the alignment)."""
        t = self.allocated_type(op)
        align = self.alignment_of(op)
        size = t.num_elements * byte_size(t.element_type)
        size = max(align, -(-size // align) * align)
        aligned_alloc = self.function_of("aligned_alloc", PTR, [I64, I64])
        raw = self.builder.call(aligned_alloc, [self.index_constant(align), self.index_constant(size)])
        self.bind_results(op, self.builder.bitcast(raw, llvm_type(t, op)))

    @translates("memref.alloca")
    def translate_alloca(self, op: Operation) -> None:
        t = self.allocated_type(op)
        count = self.index_constant(max(1, t.num_elements))
        slot = self.scope.allocas.alloca(llvm_type(t.element_type, op), size=count)
        slot.align = self.alignment_of(op)
        self.bind_results(op, slot)

    @translates("memref.dealloc")
    def translate_dealloc(self, op: Operation) -> None:
        free = self.function_of("free", ir.VoidType(), [PTR])
        self.builder.call(free, [self.builder.bitcast(self.value(op.operands[0]), PTR)])

    @translates("memref.subview")
    def translate_subview(self, op: Operation) -> None:
        """The source pointer plus sum(offset_k * source_stride_k); each offset is a number in
        `static_offsets` or, where that says dynamic, the next offset operand. The result's
        sizes and strides are in its type."""
        source = op.operands[0]
        n_offsets = segment_sizes(op, 4)[1]
        dynamic = iter(self.value(v) for v in op.operands[1:1 + n_offsets])
        offsets = [next(dynamic) if o == DYNAMIC_INDEX else self.index_constant(o)
                   for o in static_list(op, "static_offsets")]
        self.bind_results(op, self.element_pointer(self.value(source), source.type, offsets, op))

    @translates("memref.reinterpret_cast")
    def translate_reinterpret_cast(self, op: Operation) -> None:
        """The new offset counts from the source's buffer start, which is `source offset`
        elements before the source's pointer: pointer + (new offset - source offset)."""
        source = op.operands[0]
        _, source_offset = source.type.strides_and_offset()
        if source_offset is None:
            raise op_error(op, f"reinterprets {source.type}, whose offset is dynamic; the LLVM "
                               "translation needs the source's offset to be static")
        (offset,) = static_list(op, "static_offsets")
        b = self.builder
        if offset == DYNAMIC_INDEX:
            delta = b.sub(self.value(op.operands[1]), self.index_constant(source_offset))  # the offset operand
        else:
            delta = self.index_constant(offset - source_offset)
        self.bind_results(op, b.gep(self.value(source), [delta]))

    @translates("memref.cast", "memref.expand_shape", "memref.collapse_shape")
    def translate_same_pointer(self, op: Operation) -> None:
        """Only the type changes: a cast between static shapes, or a reshape of contiguous
        dimensions; the elements stay where they are."""
        llvm_type(op.results[0].type, op)
        self.bind_results(op, self.value(op.operands[0]))

    @translates("memref.copy")
    def translate_copy(self, op: Operation) -> None:
        """A loop nest over the shape, element by element (LLVM turns a contiguous one into
        memcpy)."""
        source, target = op.operands
        shape, _ = static_layout(source.type, op)
        src, dst = self.value(source), self.value(target)

        def nest(indices: list[ir.Value]) -> None:
            if len(indices) == len(shape):
                element = self.builder.load(self.element_pointer(src, source.type, indices, op))
                self.builder.store(element, self.element_pointer(dst, target.type, indices, op))
                return
            extent = self.index_constant(shape[len(indices)])
            self.emit_loop(self.index_constant(0), extent, self.index_constant(1), [],
                           lambda iv, _: nest(indices + [iv]) or [], name="copy")
        nest([])

    # -- globals ----------------------------------------------------------------------------

    def declare_global(self, op: Operation) -> None:
        """memref.global -> an LLVM global array: embedded numbers, zeros, or external (bound)."""
        name = symbol(op)
        type_attr = prop(op, "type")
        t = type_attr.type if isinstance(type_attr, TypeAttr) else None
        if not isinstance(t, MemRefType):
            raise op_error(op, "needs a memref type")
        static_layout(t, op)
        element = llvm_type(t.element_type, op)
        array_type = ir.ArrayType(element, t.num_elements)
        initial = prop(op, "initial_value")
        constant = prop(op, "constant") is not None
        values = None
        if isinstance(initial, DenseElementsAttr):
            values = np.ascontiguousarray(np.broadcast_to(initial.array, t.shape), dtype=t.element_type.numpy_dtype)
        external = name in self.bind or initial is None or (values is not None and values.nbytes > self.embed_limit)
        llvm_name = self.symbol_prefix + name if external else name
        g = ir.GlobalVariable(self.module, array_type, name=llvm_name)
        g.align = max(DEFAULT_ALIGNMENT, self.alignment_of(op))
        if external:  # only the element's alignment: a numpy buffer promises no more
            g.align = byte_size(t.element_type)
            g.linkage = "external"
            g.global_constant = constant
            self.bound[name] = BoundGlobal(name, llvm_name, t, None if name in self.bind else values, constant)
        elif values is not None:
            if isinstance(prop(op, "sym_visibility"), StringAttr) and prop(op, "sym_visibility").value == "private":
                g.linkage = "private"
            g.initializer = ir.Constant(array_type, [ir.Constant(element, constant_value(v, element))
                                                     for v in values.reshape(-1)])
            g.global_constant = constant
        elif isinstance(initial, UnitAttr) or (isinstance(initial, StringAttr) and initial.value == "uninitialized"):
            g.initializer = ir.Constant(array_type, None)  # zeroinitializer
        else:
            raise op_error(op, "has an initial_value that is not dense<...> or uninitialized")
        self.globals[name] = (g, t)

    @translates("memref.get_global")
    def translate_get_global(self, op: Operation) -> None:
        ref = prop(op, "name")
        name = ref.root if isinstance(ref, SymbolRefAttr) else None
        if name not in self.globals:
            raise op_error(op, f"reads @{name}, which is not a memref.global of this module")
        g, _ = self.globals[name]
        zero = ir.Constant(I32, 0)
        self.bind_results(op, g.gep([zero, zero]))  # the address of its first element

    # =============================================================================================
    # vector: LLVM vector values; a load or store is one instruction on the element's address

    def vector_pointer(self, op: Operation, base: Value, indices: list[Value], t: VectorType) -> ir.Value:
        """The address of the vector's first element, as a pointer to the LLVM vector type."""
        first = self.element_pointer(self.value(base), base.type, [self.value(i) for i in indices], op)
        return self.builder.bitcast(first, llvm_type(t, op).as_pointer())

    @translates("vector.load")
    def translate_vector_load(self, op: Operation) -> None:
        base, *indices = op.operands
        t = op.results[0].type
        # aligned only to its element: the micro-kernel's rows start anywhere in a buffer
        pointer = self.vector_pointer(op, base, indices, t)
        self.bind_results(op, self.builder.load(pointer, align=byte_size(t.element_type)))

    @translates("vector.store")
    def translate_vector_store(self, op: Operation) -> None:
        value, base, *indices = op.operands
        pointer = self.vector_pointer(op, base, indices, value.type)
        self.builder.store(self.value(value), pointer, align=byte_size(value.type.element_type))

    @translates("vector.broadcast")
    def translate_vector_broadcast(self, op: Operation) -> None:
        """A scalar into lane 0 of an undefined vector, then that lane shuffled into every lane (what
        clang emits for a splat; the backend makes it one vbroadcastss)."""
        source, t = op.operands[0], llvm_type(op.results[0].type, op)
        if isinstance(source.type, VectorType):
            raise op_error(op, f"broadcasts a {source.type}; the LLVM translation broadcasts scalars only")
        lane0 = self.builder.insert_element(ir.Constant(t, ir.Undefined), self.value(source), I32(0))
        zeros = ir.Constant(ir.VectorType(I32, t.count), [0] * t.count)
        self.bind_results(op, self.builder.shuffle_vector(lane0, ir.Constant(t, ir.Undefined), zeros))

    @translates("vector.fma")
    def translate_vector_fma(self, op: Operation) -> None:
        args = self.operands(op)
        self.bind_results(op, self.builder.call(self.intrinsic("fma", args[0].type, 3), args))

    # =============================================================================================
    # scf

    @translates("scf.for")
    def translate_for(self, op: Operation) -> None:
        lower, upper, step, *inits = self.operands(op)
        block = op.regions[0].blocks[0]

        def body(iv, iters):
            self.bind_value(block.args[0], iv)
            for arg, value in zip(block.args[1:], iters):
                self.bind_value(arg, value)
            return self.translate_block(block, ("scf.yield",))

        self.bind_results(op, *self.emit_loop(lower, upper, step, inits, body, name="for",
                                              iv_name=block.args[0].name_hint))

    @translates("scf.if")
    def translate_if(self, op: Operation) -> None:
        """Branch to `then` or `else`, both branch to `merge`; a phi per result joins the values
        the two sides yield."""
        b = self.builder
        then_block = b.append_basic_block("then")
        has_else = len(op.regions) > 1 and bool(op.regions[1].blocks)
        else_block = b.append_basic_block("else") if has_else else None
        merge = b.append_basic_block("merge")
        b.cbranch(self.value(op.operands[0]), then_block, else_block or merge)
        incoming = []
        for block, region in ((then_block, op.regions[0]), (else_block, op.regions[1] if has_else else None)):
            if block is None:
                continue
            b.position_at_end(block)
            values = self.translate_block(region.blocks[0], ("scf.yield",)) if region.blocks else []
            incoming.append((values, b.block))
            b.branch(merge)
        b.position_at_end(merge)
        for i, result in enumerate(op.results):
            phi = b.phi(llvm_type(result.type, op))
            for values, block in incoming:
                phi.add_incoming(values[i], block)
            self.bind_value(result, phi)

    @translates("scf.parallel")
    def translate_parallel(self, op: Operation) -> None:
        from .parallel import translate_parallel

        translate_parallel(self, op)

    def num_threads_variable(self) -> ir.GlobalVariable:
        """`@lamina.num_threads`, the i64 scf.parallel reads its thread count from (the JIT may
        change it between calls: `JitModule.num_threads`)."""
        if self.num_threads_global is None:
            g = ir.GlobalVariable(self.module, I64, name="lamina.num_threads")
            g.initializer = ir.Constant(I64, self.num_threads)
            self.num_threads_global = g
        return self.num_threads_global


# ---------------------------------------------------------------------------------------------
# Checks and small helpers


STRUCTURAL = {"builtin.module", "func.func", "memref.global"}
TRANSLATABLE_HINT = ("the LLVM translation takes loop IR: func, scf (for, if, parallel), memref, arith, "
                     "math and vector on scalars, vectors and memrefs; lower other ops to loops first")


def check_translatable(module: Operation) -> None:
    """Fail on the first op (in program order) the translation does not know, before any LLVM
    IR is made: so that `lamina opt --emit llvm` on nn IR names the op to lower first."""
    for op in module.walk():
        if op.name not in OP_TRANSLATIONS and op.name not in TERMINATORS and op.name not in STRUCTURAL:
            raise op_error(op, "has no LLVM translation", hint=TRANSLATABLE_HINT)


def type_suffix(t: ir.Type) -> str:
    """The type part of an overloaded intrinsic's name: f16, f32, f64, i32, ..."""
    if isinstance(t, ir.VectorType):
        return f"v{t.count}{type_suffix(t.element)}"
    if isinstance(t, ir.HalfType):
        return "f16"
    if isinstance(t, ir.FloatType):
        return "f32"
    if isinstance(t, ir.DoubleType):
        return "f64"
    return f"i{t.width}"


def constant_value(v, t: ir.Type):
    """A number as llvmlite's ir.Constant of type `t` wants it: integers wrapped to the width and
    written signed (i64 -5, not 18446744073709551611), i1 as 0 or 1."""
    if not isinstance(t, ir.IntType):
        return float(v)
    bits = int(v) & ((1 << t.width) - 1)
    return bits - (1 << t.width) if t.width > 1 and bits >> (t.width - 1) else bits


def result_sources(fn: Operation, functions: dict, visiting: frozenset = frozenset()) -> list:
    """Where each memref a function returns comes from, for the JIT's ownership of it
    (FunctionInfo.result_sources), following casts, and calls into the called function."""
    entry = fn.regions[0].blocks[0]
    terminator = entry.last_op
    if terminator is None or terminator.name != "func.return":
        return []
    name = symbol(fn)

    def source(value: Value):
        if not isinstance(value.type, MemRefType):
            return None
        while isinstance(value, OpResult) and value.op.name in ("memref.cast", "memref.expand_shape",
                                                                 "memref.collapse_shape"):
            value = value.op.operands[0]
        if isinstance(value, BlockArgument) and value.block is entry:
            return ("argument", value.index)
        if isinstance(value, OpResult) and value.op.name in ("memref.alloc", "memref.get_global"):
            return "alloc" if value.op.name == "memref.alloc" else "global"
        if isinstance(value, OpResult) and value.op.name == "func.call":
            callee = functions.get(getattr(prop(value.op, "callee"), "root", None))
            if callee is not None and name not in visiting:
                inner = result_sources(callee, functions, visiting | {name})
                found = inner[value.index] if value.index < len(inner) else "unknown"
                return source(value.op.operands[found[1]]) if isinstance(found, tuple) else found
        return "unknown"

    return [source(v) for v in terminator.operands]


def translate_module(module: Operation, *, embed_limit: int = EMBED_LIMIT, bind=(), symbol_prefix: str = "",
                     num_threads: int | None = None) -> Translation:
    """Translate a loop-level module to an (unverified) llvmlite module; see the module docstring.

    `bind` names memref.globals to leave external whatever their size (their buffers are bound
    by the JIT); `num_threads` is scf.parallel's initial thread count (default: parallel.NUM_THREADS)."""
    from . import parallel

    translator = Translator(embed_limit=embed_limit, bind=tuple(bind), symbol_prefix=symbol_prefix,
                            num_threads=num_threads or parallel.NUM_THREADS)
    return translator.translate(module)
