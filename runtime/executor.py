"""The executor: compiles each op of a function to a kernel and runs them in order, from a static
memory plan.

Compile time does all the work that does not depend on the inputs:
1. constants are numpy arrays; ops that depend only on constants (or fold to one) are evaluated
   once, here, in the interpreter; every other op becomes a kernel (`build_op`), one step each;
2. `memory_plan.plan_concats` finds the standalone concats that cost nothing (their inputs are
   contiguous, 64-byte aligned slices of the output, each written only for the concat): those
   are not built and not run, each producer writes its slice of the concat's output directly;
   `memory_plan.plan_steps` gives every kernel output a place in ONE 64-byte aligned arena
   (liveness, in place for elementwise kernels, free concats' inputs as views of their output,
   best fit); the arena is allocated once;
3. each arena buffer gets its numpy view and its TVM tensor (DLPack, same memory) once; each
   input gets an aligned buffer of its own; each constant operand becomes a device tensor once
   (packed where the kernel reads a packed layout); every step's argument list is built once.

A call then only checks and copies the inputs into their buffers (a copy, not a per-call DLPack
wrap of the caller's array, so that every argument list stays fixed; for ResNet-18's 588 KiB
input the copy is well under 1% of the call), calls each kernel's compiled
function with its prebuilt arguments, and returns COPIES of the outputs (the arena is reused by
the next call, so a returned array is never overwritten). Because the arena is shared, calls of
one `CompiledModel` are serialised by a lock: it is safe to call from several threads, but not
concurrently (compile the module twice for parallel calls).

`CompiledModel(*inputs)` checks each input against the function's type (shape and dtype, naming
the input when it is wrong) and returns numpy outputs.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from lamina.compiler.attributes import DenseElementsAttr
from lamina.compiler.ir import Operation
from lamina.compiler.opdef import ConstantLike
from lamina.compiler.symbols import SymbolTable
from lamina.compiler.types import RankedTensorType
from lamina.lowering import tvm_adapter
from lamina.lowering import targets
from lamina.compiler.location import kernel_names
from lamina.compiler.progress import Progress
from lamina.lowering.build import ALIGN, BuildError, BuildStats, aligned_empty, build_op

from .interpreter import Interpreter, InterpreterError, check_input, input_name, result_dtype
from .memory_plan import ConcatPlan, MemoryPlan, plan_concats, plan_steps


class Slot:
    """A tensor that kernels read or write: its device tensor (made once) and, when TVM shares
    the memory, the numpy view of it. When TVM refuses to share (a dtype DLPack cannot carry),
    the tensor is a separate device allocation and values are copied in and out instead."""

    __slots__ = ("array", "tensor")

    def __init__(self, array: np.ndarray):
        self.array, self.tensor = array, None
        if array.size and array.ctypes.data % ALIGN == 0:
            try:
                self.tensor = tvm_adapter.shared_tensor(array)
            except Exception:  # the fallback below
                self.tensor = None
        if self.tensor is None:
            if array.size:
                self.array = None  # values live in the device tensor only
            self.tensor = tvm_adapter.empty_tensor(array.shape, array.dtype)

    def write(self, value: np.ndarray) -> None:
        if self.array is not None:
            np.copyto(self.array, value)
        else:
            tvm_adapter.copy_into(self.tensor, value)

    def read(self) -> np.ndarray:
        """A copy (the memory is reused by the next call)."""
        return self.array.copy() if self.array is not None else tvm_adapter.to_numpy(self.tensor)

    def view(self) -> np.ndarray:
        """The current value, without a copy where possible (for the fallback kernel path)."""
        return self.array if self.array is not None else tvm_adapter.to_numpy(self.tensor)


class CompiledModel:
    """A function of a module, built for `target`; call it with numpy arrays.

    `steps`: (op, kernel, output shapes, output dtypes) per kernel, in run order (`num_kernels`
    of them; a free concat is no step);
    `memory_plan`: where each kernel output lives in the arena (`memory_report()` prints it);
    `concats`: what became of each standalone nn.concat (`memory_plan.ConcatPlan`: free, or
    copied and why)."""

    def __init__(self, module: Operation, target="llvm", function: str = "main",
                 schedules: dict | None = None, threads: int | None = None, free_concats: bool = True,
                 peer_schedules: str | None = None, records=None):
        start = time.perf_counter()
        self.module = module
        self.target = targets.get(target, threads=threads)
        if not self.target.schedules_ready:
            raise BuildError(f"target '{self.target.name}' is listed but lamina has no schedules for it yet",
                             hint="build for llvm (this CPU) or aarch64-android")
        self.target_name = self.target.name
        self.threads = self.target.threads
        if not self.target.cross:
            tvm_adapter.set_num_threads(self.threads)
        schedules = dict(schedules or {})
        fn = SymbolTable(module).lookup(function)
        if fn is None or fn.name != "func.func" or fn.is_declaration:
            raise InterpreterError(f"no function @{function} with a body in the module")
        self.function = fn
        self.params = list(fn.entry.args)
        self._expected_inputs = [_exact_array_type(p.type) for p in self.params]  # (_checked_inputs)
        self.stats = BuildStats()
        self.constants: dict = {}
        self.steps = []  # (op, kernel, output shapes, output dtypes)
        self.kernels = []  # the BuiltKernel of each step: its name, schedule program, library
        self.returns = []
        kernel_ops = []
        for op in fn.entry:
            if op.name == "func.return":
                self.returns = list(op.operands)
            elif op.has_trait(ConstantLike):
                self.constants[op.results[0]] = np.asarray(op.interpret())
            elif not self.evaluate_at_compile_time(op):
                kernel_ops.append(op)
        # names over all kernels, free concats too, so that a kernel's name (and its schedule
        # file) does not depend on which concats are free
        gpu = self.target.family == "gpu"
        self.concats = plan_concats(kernel_ops, self.returns, can_view=None if gpu else _can_share,
                                    align=self.target.buffer_align)
        if not free_concats:  # every concat copies (to compare, and to measure what free ones save)
            self.concats = [ConcatPlan(c.op, False, "free concats are off (free_concats=False)")
                            for c in self.concats]
        free = {id(c.op) for c in self.concats if c.free}
        # tuning records (lowering/tuning): the best recorded program of each kernel's task, for
        # the kernels no schedule file names (an explicit schedule wins over a record)
        from_records: dict = {}
        if records is not None and not peer_schedules:
            from lamina.lowering.tuning import programs_from_records

            wanted = {name: op for op, name in zip(kernel_ops, kernel_names(kernel_ops))
                      if id(op) not in free and name not in schedules}
            from_records = programs_from_records(wanted, self.target, records)
        self.records_applied = 0  # kernels built with a schedule from the records
        self._free_concats = []  # (the step it would have run before, op) of each free concat
        with Progress(len(kernel_ops), "compiling kernels") as progress:
            for op, name in zip(kernel_ops, kernel_names(kernel_ops)):
                progress.advance()
                if id(op) in free:
                    schedules.pop(name, None)  # a kernel that is not needed: its schedule is not unused
                    self._free_concats.append((len(self.steps), op))
                    continue
                program = peer_schedules or schedules.pop(name, None)  # peer: build.DLIGHT, TVM's own
                if program is None and name in from_records:
                    program = from_records[name]
                    self.records_applied += 1
                kernel = build_op(op, self.target, stats=self.stats, name=name, program=program)
                shapes = [tuple(r.type.shape) for r in op.results]
                dtypes = [r.type.element_type.numpy_dtype for r in op.results]
                self.steps.append((op, kernel.kernel, shapes, dtypes))
                self.kernels.append(kernel)
        self.unused_schedules = sorted(schedules)  # schedule files that name no kernel (a warning)
        self.memory_plan, buffer_of = plan_steps([s[0] for s in self.steps], self.returns, concats=self.concats,
                                                 align=self.target.buffer_align)
        self.buffer_of = buffer_of  # value -> its buffer in the memory plan (a package writes it down)
        self.sync = None    # waits for the device's queue (GPU targets), for `profile`
        self.device = None  # the device a GPU target's kernels run on, once bound
        # a GPU target binds to its device at the first call: compiling (and writing a package)
        # needs no device, so `lamina compile --target cuda` works on a machine without a GPU
        self._unbound = buffer_of if gpu else None
        if not gpu:
            self._bind(buffer_of)
        self._lock = threading.Lock()
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
            folded = _fold_without_operands(op)
            if folded is None:
                return False
            outs = [folded.array]
        self.constants.update(zip(op.results, outs))
        return True

    @property
    def num_kernels(self) -> int:
        return len(self.steps)

    # -----------------------------------------------------------------------------------------
    # binding: everything a call needs, made once

    def _bind(self, buffer_of: dict) -> None:
        plan = self.memory_plan
        self.arena = aligned_empty((plan.arena_bytes,), np.uint8)
        slots: dict = {}  # value -> Slot
        for value, i in buffer_of.items():
            b = plan.buffers[i]
            dtype = np.dtype(value.type.element_type.numpy_dtype)
            view = self.arena[b.offset:b.offset + b.nbytes].view(dtype).reshape(value.type.shape)
            slots[value] = Slot(view)
        used = {v for op, *_ in self.steps for v in op.operands}
        self._inputs = []  # (param index, Slot) for inputs that kernels read
        for i, p in enumerate(self.params):
            if p in used:
                slots[p] = Slot(aligned_empty(tuple(p.type.shape), p.type.element_type.numpy_dtype))
                self._inputs.append((i, slots[p]))
        constant_tensors: dict = {}  # value -> device tensor, for constants no kernel holds itself
        self._calls = []  # (compiled function, argument tuple), or (python callable, None)
        self._call_ops = []  # the op each call runs, for `profile`
        self._slots = slots  # (for `trace`, which reads each kernel's outputs as it runs)
        copies = self._unshared_concats(slots)
        for position, (op, kernel, shapes, dtypes) in enumerate(self.steps):
            for concat in copies.get(position, ()):
                self._calls.append((self._copy_step(concat, slots), None))
                self._call_ops.append(concat)
            function = getattr(kernel, "function", None)
            outs = [slots[r] for r in op.results]
            if function is None and all(0 in s for s in shapes):
                continue  # an EmptyKernel: nothing to compute, the outputs are empty views
            if function is None or not hasattr(kernel, "constant_argument"):
                self._calls.append((self._fallback_step(op, kernel, shapes, dtypes, slots, outs), None))
                self._call_ops.append(op)
                continue
            args = []
            for i, v in enumerate(op.operands):
                if v in slots:
                    args.append(slots[v].tensor)
                elif i in kernel.constant:
                    args.append(kernel.constant_argument(i, self.constants[v]))
                else:
                    if v not in constant_tensors:
                        constant_tensors[v] = tvm_adapter.device_tensor(self.constants[v])
                    args.append(constant_tensors[v])
            self._calls.append((function, tuple(args + [s.tensor for s in outs])))
            self._call_ops.append(op)
        for concat in copies.get(len(self.steps), ()):
            self._calls.append((self._copy_step(concat, slots), None))
            self._call_ops.append(concat)
        self._outputs = self._output_sources(slots)

    def _output_sources(self, slots: dict) -> list:
        """Where each output comes from: a slot (an arena buffer, on the CPU or a device), an
        input, or a constant."""
        out = []
        for v in self.returns:
            if v in slots and v not in self.params:
                out.append(("slot", slots[v]))
            elif v in self.constants:
                out.append(("constant", self.constants[v]))
            else:
                out.append(("input", self.params.index(v)))
        return out

    def _ready(self) -> None:
        """Bind a GPU target's model to its device, once (see __init__)."""
        if self._unbound is not None:
            from .device_executor import bind_device

            bind_device(self, self._unbound)
            self._unbound = None

    def _unshared_concats(self, slots: dict) -> dict:
        """Free concats whose buffers TVM did not share after all (a view it refused): their
        producers wrote into device tensors of their own, so the concat is done by a copy, in
        numpy, where it stood. Position -> ops. Normally empty: `_can_share` keeps the dtypes
        TVM refuses out of free concats."""
        copies: dict = {}
        for position, op in self._free_concats:
            group = [slots[op.results[0]]] + [slots[v] for v in op.operands]
            if any(slot.array is None for slot in group):
                copies.setdefault(position, []).append(op)
        return copies

    @staticmethod
    def _copy_step(op, slots):
        axis = int(getattr(op.axis, "value", op.axis))

        def step():
            slots[op.results[0]].write(np.concatenate([slots[v].view() for v in op.operands], axis=axis))
        return step

    def _fallback_step(self, op, kernel, shapes, dtypes, slots, outs):
        """A kernel without a prebuilt-argument entry point: called with numpy arrays through
        its `run`, its outputs copied into their buffers."""
        def step():
            inputs = [slots[v].view() if v in slots else self.constants[v] for v in op.operands]
            for slot, value in zip(outs, kernel.run(inputs, shapes, dtypes)):
                slot.write(value)
        return step

    # -----------------------------------------------------------------------------------------
    # a call

    def __call__(self, *inputs) -> list[np.ndarray]:
        arrays = self._checked_inputs(inputs)
        self._ready()
        with self._lock:
            for i, slot in self._inputs:
                slot.write(arrays[i])
            for function, args in self._calls:
                if args is None:
                    function()
                else:
                    function(*args)
            return [self._output(kind, source, arrays) for kind, source in self._outputs]

    def _checked_inputs(self, inputs) -> list[np.ndarray]:
        """The inputs as arrays of the parameters' types. An array of exactly the expected dtype
        and shape passes as it is, without `check_input`'s general conversion (2-3 us a call, a
        sixth of the MLP's whole call); anything else goes through it, and errors name the input."""
        if len(inputs) != len(self.params):
            raise InterpreterError(f"the model takes {len(self.params)} inputs, got {len(inputs)}")
        return [value if type(value) is np.ndarray and (value.dtype, value.shape) == want
                else check_input(value, param.type, input_name(param, i))
                for i, (param, value, want) in enumerate(zip(self.params, inputs, self._expected_inputs))]

    def trace(self, *inputs) -> dict:
        """One call that keeps every value it computes: SSA value -> numpy array, for the inputs,
        the constants (those computed at compile time too) and each kernel's outputs, copied as
        soon as the kernel has run (a later kernel may reuse their memory). A free concat's output
        is read once the last of its producers has written its slice. This is the run as `__call__`
        makes it, same kernels, same memory plan; `lamina compare` checks each value."""
        arrays = self._checked_inputs(inputs)
        self._ready()
        values = dict(self.constants)
        values.update(zip(self.params, arrays))
        # the call after which each free concat is whole: the last one writing one of its slices
        producer = {r: k for k, op in enumerate(self._call_ops) for r in op.results}
        whole_after: dict = {}
        for _, op in self._free_concats:
            if op.results[0] in producer:
                continue  # TVM did not share its buffers: a step of its own copies it
            k = max((producer.get(v, -1) for v in op.operands), default=-1)
            producer[op.results[0]] = k
            whole_after.setdefault(k, []).append(op)
        with self._lock:
            for i, slot in self._inputs:
                slot.write(arrays[i])
            for concat in whole_after.get(-1, ()):
                values[concat.results[0]] = self._slots[concat.results[0]].read()
            for k, (op, (function, args)) in enumerate(zip(self._call_ops, self._calls)):
                function() if args is None else function(*args)
                for r in op.results:
                    values[r] = self._slots[r].read()
                for concat in whole_after.get(k, ()):
                    values[concat.results[0]] = self._slots[concat.results[0]].read()
            for op, *_ in self.steps:  # kernels with nothing to compute (empty outputs) make no call
                for r in op.results:
                    if r not in values:
                        values[r] = self._slots[r].read()
        return values

    @staticmethod
    def _output(kind, source, arrays) -> np.ndarray:
        if kind == "slot":
            return source.read()
        if kind == "input":
            return np.array(arrays[source], copy=True)
        return np.array(source, copy=True)

    def profile(self, *inputs, runs: int = 20, in_model: bool = False) -> list[tuple[Operation, float]]:
        """Each kernel call with its median seconds over `runs` calls (after one call of the whole
        model on `inputs`, so every buffer holds real values), in the order they run: where a
        model's time goes. Alone (default): `runs` calls of one kernel in a row, its data warm in
        the cache, as a kernel benchmark times it; calls of the same compiled function in a row
        are not cached away: each reads and writes its own buffers, as in a real call. With
        `in_model`: each kernel timed as the model runs, `runs` times over, after the kernel
        before it, as a real call sees it (its weights and inputs where the model left them)."""
        import statistics

        self(*inputs)
        steps = list(zip(self._call_ops, self._calls))
        sync = self.sync or (lambda: None)  # a device's kernels run asynchronously: wait for each
        times = [[] for _ in steps]
        with self._lock:
            if in_model:
                for _ in range(runs):
                    for k, (_, (function, args)) in enumerate(steps):
                        start = time.perf_counter()
                        function() if args is None else function(*args)
                        sync()
                        times[k].append(time.perf_counter() - start)
            else:
                for k, (_, (function, args)) in enumerate(steps):
                    for _ in range(runs):
                        start = time.perf_counter()
                        function() if args is None else function(*args)
                        sync()
                        times[k].append(time.perf_counter() - start)
        return [(op, statistics.median(t)) for (op, _), t in zip(steps, times)]

    def memory_report(self, buffers: bool = True) -> str:
        """The memory plan as text: one line per buffer (unless `buffers=False`), then the
        peak bytes planned vs the naive sum."""
        return self.memory_plan.report(buffers)


