"""lamina: an MLIR-style teaching compiler for neural networks, built on TVM tensor expressions.

The public API:

    import lamina
    module = lamina.load_onnx("resnet18.onnx")       # ONNX -> nn IR (load_text for .lam, parse for MLIR)
    model = lamina.compile(module, target="llvm")     # or lamina.compile("resnet18.onnx")
    outputs = model(x)                                # numpy in, numpy out
    expected = lamina.interpret(module, x)            # the numpy reference interpreter
    print(lamina.compare("resnet18.onnx").report())   # each ONNX node against onnxruntime: the first that diverges
    print(lamina.bisect(module, "-O3", [x]).report()) # the first pass / pattern that breaks the outputs
    lamina.tune("mlp.onnx", trials=64, records="mlp.jsonl")  # tune kernels; compile(..., records="mlp.jsonl")
    lamina.run_pipeline(module, "canonicalize,cse,dce")
    print(lamina.print_ir(module))                    # IR -> MLIR text (generic=True for the generic form)

The layers are subpackages: lamina.compiler (IR, parser, printer, verifier, passes, front-ends,
CLI), lamina.dialects (builtin, func, arith, nn), lamina.lowering (TVM) and lamina.runtime.
Everything that needs TVM or ONNX is imported on first use, so `import lamina` stays quick.
"""

from lamina.compiler import LaminaError, ParseError, PassError, VerifyError, print_ir, verify

import os

__version__ = "0.1.0"

BACKENDS = ("tvm", "llvmlite")
"""Who makes the kernels: TVM's tensor expressions and schedules (the default, every target), or
lamina's own loops compiled by LLVM through llvmlite (this CPU; runtime/loop_executor.py)."""

__all__ = ["parse", "print_ir", "verify", "run_pipeline", "load_onnx", "load_text", "load", "compile", "tune", "kernel", "interpret",
           "compare", "bisect", "LaminaError", "ParseError", "VerifyError", "PassError", "__version__"]


def parse(text: str, filename: str = "<string>", allow_unregistered: bool = False):
    """MLIR text -> a builtin.module (lamina.compiler.parser.parse; lark loads on first use)."""
    from lamina.compiler.parser import parse as _parse

    return _parse(text, filename, allow_unregistered)


def run_pipeline(module, pipeline: str, **options):
    """Run a pass pipeline string on `module` (lamina.compiler.passes.run_pipeline)."""
    from lamina.compiler.passes import run_pipeline as _run_pipeline

    return _run_pipeline(module, pipeline, **options)


def load_onnx(path_or_model, input_shapes: dict | None = None):
    """An ONNX model (a path or a ModelProto) as an nn module; `input_shapes` pins dynamic dims."""
    from lamina.compiler.frontends.onnx import load_onnx as _load_onnx

    return _load_onnx(path_or_model, input_shapes=input_shapes)


def load_text(text_or_path, filename: str | None = None):
    """A model in lamina's text model language (`model mlp(x: f32[1, 784]) { ... }`) as nn IR."""
    from lamina.compiler.frontends.text import load_text as _load_text

    return _load_text(text_or_path) if filename is None else _load_text(text_or_path, filename=filename)


def load(path: str, input_shapes: dict | None = None):
    """A module from a file: `.onnx` (ONNX), `.lam` (text model), anything else as MLIR text."""
    if str(path).endswith(".onnx"):
        return load_onnx(path, input_shapes)
    if str(path).endswith(".lam"):
        return load_text(path)
    with open(path, encoding="utf-8") as f:
        module = parse(f.read(), str(path))
    verify(module)
    return module


def compile(model, target: str = "llvm", opt_level: int = 3, layout: str = "", schedules=None,
            threads: int | None = None, backend: str = "tvm", llvm_opt: int = 2, records=None):
    """Compile a module (or a model file's path) for `target` (`lamina targets`) after the passes
    of `opt_level` (0-3, as `lamina compile -O`; a module you pass is copied first, not changed)
    and, with `layout` ("NHWC", "NCHW8c"; default: the target's own, NCHW4c on opencl-adreno), a
    layout conversion; call the result with numpy arrays.
    `schedules`: kernel name -> sched.schedule program (or a directory of schedule files, as
    `--schedules DIR`) to use instead of the default schedules.
    `records`: a tuning records file (`lamina.tune`, `lamina tune`): each kernel whose task has a
    record is built with the fastest recorded schedule (an explicit `schedules` entry wins).
    `backend="llvmlite"`: lamina's own loops and LLVM through llvmlite instead of TVM (this CPU
    only; `llvm_opt` is LLVM's optimization level 0-3; runtime/loop_executor.py)."""
    from lamina.compiler.passes import run_pipeline
    from lamina.compiler.passes.presets import pipeline_for
    from lamina.runtime.executor import compile as _compile

    from lamina.lowering import targets

    if backend not in BACKENDS:
        raise LaminaError(f"unknown backend '{backend}'", hint=f"use one of: {', '.join(BACKENDS)}")
    module = load(model) if isinstance(model, str) else model.clone()
    if not layout and opt_level:
        layout = targets.get(target).default_layout  # NCHW4c on Adreno
    run_pipeline(module, pipeline_for(opt_level, layout, target if backend == "tvm" else None))
    if backend == "llvmlite":
        from lamina.runtime.loop_executor import compile as _compile_loops

        if schedules or records:
            raise LaminaError("schedules and records apply to the TVM backend's kernels, not to the llvmlite "
                              "backend's loops")
        return _compile_loops(module, target=target, llvm_opt=llvm_opt, threads=threads)
    if isinstance(schedules, (str, os.PathLike)):
        from lamina.lowering.schedules.files import read_schedules

        schedules = read_schedules(schedules)
    return _compile(module, target=target, schedules=schedules, threads=threads, records=records)


