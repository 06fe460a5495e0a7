"""The reference interpreter: runs a module's function with numpy, op by op, through each op's
`interpret`. It is the oracle every other path (passes, TVM kernels) is checked against, so it
is deliberately plain: no scheduling, no memory reuse, one numpy call per op.
"""

from __future__ import annotations

import numpy as np

from lamina.compiler.errors import LaminaError
from lamina.compiler.ir import Block, Operation, Value
from lamina.compiler.symbols import SymbolTable
from lamina.compiler.types import RankedTensorType, Type


class InterpreterError(LaminaError):
    """A module that cannot run: a missing function, an op without semantics, a bad input."""


def interpret(module: Operation, *inputs, function: str = "main") -> list[np.ndarray]:
    """Run `function` of `module` on numpy `inputs`; returns its results as numpy arrays."""
    return Interpreter(module).call(function, list(inputs))


class Interpreter:
    def __init__(self, module: Operation):
        self.module = module
        self.symbols = SymbolTable(module)

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
        env: dict[Value, np.ndarray] = {}
        for i, (param, value) in enumerate(zip(params, inputs)):
            env[param] = check_input(value, param.type, input_name(param, i))
        return self.run_block(fn.entry, env)

    def run_block(self, block: Block, env: dict) -> list[np.ndarray]:
        for op in block:
            if op.name == "func.return":
                return [env[v] for v in op.operands]
            if op.name == "func.call":
                outs = self.call(op.callee.root, [env[v] for v in op.operands])
            else:
                outs = self.run_op(op, [env[v] for v in op.operands])
            for result, value in zip(op.results, outs):
                env[result] = value
        raise InterpreterError("the function's block ends without func.return")

    @staticmethod
    def run_op(op: Operation, args: list[np.ndarray]) -> list[np.ndarray]:
        if not hasattr(op, "interpret"):
            raise InterpreterError(f"'{op.name}' has no reference semantics (an unregistered op)",
                                   pos=op.source_pos)
        try:
            out = op.interpret(*args)
        except NotImplementedError:
            raise InterpreterError(f"'{op.name}' has no reference semantics yet", pos=op.source_pos) from None
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        results = []
        for result, value in zip(op.results, outs):
            dtype = result_dtype(result.type)
            results.append(np.asarray(value, dtype=dtype) if dtype is not None else np.asarray(value))
        return results


def input_name(param, index: int) -> str:
    return f"%{param.name_hint}" if param.name_hint else f"input #{index}"


def result_dtype(t: Type):
    element = t.element_type if isinstance(t, RankedTensorType) else t
    return getattr(element, "numpy_dtype", None)


def check_input(value, t: Type, name: str) -> np.ndarray:
    """Convert `value` to an array of `t`, or raise naming the input and the expected type."""
    array = np.asarray(value)
    dtype = result_dtype(t)
    if dtype is not None and array.dtype != dtype:
        raise InterpreterError(f"{name} has dtype {array.dtype} but the function expects {t}",
                               hint=f"convert it with .astype({np.dtype(dtype).name!r})")
    if isinstance(t, RankedTensorType):
        shape_ok = len(array.shape) == t.rank and all(d is None or d == s for d, s in zip(t.shape, array.shape))
        if not shape_ok:
            raise InterpreterError(f"{name} has shape {list(array.shape)} but the function expects {t}")
    return array