def _exact_array_type(t) -> tuple | None:
    """(dtype, shape) a numpy input of type `t` passes unchecked: a static tensor's, else None."""
    if not isinstance(t, RankedTensorType) or not t.has_static_shape:
        return None
    dtype = result_dtype(t)
    return (np.dtype(dtype), tuple(t.shape)) if dtype is not None else None


def _can_share(dtype) -> bool:
    """Whether TVM shares numpy memory of `dtype` (DLPack): a free concat's inputs are views of
    its output only then (bfloat16, from ml_dtypes, it refuses). Asked once per concat (a few
    microseconds), not cached, so it follows `tvm_adapter.shared_tensor` as it is now."""
    try:
        tvm_adapter.shared_tensor(aligned_empty((1,), np.dtype(dtype)))
        return True
    except Exception:  # TVM's own error types
        return False


def _fold_without_operands(op: Operation) -> DenseElementsAttr | None:
    """The constant `op` folds to knowing only its operands' types (nn.shape of a static tensor)."""
    if not hasattr(op, "fold"):
        return None
    try:
        folded = op.fold(*[None] * len(op.operands))
    except (ValueError, TypeError, ArithmeticError):  # a fold that cannot decide without values
        return None
    return folded if isinstance(folded, DenseElementsAttr) else None


