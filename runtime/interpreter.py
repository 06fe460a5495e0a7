"""The reference interpreter: runs a module's function with numpy, op by op, through each op's
`interpret`. It is the oracle every other path (passes, TVM kernels, the LLVM path) is checked
against, so it is deliberately plain: no scheduling, no memory reuse, one numpy call per op.

Two kinds of ops:
  - most ops define `interpret(*operands)`: numpy arrays in, the results out;
  - ops with regions, or that need the module (scf.for, scf.if, memref.get_global), define
    `interpret_with(interpreter, *operands)` instead, and call back `interpreter.run_block(block,
    args)` to run a nested block: it binds the block's arguments, runs its ops and returns the
    operands of its terminator (what scf.yield hands on). Values of enclosing blocks stay visible.

Memrefs are numpy arrays that ops change in place (memref.store writes into them); a view
(memref.subview, memref.reinterpret_cast) is a numpy view of the same memory. A function whose
arguments are memrefs takes the caller's arrays themselves and writes into them
(destination-passing style: `func.func @main(%x: memref<2x3xf32>, %out: memref<2x3xf32>)` fills
`out`). Each memref.global gets a fresh copy of its initial value per Interpreter.
"""

from __future__ import annotations

import numpy as np

from lamina.compiler.errors import LaminaError
from lamina.compiler.ir import Block, Operation, Value
from lamina.compiler.opdef import Terminator
from lamina.compiler.symbols import SymbolTable
from lamina.compiler.types import MemRefType, RankedTensorType, Type


class InterpreterError(LaminaError):
    """A module that cannot run: a missing function, an op without semantics, a bad input."""


def interpret(module: Operation, *inputs, function: str = "main") -> list[np.ndarray]:
    """Run `function` of `module` on numpy `inputs`; returns its results as numpy arrays."""
    return Interpreter(module).call(function, list(inputs))


class Interpreter:
    def __init__(self, module: Operation):
        self.module = module
        self.symbols = SymbolTable(module)
        self.env: dict[Value, np.ndarray] = {}  # the values of the function running now
        self.globals: dict[str, np.ndarray] = {}  # the buffer of each memref.global, once made

    def call(self, name: str, inputs: list) -> list[np.ndarray]:
        fn = self.symbols.lookup(name)
        if fn is None or fn.name != "func.func":
            known = ", ".join(sorted(n for n, op in self.symbols.symbols.items() if op.name == "func.func"))
            raise InterpreterError(f"no function @{name} in the module", hint=f"functions: {known or 'none'}")
        if fn.is_declaration:
            raise InterpreterError(f"@{name} is only declared; it has no body to run")
        params = fn.entry.args
        if len(inputs) != len(params):
            raise InterpreterError(f"@{name} takes {len(params)} input{'s' * (len(params) != 1)}, "
                                   f"got {len(inputs)}")
        args = [check_input(value, param.type, input_name(param, i))
                for i, (param, value) in enumerate(zip(params, inputs))]
        caller_env, self.env = self.env, {}  # a function sees only its own values
        try:
            return self.run_block(fn.entry, args)
        finally:
            self.env = caller_env

    def run_block(self, block: Block, args: list) -> list[np.ndarray]:
        """Run `block` with these argument values; returns the operands of its terminator."""
        env = self.env
        env.update(zip(block.args, args))
        for op in block:
            operands = [env[v] for v in op.operands]
            if op.has_trait(Terminator):
                return operands
            if op.name == "func.call":
                outs = self.call(op.callee.root, operands)
            elif hasattr(op, "interpret_with"):
                outs = self.run_op(op, operands, interpreter=self)
            else:
                outs = self.run_op(op, operands)
            env.update(zip(op.results, outs))
        raise InterpreterError(f"a block of '{block.parent_op.name}' ends without a terminator")

    def global_buffer(self, name: str) -> np.ndarray:
        """The buffer of `memref.global @name`: its initial value, copied on first use."""
        if name not in self.globals:
            op = self.symbols.lookup(name)
            if op is None or op.name != "memref.global":
                raise InterpreterError(f"no memref.global @{name} in the module")
            self.globals[name] = op.initial_buffer()
        return self.globals[name]

    @staticmethod
    def run_op(op: Operation, args: list[np.ndarray], interpreter: "Interpreter | None" = None) -> list[np.ndarray]:
        """Run one op: `interpret(*args)`, or `interpret_with(interpreter, *args)` when given."""
        if not hasattr(op, "interpret"):
            raise InterpreterError(f"'{op.name}' has no reference semantics (an unregistered op)",
                                   pos=op.source_pos)
        try:
            out = op.interpret_with(interpreter, *args) if interpreter is not None else op.interpret(*args)
        except NotImplementedError as e:
            detail = f": {e}" if str(e) and "reference semantics" not in str(e) else ""
            raise InterpreterError(f"'{op.name}' has no reference semantics yet{detail}", pos=op.source_pos) from None
        except IndexError as e:  # a load or store outside its memref
            raise InterpreterError(str(e), pos=op.source_pos) from None
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        results = []
        for result, value in zip(op.results, outs):
            if isinstance(result.type, MemRefType):  # a buffer: the same array, never a copy
                results.append(value)
                continue
            dtype = result_dtype(result.type)
            results.append(np.asarray(value, dtype=dtype) if dtype is not None else np.asarray(value))
        return results


def input_name(param, index: int) -> str:
    return f"%{param.name_hint}" if param.name_hint else f"input #{index}"


def result_dtype(t: Type):
    element = t.element_type if isinstance(t, (RankedTensorType, MemRefType)) else t
    return getattr(element, "numpy_dtype", None)


def check_input(value, t: Type, name: str) -> np.ndarray:
    """Convert `value` to an array of `t`, or raise naming the input and the expected type.
    A memref input must be a numpy array already: the function writes into it."""
    if isinstance(t, MemRefType) and not isinstance(value, np.ndarray):
        raise InterpreterError(f"{name} is a memref, so it must be a numpy array (the function may write into it)",
                               hint="pass np.asarray(...) or np.zeros(...) of its shape and dtype")
    array = np.asarray(value)
    dtype = result_dtype(t)
    if dtype is not None and array.dtype != dtype:
        raise InterpreterError(f"{name} has dtype {array.dtype} but the function expects {t}",
                               hint=f"convert it with .astype({np.dtype(dtype).name!r})")
    if isinstance(t, MemRefType) and t.layout is None and not array.flags.c_contiguous and array.size > 1:
        raise InterpreterError(f"{name} is not a contiguous array, as {t} (row-major) needs",
                               hint="pass np.ascontiguousarray(...)")
    if isinstance(t, (RankedTensorType, MemRefType)):
        shape_ok = len(array.shape) == t.rank and all(d is None or d == s for d, s in zip(t.shape, array.shape))
        if not shape_ok:
            raise InterpreterError(f"{name} has shape {list(array.shape)} but the function expects {t}")
    return array
