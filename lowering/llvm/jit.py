"""Verify, optimize, JIT-compile and call the LLVM IR that translate.py builds.

1. verify: LLVM's own parser and verifier read the text llvmlite printed (`parse_assembly`,
   `verify`). Every module goes through this first: IR that LLVM has not checked can crash the
   process inside the optimizer or the code generator. A failure is a bug in the translation
   (translate.py), reported as an `LLVMVerifierError` carrying LLVM's message.
2. optimize: LLVM's new pass manager runs its default per-module pipeline for -O<level>
   (`PassBuilder::buildPerModuleDefaultPipeline`, llvmlite's `create_pass_builder`), with the loop
   and SLP vectorizers on at -O2 and -O3, for the host CPU's name and features, so that LLVM may
   use AVX2, FMA or AVX-512 where the machine has them.
3. compile: MCJIT turns the module into machine code in memory. Before it links, each bound
   memref.global's symbol is pointed at its numpy buffer (`llvm.add_symbol`); libc and libm
   functions (aligned_alloc, free, erff, pthread_create) resolve from the Python process.
4. call: `JitModule.call` checks every numpy argument against its memref type (dtype, shape,
   strides) and calls through the packed interface `_mlir_<name>` (translate.py, point 6). ctypes
   releases the GIL for the call, so scf.parallel's threads run freely.
"""

from __future__ import annotations

import ctypes
import itertools
import time

import numpy as np
from llvmlite import binding as llvm

from lamina.compiler.errors import LaminaError
from lamina.compiler.ir import Operation
from lamina.compiler.types import MemRefType, Type

from .translate import EMBED_LIMIT, FunctionInfo, Translation, static_layout, translate_module


class LLVMVerifierError(LaminaError):
    """LLVM rejected the IR that lamina's translation produced: a bug in lamina, not in the input."""


class JitError(LaminaError):
    """A JIT-compiled function called with the wrong arguments, or a global left unbound."""


# ---------------------------------------------------------------------------------------------
# 1-2. verify and optimize

_initialized = False


def _initialize() -> None:
    """llvmlite 0.50 initializes LLVM itself; only the host's target and asm printer are ours."""
    global _initialized
    if not _initialized:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        _initialized = True


def host_target_machine(opt_level: int = 2) -> llvm.TargetMachine:
    """A target machine for this CPU, with its name and features (avx2, fma, ...)."""
    _initialize()
    target = llvm.Target.from_triple(llvm.get_process_triple())
    return target.create_target_machine(cpu=llvm.get_host_cpu_name(),
                                        features=llvm.get_host_cpu_features().flatten(),
                                        opt=opt_level, jit=True)


def verify(llvm_ir: str) -> llvm.ModuleRef:
    """Parse and verify LLVM IR text; an `LLVMVerifierError` with LLVM's message if it is wrong."""
    _initialize()
    try:
        module = llvm.parse_assembly(llvm_ir)
        module.verify()
    except RuntimeError as e:
        message = str(e).strip()
        errors = [line for line in message.splitlines() if "error:" in line]
        first = errors[0].split("error:", 1)[1].strip() if errors else message.splitlines()[-1] if message else "?"
        raise LLVMVerifierError(f"LLVM rejected the translated module: {first}",
                                hint="this is a bug in lamina's LLVM translation (lowering/llvm/translate.py), "
                                     "not in the input; please report it with the input IR",
                                notes=[f"LLVM says: {line}" for line in message.splitlines()[:20]]) from None
    return module


def optimize(module: llvm.ModuleRef, target_machine: llvm.TargetMachine, opt_level: int) -> None:
    """LLVM's default -O<opt_level> pipeline (new pass manager), vectorizers on at >= 2."""
    if not 0 <= opt_level <= 3:
        raise LaminaError(f"LLVM optimization level {opt_level} is not one of 0, 1, 2, 3")
    options = llvm.create_pipeline_tuning_options(speed_level=opt_level)
    options.loop_vectorization = opt_level >= 2
    options.slp_vectorization = opt_level >= 2
    builder = llvm.create_pass_builder(target_machine, options)
    builder.getModulePassManager().run(module, builder)


def _build(translation: Translation, opt_level: int):
    """(target machine, the unoptimized IR text, the verified and optimized module, timings)."""
    timings = {}
    target_machine = host_target_machine(opt_level)
    translation.module.triple = llvm.get_process_triple()
    translation.module.data_layout = str(target_machine.target_data)
    start = time.perf_counter()
    unoptimized = str(translation.module)
    module = verify(unoptimized)
    timings["verify"] = time.perf_counter() - start
    start = time.perf_counter()
    optimize(module, target_machine, opt_level)
    timings["optimize"] = time.perf_counter() - start
    return target_machine, unoptimized, module, timings


def emit_llvm(module: Operation, opt_level: int = 2) -> str:
    """The LLVM IR of a loop-level module, verified and optimized at -O<opt_level>."""
    _, _, llvm_module, _ = _build(translate_module(module), opt_level)
    return str(llvm_module)