def tune(model, target: str = "llvm", trials: int = 64, time_budget: float | None = None, records=None,
         scheduler: str = "gradient", opt_level: int = 3, layout: str = "", threads: int | None = None,
         input_shapes: dict | None = None, search: str = "evolutionary", rpc: str | None = None,
         tracker: str | None = None, device_key: str | None = None, tuner: str = "lamina", confirm: int = 2):
    """Tune the schedules of a model's kernels (a module, copied, or a model file's path, optimized
    at `opt_level` first, as `compile` does): `trials` candidates in all, at most `time_budget`
    seconds, each measurement appended to the `records` file (a second call with the same file
    resumes). `scheduler`: "gradient" (Ansor's) or "round-robin"; `search`: "evolutionary" (with a
    learned cost model) or "random". `rpc="host:port"` (or `tracker` and `device_key`) measures on
    a TVM RPC server instead of locally. `tuner="meta-schedule"`: TVM's meta-schedule tunes the
    same tasks instead, a peer (locally only; the meta-schedule extra). `confirm`: turns of
    measuring each task's fastest candidates again at the end (0: none; `lamina tune --confirm`).
    Returns the result; print `result.table()`. Then `lamina.compile(model, records=...)` builds
    with the best (lowering/tuning/)."""
    from lamina.compiler.errors import LaminaError
    from lamina.lowering.tuning.tasks import load_optimized
    from lamina.lowering.tuning.tuner import tune as _tune

    if tuner not in ("lamina", "meta-schedule"):
        raise LaminaError(f"no tuner '{tuner}'", hint="tuner='lamina' (the default) or tuner='meta-schedule'")
    if tuner == "meta-schedule":
        from lamina.lowering.tuning.meta_schedule import require, tune_meta_schedule

        if rpc or tracker or device_key:
            raise LaminaError("tuner='meta-schedule' measures on this machine: it takes no rpc, tracker or device_key")
        require()
        module = load_optimized(model, opt_level, layout, input_shapes, target)
        return tune_meta_schedule(module, target, trials=trials, time_budget=time_budget, records=records,
                                  scheduler=scheduler, threads=threads, search=search)
    module = load_optimized(model, opt_level, layout, input_shapes, target)
    return _tune(module, target, trials=trials, time_budget=time_budget, records=records, scheduler=scheduler,
                 threads=threads, search=search, rpc=rpc, tracker=tracker, device_key=device_key,
                 confirm_rounds=confirm)


def kernel(source, target: str = "llvm", seed: int = 0):
    """One op or fused group (MLIR text, a module with one kernel in @main, or an op) built for
    `target`, to read and edit its schedule, check it and time it (lowering/experiment.py)."""
    from lamina.lowering.experiment import kernel as _kernel

    return _kernel(source, target, seed=seed)


def interpret(module, *inputs, function: str = "main"):
    """Run `function` of `module` in the numpy reference interpreter."""
    from lamina.runtime.interpreter import interpret as _interpret

    return _interpret(module, *inputs, function=function)


def bisect(model, pipeline: str = "-O3", inputs=(), interpret: bool = False, rtol: float = 1e-4,
           atol: float = 1e-5, target: str = "llvm"):
    """The first pass of `pipeline` ("-O3" or a pipeline string), and inside a rewrite pass the
    first pattern application, after which a model's (a module's or a file's) outputs on `inputs`
    leave tolerance against the unoptimized model: `lamina bisect` (runtime/pass_bisect.py). The
    module is not changed; `print(result.report())` says what was found."""
    from lamina.runtime.pass_bisect import bisect as _bisect

    module = load(model) if isinstance(model, (str, os.PathLike)) else model
    return _bisect(module, pipeline, inputs, interpret=interpret, rtol=rtol, atol=atol, target=target)


def compare(model, opt_level: int = 3, target: str = "llvm", inputs=None, rtol: float | None = None,
            atol: float | None = None, fill: str | None = "random", input_shapes: dict | None = None):
    """Every node of an ONNX model (a path or ModelProto) as lamina computes it at `opt_level`
    against onnxruntime, in topological order: `lamina compare` (runtime/node_compare.py).
    `inputs`: arrays by input name (or a list); the others generated as `fill` says ("random",
    seed = input index, as `lamina run --fill`). `rtol`, `atol`: those of `run --check` unless
    given. Returns the table: `.rows`, `.first_diverging`, `.ok`, `.report()`, `.to_json()`."""
    from lamina.runtime.node_compare import compare as _compare

    return _compare(model, opt_level=opt_level, target=target, inputs=inputs, rtol=rtol, atol=atol,
                    fill=fill, input_shapes=input_shapes)