def count_kernels(module: Operation, function: str = "main") -> int:
    """How many kernels `compile` builds for `function` of `module` as it is, without building
    them: its top-level ops but constants, the return, and the ops `evaluate_at_compile_time`
    takes (on constants only, or folding to a constant). A concat counts as a kernel here even
    where the memory plan makes it free (`CompiledModel.num_kernels` does not count those)."""
    known, count = set(), 0
    for op in SymbolTable(module).lookup(function).entry:
        if op.name == "func.return":
            continue
        if op.has_trait(ConstantLike) or (not op.regions and (
                all(v in known for v in op.operands) or _fold_without_operands(op) is not None)):
            known.update(op.results)
            continue
        count += 1
    return count


def compile(module: Operation, target="llvm", function: str = "main", schedules: dict | None = None,
            threads: int | None = None, free_concats: bool = True, peer_schedules: str | None = None,
            records=None) -> CompiledModel:
    """Compile `function` of `module` for `target` (a name from `lamina targets`, or a
    lowering.targets.Target); the result is callable with numpy arrays. `schedules` maps kernel
    names to sched.schedule programs to use instead of the default ones. `free_concats=False`
    makes every standalone concat a copying kernel (as before free concats; to compare).
    `peer_schedules="tvm-dlight"` (GPU targets) schedules every kernel with TVM's dlight rules
    instead of lamina's: the peer lamina's GPU schedules are measured against.
    `records`: a tuning records file (`lamina tune`): each kernel whose task has a record is
    built with the best one, unless `schedules` names it."""
    return CompiledModel(module, target, function, schedules, threads, free_concats, peer_schedules, records)


__all__ = ["CompiledModel", "MemoryPlan", "compile"]
