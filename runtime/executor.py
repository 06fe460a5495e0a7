"""The executor: compiles each op of a function to a kernel and runs them in order.

For now every op is its own kernel (fusion comes later); constants are numpy arrays handed to the
kernels that read them, and ops that depend only on constants are evaluated once at compile time. `CompiledModel(*inputs)` checks each input against the function's type
(shape and dtype, naming the input when it is wrong) and returns numpy outputs.
"""

from __future__ import annotations

import time

import numpy as np

from lamina.compiler.attributes import DenseElementsAttr
from lamina.compiler.ir import Operation
from lamina.compiler.opdef import ConstantLike
from lamina.compiler.symbols import SymbolTable
from lamina.lowering import tvm_adapter
from lamina.lowering.build import BuildError, BuildStats, build_op

from .interpreter import Interpreter, InterpreterError, check_input, input_name


class CompiledModel:
    """A function of a module, built for `target`; call it with numpy arrays."""

    def __init__(self, module: Operation, target: str = "llvm", function: str = "main"):
        start = time.perf_counter()
        self.module = module
        self.target_name = target
        self.threads = tvm_adapter.set_num_threads()
        self.target = tvm_adapter.target_for(target)
        fn = SymbolTable(module).lookup(function)
        if fn is None or fn.name != "func.func" or fn.is_declaration:
            raise InterpreterError(f"no function @{function} with a body in the module")
        self.function = fn
        self.params = list(fn.entry.args)
        self.stats = BuildStats()
        self.constants: dict = {}
        self.steps = []  # (op, kernel, output shapes, output dtypes)
        self.returns = []
        for op in fn.entry:
            if op.name == "func.return":
                self.returns = list(op.operands)
            elif op.has_trait(ConstantLike):
                self.constants[op.results[0]] = np.asarray(op.interpret())
            elif self.evaluate_at_compile_time(op):
                continue
            else:
                kernel = build_op(op, self.target, self.threads, self.stats)
                shapes = [tuple(r.type.shape) for r in op.results]
                dtypes = [r.type.element_type.numpy_dtype for r in op.results]
                self.steps.append((op, kernel.kernel, shapes, dtypes))
        self.compile_seconds = time.perf_counter() - start

    def evaluate_at_compile_time(self, op: Operation) -> bool:
        """Ops whose value is known before any input arrives run once, here, in the interpreter:
        those whose operands are all constants (weight transforms, shape glue), and those whose
        fold gives a constant (nn.shape of a static tensor). Returns whether `op` was one."""
        if op.regions:
            return False
        if all(v in self.constants for v in op.operands):
            outs = Interpreter.run_op(op, [self.constants[v] for v in op.operands])
        else:
            folded = op.fold(*[None] * len(op.operands)) if hasattr(op, "fold") else None
            if not isinstance(folded, DenseElementsAttr):
                return False
            outs = [folded.array]
        self.constants.update(zip(op.results, outs))
        return True

    @property
    def num_kernels(self) -> int:
        return len(self.steps)

    def __call__(self, *inputs) -> list[np.ndarray]:
        if len(inputs) != len(self.params):
            raise InterpreterError(f"the model takes {len(self.params)} inputs, got {len(inputs)}")
        env = dict(self.constants)
        for i, (param, value) in enumerate(zip(self.params, inputs)):
            env[param] = check_input(value, param.type, input_name(param, i))
        for op, kernel, shapes, dtypes in self.steps:
            outs = kernel.run([env[v] for v in op.operands], shapes, dtypes)
            env.update(zip(op.results, outs))
        return [env[v] for v in self.returns]


def compile(module: Operation, target: str = "llvm", function: str = "main") -> CompiledModel:
    """Compile `function` of `module` for `target`; the result is callable with numpy arrays."""
    if target not in ("llvm", "cpu"):
        raise BuildError(f"target {target!r} is not supported yet", hint="use --target llvm")
    return CompiledModel(module, target, function)