def emit_asm(module: Operation, opt_level: int = 2) -> str:
    """This CPU's assembly for a loop-level module, optimized at -O<opt_level>."""
    target_machine, _, llvm_module, _ = _build(translate_module(module), opt_level)
    return target_machine.emit_assembly(llvm_module)


# ---------------------------------------------------------------------------------------------
# 3. compile

_jit_ids = itertools.count()
_libc = ctypes.CDLL(None)
_libc.free.argtypes = [ctypes.c_void_p]
_libc.free.restype = None


def jit(module: Operation, opt_level: int = 2, *, globals: dict | None = None, embed_limit: int = EMBED_LIMIT,
        num_threads: int | None = None) -> "JitModule":
    """Translate, verify, optimize and compile a loop-level module for this CPU.

    `globals` binds memref.globals (by name) to numpy arrays of their type: the generated code
    reads and writes those arrays, which must stay as they are (the JitModule keeps a reference).
    Initial values over `embed_limit` bytes are bound to a copy the JitModule owns.
    `num_threads`: scf.parallel's thread count (default: parallel.NUM_THREADS)."""
    return JitModule(module, opt_level, globals=globals or {}, embed_limit=embed_limit, num_threads=num_threads)


class JitModule:
    """A compiled module: `call(name, *arrays)`, and what it became (`llvm_ir`, `asm`).

        jm = jit(module, opt_level=3)
        out = np.empty((4, 4), np.float32)
        jm.call("main", a, b, out)           # -> [] (the results, as interpret() returns them)
        print(jm.llvm_ir)                    # the optimized LLVM IR; unoptimized_llvm_ir; asm
    """

    def __init__(self, module: Operation, opt_level: int = 2, *, globals: dict, embed_limit: int = EMBED_LIMIT,
                 num_threads: int | None = None):
        start = time.perf_counter()
        self.opt_level = opt_level
        self._keep = []  # the buffers bound to globals: they must live as long as the code
        prefix = f"__lamina_jit{next(_jit_ids)}_"
        self.translation = translate_module(module, embed_limit=embed_limit, bind=tuple(globals),
                                            symbol_prefix=prefix, num_threads=num_threads)
        self.timings = {"translate": time.perf_counter() - start}
        unknown = set(globals) - set(self.translation.bound_globals)
        if unknown:
            raise JitError(f"globals= names {', '.join(sorted(unknown))}, which the module does not have",
                           hint=f"its memref.globals: {', '.join(sorted(self.translation.bound_globals)) or 'none'}")
        self._target_machine, self.unoptimized_llvm_ir, llvm_module, timings = _build(self.translation, opt_level)
        self.timings.update(timings)
        self.llvm_ir = str(llvm_module)
        start = time.perf_counter()
        self._engine = llvm.create_mcjit_compiler(llvm_module, self._target_machine)
        for bound in self.translation.bound_globals.values():
            array = self._global_buffer(bound, globals.get(bound.name))
            llvm.add_symbol(bound.symbol, array.ctypes.data)
        self._engine.finalize_object()
        self.timings["codegen"] = time.perf_counter() - start
        self.compile_seconds = sum(self.timings.values())
        self._asm = None
        self._functions = {}

    def _global_buffer(self, bound, given) -> np.ndarray:
        if given is None and bound.array is None:
            raise JitError(f"memref.global @{bound.name} has no initial value and nothing was bound to it",
                           hint=f"pass globals={{'{bound.name}': array}} (a {bound.type})")
        if given is None:
            array = bound.array.copy()  # the JitModule's own buffer, which the code may write
        else:
            array = check_array(given, bound.type, f"global @{bound.name}")
        self._keep.append(array)
        return array

    # -- what it became ---------------------------------------------------------------------------

    @property
    def asm(self) -> str:
        """The host assembly of the optimized module."""
        if self._asm is None:
            self._asm = self._target_machine.emit_assembly(llvm.parse_assembly(self.llvm_ir))
        return self._asm

    @property
    def functions(self) -> list[str]:
        """The functions `call` can run (public, with a body)."""
        return [name for name, info in self.translation.functions.items() if info.public]

    @property
    def num_threads(self) -> int | None:
        """How many threads each scf.parallel uses (None when the module has none); settable."""
        cell = self._threads_cell()
        return None if cell is None else cell.value

    @num_threads.setter
    def num_threads(self, value: int) -> None:
        cell = self._threads_cell()
        if cell is None:
            raise JitError("the module has no scf.parallel, so it has no thread count to set")
        if int(value) < 1:
            raise JitError(f"num_threads must be at least 1, not {value}")
        cell.value = int(value)

    def _threads_cell(self):
        symbol = self.translation.num_threads_symbol
        if symbol is None:
            return None
        return ctypes.c_int64.from_address(self._engine.get_global_value_address(symbol))

    # -- 4. call ----------------------------------------------------------------------------------

    def call(self, name: str, *args) -> list:
        """Run function @name on numpy arrays (memref arguments) and numbers (scalar arguments);
        returns its results as a list: numpy arrays for memrefs (a returned argument is that
        same array; a buffer the function allocated is copied out and freed), numpy scalars."""
        info = self.translation.functions.get(name)
        if info is None or not info.public:
            raise JitError(f"no public function @{name} to call",
                           hint=f"functions: {', '.join(self.functions) or 'none'}")
        inputs, results = info.type.inputs, info.type.results
        if len(args) != len(inputs):
            raise JitError(f"@{name} takes {len(inputs)} argument{'s' * (len(inputs) != 1)}, got {len(args)}")
        for j, source in enumerate(info.result_sources):
            if source == "unknown":
                raise JitError(f"result {j} of @{name} is a view or a stack buffer, which numpy cannot own",
                               hint="return a memref.alloc'd buffer (memref.copy into it) or an argument")
        slots = []  # what packed[i] points at; kept alive for the call
        arrays = []
        for i, (value, t) in enumerate(zip(args, inputs)):
            if isinstance(t, MemRefType):
                array = check_array(value, t, f"argument {i} of @{name}")
                arrays.append(array)
                slots.append(ctypes.c_void_p(array.ctypes.data))
            else:
                arrays.append(None)
                slots.append(_scalar(value, t, f"argument {i} of @{name}"))
        for t in results:
            slots.append(ctypes.c_void_p() if isinstance(t, MemRefType) else np.zeros((), t.numpy_dtype))
        packed = (ctypes.c_void_p * len(slots))(*[_address_of(s) for s in slots])
        self._packed_function(info)(packed)
        return self._results(info, arrays, slots[len(inputs):])

    def _packed_function(self, info: FunctionInfo):
        fn = self._functions.get(info.name)
        if fn is None:
            address = self._engine.get_function_address(info.packed_name)
            fn = self._functions[info.name] = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(address)
        return fn

    def _results(self, info: FunctionInfo, arrays: list, slots: list) -> list:
        out, freed = [], set()
        for t, slot, source in zip(info.type.results, slots, info.result_sources or [None] * len(slots)):
            if not isinstance(t, MemRefType):
                out.append(slot[()])
            elif isinstance(source, tuple):  # ("argument", i): the caller's own array
                out.append(arrays[source[1]])
            else:
                out.append(_copy_out(slot.value, t))
                if source == "alloc" and slot.value and slot.value not in freed:
                    freed.add(slot.value)
                    _libc.free(slot.value)
        return out


