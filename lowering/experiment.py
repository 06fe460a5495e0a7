"""Kernel experiments in a few lines: build one op or one fused group for a target, read its
default schedule as IR, apply an edited one, check it against numpy and time it.

    k = lamina.kernel('''
      func.func @main(%x: tensor<1x16x28x28xf32>, %w: tensor<32x16x3x3xf32>) -> tensor<1x32x26x26xf32> {
        %y = nn.conv2d %x, %w : (tensor<1x16x28x28xf32>, tensor<32x16x3x3xf32>) -> tensor<1x32x26x26xf32>
        func.return %y : tensor<1x32x26x26xf32>
      }''')
    print(k.schedule)                          # the sched.schedule program, as text
    k2 = k.with_schedule(k.schedule.replace("sched.knob wb 13", "sched.knob wb 2"))
    assert k2.check() < 1e-4                   # max abs difference from the numpy reference
    print(k.time(), k2.time())                 # median seconds per call

The kernel is the one op of @main that is not a constant (a conv, or an `nn.fused` group after
`lamina opt -p fuse`); its other operands are the function's arguments (random inputs, seeded)
or constants (kept, and packed as the compiled model would).
"""

from __future__ import annotations

import numpy as np

from lamina.compiler.errors import LaminaError
from lamina.compiler.ir import Operation
from lamina.compiler.opdef import ConstantLike


class ExperimentError(LaminaError):
    """A module that is not one kernel."""


class KernelExperiment:
    def __init__(self, op: Operation, target="llvm", name: str | None = None, program=None, seed: int = 0):
        from lamina.compiler.location import kernel_names

        from . import targets
        from .build import build_op

        self.op = op
        self.target = targets.get(target) if isinstance(target, str) else target
        self.name = name or kernel_names([op])[0]
        self.seed = seed
        self.built = build_op(op, self.target, name=self.name, program=program)

    # -- the schedule

    @property
    def program(self):
        return self.built.scheduled.program

    @property
    def schedule(self) -> str:
        """The kernel's schedule as sched dialect text."""
        from lamina.compiler.printer import print_ir

        return print_ir(self.program, print_locations=False)

    @property
    def knobs(self) -> dict[str, int]:
        return self.program.knobs()

    def with_schedule(self, schedule) -> "KernelExperiment":
        """The same kernel built with `schedule` (sched dialect text, or a sched.schedule op); it
        is verified against the kernel and the target first."""
        from lamina.compiler.parser import parse
        from lamina.compiler.verifier import verify
        from lamina.dialects.sched import ScheduleOp

        if isinstance(schedule, str):
            module = parse(schedule, "<schedule>")
            verify(module)
            ops = [op for op in module.block if isinstance(op, ScheduleOp)]
            if len(ops) != 1:
                raise ExperimentError("the schedule text holds no sched.schedule op (or several)")
            schedule = ops[0]
        return KernelExperiment(self.op, self.target, self.name, schedule, self.seed)

    def with_knobs(self, **values) -> "KernelExperiment":
        """The same schedule with some knobs' decisions changed (`k.with_knobs(wb=7)`). A
        choice (`loop_order`, `parallel_loops`: the generator branches on it) or a compute knob
        (`pack_ob`: another kernel) is made by writing the schedule again with the generator
        (lowering/schedules/builder.py, tuning/space.py `Knob.compute`)."""
        from .schedules import default_schedule, regenerate

        program = self.program.clone()
        known = program.knobs()
        for name in values:
            if name not in known:
                raise ExperimentError(f"the schedule has no knob {name}", hint=f"its knobs: {', '.join(known)}")
        choices = default_schedule(self.name, self.built.scheduled.module, self.target).choices
        compute = self.built.scheduled.knobs  # (the knobs the compute asked for)
        if any((name in choices or name in compute) and int(values[name]) != known[name] for name in values):
            decisions = dict(known, **{k: int(v) for k, v in values.items()})
            return self.with_schedule(regenerate(self.name, self.op, self.target, self.built.generator, decisions))
        for knob in program.block:
            if getattr(knob, "knob_name", None) in values:
                knob.value = type(knob.value)(int(values[knob.knob_name]), knob.value.type)
        return self.with_schedule(program)

    @property
    def tir(self) -> str:
        """The scheduled kernel as TVMScript."""
        return self.built.script

    @property
    def source(self) -> str:
        """A GPU kernel's device code as TVM generated it: OpenCL C or CUDA C."""
        plan = getattr(self.built.kernel, "plan", None)
        if plan is None:
            raise ExperimentError(f"a kernel for {self.target.name} has no device source",
                                  hint="build it for a GPU target: lamina.kernel(..., target='opencl')")
        return plan.source

    @property
    def launches(self) -> list:
        """A GPU kernel's launches: each device function with its grid and block sizes."""
        return list(self.built.kernel.plan.launches)

    # -- running

    def inputs(self) -> list[np.ndarray]:
        """The op's operands: constants as they are, arguments random (seeded)."""
        rng = np.random.default_rng(self.seed)
        out = []
        for v in self.op.operands:
            owner = getattr(v, "owner", None)
            if isinstance(owner, Operation) and owner.has_trait(ConstantLike):
                out.append(np.asarray(owner.interpret()))
                continue
            dtype = v.type.element_type.numpy_dtype
            shape = tuple(v.type.shape)
            if np.dtype(dtype).kind == "f":
                out.append(rng.standard_normal(shape).astype(dtype))
            else:
                out.append(rng.integers(0, 10, shape).astype(dtype))
        return out

    def _signature(self):
        return ([tuple(r.type.shape) for r in self.op.results],
                [r.type.element_type.numpy_dtype for r in self.op.results])

    def run(self, inputs=None) -> list[np.ndarray]:
        shapes, dtypes = self._signature()
        return self.built.kernel.run(self.inputs() if inputs is None else inputs, shapes, dtypes)

    def reference(self, inputs=None) -> list[np.ndarray]:
        from lamina.runtime.interpreter import Interpreter

        return Interpreter.run_op(self.op, self.inputs() if inputs is None else inputs)

    def check(self) -> float:
        """The largest absolute difference between the kernel and the numpy reference."""
        inputs = self.inputs()
        return max(float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)), initial=0.0))
                   for a, b in zip(self.run(inputs), self.reference(inputs)))

    def time(self, number: int = 10, repeat: int = 3) -> float:
        """Median seconds per call (TVM's time_evaluator)."""
        shapes, dtypes = self._signature()
        return self.built.kernel.time(self.inputs(), shapes, dtypes, number, repeat)


def kernel(source, target="llvm", function: str = "main", seed: int = 0) -> KernelExperiment:
    """A KernelExperiment for the one kernel of `source`: MLIR text, a module, or an op."""
    from lamina.compiler.parser import parse
    from lamina.compiler.symbols import SymbolTable
    from lamina.compiler.verifier import verify

    if isinstance(source, Operation) and source.name not in ("builtin.module",):
        return KernelExperiment(source, target, seed=seed)
    module = source
    if isinstance(source, str):
        module = parse(source, "<kernel>")
        verify(module)
    fn = SymbolTable(module).lookup(function)
    if fn is None:
        raise ExperimentError(f"no function @{function} in the module")
    ops = [op for op in fn.entry if op.name != "func.return" and not op.has_trait(ConstantLike)]
    if len(ops) != 1:
        raise ExperimentError(f"@{function} has {len(ops)} ops besides constants; a kernel experiment takes one "
                              "(an op, or an nn.fused group)", hint="fuse them first: lamina opt -p fuse")
    return KernelExperiment(ops[0], target, seed=seed)