# ---------------------------------------------------------------------------------------------
# numpy <-> memref


def check_array(value, t: MemRefType, what: str) -> np.ndarray:
    """`value` if it is a numpy array that a memref of type `t` may point at: same dtype and shape,
    strides as the type's layout says (C-contiguous for the default layout), aligned."""
    shape, strides = static_layout(t, None)
    dtype = t.element_type.numpy_dtype
    if not isinstance(value, np.ndarray):
        raise JitError(f"{what} ({t}) must be a numpy array, not {type(value).__name__}",
                       hint=f"np.asarray(x, dtype=np.{dtype.name}).reshape({tuple(shape)})")
    if value.dtype != dtype:
        raise JitError(f"{what} ({t}) must have dtype {dtype.name}, not {value.dtype.name}",
                       hint=f"x.astype(np.{dtype.name})")
    if tuple(value.shape) != shape:
        raise JitError(f"{what} ({t}) must have shape {tuple(shape)}, not {tuple(value.shape)}")
    wanted = tuple(s * dtype.itemsize for s in strides)
    empty = 0 in shape  # no element is ever read or written: numpy gives such arrays any strides
    if not empty and any(d > 1 and a != w for d, a, w in zip(shape, value.strides, wanted)):
        if t.layout is None:
            raise JitError(f"{what} ({t}) must be C-contiguous", hint="np.ascontiguousarray(x)")
        raise JitError(f"{what} ({t}) must have byte strides {wanted}, not {value.strides}")
    if not value.flags.aligned:
        raise JitError(f"{what} ({t}) is not aligned to its element size", hint="x.copy()")
    return value


def _scalar(value, t: Type, what: str) -> np.ndarray:
    """A 0-d numpy array holding a scalar argument, checked against its type."""
    dtype = t.numpy_dtype
    given = np.asarray(value)
    if given.ndim != 0 or not np.can_cast(given.dtype, dtype, casting="same_kind"):
        raise JitError(f"{what} ({t}) must be a {dtype.name} number, not {given.dtype.name} {list(given.shape)}")
    return np.array(value, dtype=dtype)


def _address_of(slot) -> int:
    return ctypes.addressof(slot) if isinstance(slot, ctypes.c_void_p) else slot.ctypes.data


def _copy_out(address: int | None, t: MemRefType) -> np.ndarray:
    """A numpy copy of the memref of type `t` at `address`."""
    shape, strides = static_layout(t, None)
    dtype = t.element_type.numpy_dtype
    if not address or any(d == 0 for d in shape):
        return np.zeros(shape, dtype)
    span = 1 + sum((d - 1) * s for d, s in zip(shape, strides))
    flat = np.frombuffer((ctypes.c_char * (span * dtype.itemsize)).from_address(address), dtype)
    view = np.lib.stride_tricks.as_strided(flat, shape, [s * dtype.itemsize for s in strides])
    return view.copy()
