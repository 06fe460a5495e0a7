"""The `lamina` command line. `lamina opt` reads IR, runs a pass pipeline and prints the result,
in the manner of mlir-opt and xdsl-opt.

Errors a user can cause print as `FILE:LINE:COL: error: message`, the source line and a caret,
and exit 1; `--debug` adds the Python traceback. Imports are kept inside the subcommands so that
`lamina --help` starts fast.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import traceback

SPLIT_MARKER = re.compile(r"^// -----\s*$", re.M)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lamina", description="lamina: an MLIR-style teaching compiler for neural networks.")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    opt = sub.add_parser("opt", help="parse IR, run a pass pipeline, print the IR (like mlir-opt)",
                         description="Parse IR, run a pass pipeline, print the IR.")
    opt.add_argument("input", nargs="?", default="-", help="an .mlir file, or - for standard input")
    opt.add_argument("-p", "--pipeline", "--passes", default="",
                     help='passes to run, e.g. "canonicalize,cse,dce" or "canonicalize{max-iterations=4}"')
    _add_opt_level(opt, default=None, passes=False)
    opt.add_argument("-o", "--output", help="write the result here instead of standard output")
    opt.add_argument("--view-op-graph", metavar="FILE", help="also write the dataflow graph after the passes as "
                     "Graphviz dot (FILE.dot), or rendered by Graphviz's dot program (FILE.svg, FILE.png; the "
                     ".dot beside it): ops, their result types, fused groups as clusters named by their kernels")
    opt.add_argument("--print-generic", action="store_true", help="print every op in MLIR's generic form")
    opt.add_argument("--emit", choices=["mlir", "llvm", "asm"], default="mlir",
                     help="what to print after the passes: the IR (default), or for loop IR (func, scf, memref, "
                          "arith, math) its LLVM IR or this CPU's assembly (lowering/llvm)")
    opt.add_argument("--llvm-opt", type=int, choices=range(4), default=2, metavar="N",
                     help="LLVM's optimization level 0-3 for --emit llvm and --emit asm (default 2)")
    opt.add_argument("--allow-unregistered", "--allow-unregistered-dialect", action="store_true",
                     help="accept ops, types and attributes of dialects lamina does not know")
    opt.add_argument("--split-input-file", action="store_true",
                     help="treat '// -----' lines as separators between independent inputs")
    opt.add_argument("--verify-diagnostics", action="store_true",
                     help="check errors against '// expected-error {{...}}' comments instead of failing")
    opt.add_argument("--verify-roundtrip", action="store_true",
                     help="also check that printing, parsing and printing again gives the same text")
    opt.add_argument("--no-verify-each", dest="verify_each", action="store_false",
                     help="do not run the verifier after each pass (it runs by default)")
    opt.add_argument("--print-ir-after-all", action="store_true", help="print the IR after every pass")
    opt.add_argument("--print-ir-before", action="append", default=[], metavar="PASS",
                     help="print the IR before this pass (repeatable)")
    opt.add_argument("--print-ir-after", action="append", default=[], metavar="PASS",
                     help="print the IR after this pass (repeatable)")
    opt.add_argument("--print-ir-after-change", action="store_true",
                     help="print the IR after a pass only when the pass changed it")
    opt.add_argument("--timing", action="store_true", help="print a table of wall time per pass")
    opt.add_argument("--statistics", "--pattern-stats", dest="statistics", action="store_true",
                     help="print how often each rewrite pattern fired")
    opt.add_argument("--explain-patterns", action="store_true",
                     help="list, per pattern, the ops it matched where a named precondition failed")
    opt.add_argument("--elide-large-constants", type=int, metavar="N",
                     help="print dense constants with more than N elements as dense_resource<__elided__>")
    opt.add_argument("--no-locations", dest="print_locations", action="store_false",
                     help="do not print op locations")
    opt.add_argument("--list-passes", action="store_true", help="list the registered passes and exit")
    opt.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                     help="show Python tracebacks on errors")
    opt.set_defaults(handler=_run_opt)

    imp = sub.add_parser("import", help="import an ONNX or text (.lam) model as nn IR",
                         description="Import an ONNX model or a text model and print it as lamina IR.")
    imp.add_argument("model", help="an .onnx or .lam file")
    imp.add_argument("-o", "--output", help="write the IR here instead of standard output")
    imp.add_argument("--input-shape", action="append", default=[], metavar="NAME=DIMS",
                     help="pin an input's dynamic dims, e.g. --input-shape input=1x3x224x224")
    imp.add_argument("--print-generic", action="store_true", help="print in MLIR's generic form")
    imp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    imp.set_defaults(handler=_run_import)

    run = sub.add_parser("run", help="compile a model (ONNX or .mlir) and run it",
                         description="Compile a model, run it on given or generated inputs, "
                                     "print its outputs, and optionally check them against a peer.")
    run.add_argument("model", help="an .onnx, .lam (text model) or .mlir file")
    _add_input_flags(run)
    _add_target_flags(run)
    run.add_argument("--schedules", metavar="DIR",
                     help="apply the schedule files in DIR to the kernels they name (see compile --emit-schedules)")
    _add_records_flag(run)
    _add_opt_level(run, default=3)
    _add_pass_report_flags(run)
    run.add_argument("--interpret", action="store_true",
                     help="run the numpy reference interpreter instead of compiled kernels")
    run.add_argument("--backend", choices=["tvm", "llvmlite"], default="tvm",
                     help="tvm (default): TVM builds the kernels; llvmlite: lamina lowers the model to loops "
                          "and LLVM compiles them through llvmlite (this CPU only)")
    run.add_argument("--llvm-opt", type=int, choices=range(4), default=2, metavar="N",
                     help="with --backend llvmlite: LLVM's optimization level 0-3 (default 2)")
    run.add_argument("--check", choices=["onnxruntime"], help="compare the outputs with onnxruntime")
    _add_tolerances(run, "--check")
    run.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    run.set_defaults(handler=_run_run)

    cmp = sub.add_parser("compare", help="compare every ONNX node's value with onnxruntime's; name the "
                                         "first that diverges",
                         description="Run an ONNX model in onnxruntime with every intermediate value "
                                     "exposed and in lamina with the value of every node it kept (the ops "
                                     "of a fused kernel also run one by one, on the kernel's inputs); "
                                     "print one row per node in topological order, mark the rows over "
                                     "tolerance and name the first diverging node (its inputs agree, its "
                                     "output does not). Exit 1 when a node diverges.")
    cmp.add_argument("model", help="an .onnx file")
    _add_input_flags(cmp)
    _add_target_flags(cmp)
    cmp.add_argument("-O", dest="opt_level", type=int, choices=range(4), default=3, metavar="N",
                     help="optimization level 0-3 (see `lamina opt --list-passes`); default 3")
    _add_tolerances(cmp, "a node")
    cmp.add_argument("--json", nargs="?", const="-", metavar="FILE",
                     help="write the table as JSON to FILE (the text table still prints), or alone "
                          "to standard output instead of the text table")
    cmp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    cmp.set_defaults(handler=_run_compare)

    comp = sub.add_parser("compile", help="optimize a model and build its kernels; report what it became",
                          description="Optimize a model (-O0..-O3, --layout), build its kernels for the "
                                      "target, and print a summary: kernels before and after fusion, "
                                      "compile time, and on request pass timings and the memory plan.")
    comp.add_argument("model", help="an .onnx, .lam (text model) or .mlir file")
    comp.add_argument("--input-shape", action="append", default=[], metavar="NAME=DIMS",
                      help="pin an input's dynamic dims, e.g. --input-shape input=1x3x224x224")
    _add_target_flags(comp)
    _add_opt_level(comp, default=3)
    _add_pass_report_flags(comp)
    comp.add_argument("--memory-report", action="store_true",
                      help="print the memory plan: peak bytes of the arena vs the sum of all intermediates")
    comp.add_argument("-o", "--output", metavar="FILE.mlir|FILE.tar",
                      help="write the optimized IR (.mlir) or a package that runs without recompiling (.tar) "
                           "here (never over the model file)")
    comp.add_argument("--emit-schedules", metavar="DIR",
                      help="write each kernel's schedule (sched dialect) to DIR/<kernel>.mlir")
    comp.add_argument("--emit-source", metavar="DIR",
                      help="for a GPU target, write each kernel's device code (DIR/<kernel>.cl or .cu) and its "
                           "schedule (DIR/<kernel>.mlir)")
    comp.add_argument("--schedules", metavar="DIR",
                      help="apply the schedule files in DIR to the kernels they name, the defaults to the rest")
    _add_records_flag(comp)
    comp.add_argument("--cross-compiler", metavar="CMD",
                      help="for a cross target, link the kernels into shared libraries with this C compiler")
    comp.add_argument("--print-tir", metavar="KERNEL",
                      help="print a kernel's scheduled TIR (TVMScript) and its lowered loop nest")
    comp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    comp.set_defaults(handler=_run_compile)

    check = sub.add_parser("check-pass", help="check that a pass keeps the meaning of random nn graphs",
                           description="Run random nn graphs through the reference interpreter before "
                                       "and after a pass (or pipeline) and report the smallest graph "
                                       "whose outputs differ.")
    check.add_argument("pipeline", metavar="NAME", nargs="?", default="",
                       help='a pass or pipeline, e.g. "fold-constants" or "canonicalize,cse"')
    check.add_argument("-O", dest="opt_level", type=int, choices=range(4), metavar="N",
                       help="check an optimization level's pipeline (-O3) instead of NAME")
    check.add_argument("--examples", type=int, default=300, metavar="N", help="how many graphs to try (default 300)")
    check.add_argument("--seed", type=int, help="hypothesis seed, for a reproducible run")
    check.add_argument("--compile", action="store_true",
                       help="also build the optimized graph's kernels and check their outputs")
    check.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    check.set_defaults(handler=_run_check_pass)

    bis = sub.add_parser("bisect", help="find the first pass / pattern application that breaks a model's outputs",
                         description="Run the pipeline one pass at a time (inside a rewrite pass, one pattern "
                                     "application or fold at a time, by binary search), run the model after each "
                                     "step, and name the first step after which its outputs leave tolerance against "
                                     "the unoptimized model, with the IR it rewrote before and after (LLVM's "
                                     "opt-bisect). Exit 1 when a step breaks the outputs, 0 when none does.")
    bis.add_argument("model", help="an .onnx, .lam (text model) or .mlir file")
    _add_input_flags(bis)
    _add_target_flags(bis)
    _add_opt_level(bis, default=3)
    bis.add_argument("--interpret", action="store_true", help="run each step in the reference interpreter instead "
                     "of compiling it (faster; fusion and layout bugs only show compiled)")
    _add_tolerances(bis, "the outputs against the unoptimized model's")
    bis.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    bis.set_defaults(handler=_run_bisect)

    tune = sub.add_parser("tune", help="tune the schedules of a model's kernels; keep every measurement as a record",
                          description="Split an optimized model into tasks (its distinct kernels, weighted by how "
                                      "often it runs each), then search each task's schedule knobs: each round the "
                                      "task scheduler gives the next trials to the task that promises the largest "
                                      "gain in model time; every candidate is built here and timed in a separate "
                                      "process, and appended to --records as one JSON line. A second run with the "
                                      "same file resumes. Then: lamina compile|run MODEL --records FILE. "
                                      "Exit 0 when done, 1 on bad input, 130 when interrupted (records kept).")
    tune.add_argument("model", help="an .onnx, .lam (text model) or .mlir file")
    tune.add_argument("--input-shape", action="append", default=[], metavar="NAME=DIMS",
                      help="pin an input's dynamic dims, e.g. --input-shape input=1x3x224x224")
    tune.add_argument("--target", default="llvm", metavar="NAME",
                      help="what to tune for: llvm (this CPU; default) (`lamina targets`)")
    tune.add_argument("--threads", type=int, metavar="N",
                      help="CPU threads the kernels are scheduled and timed for (default: this machine's cores)")
    _add_opt_level(tune, default=3)
    tune.add_argument("--records", metavar="FILE.jsonl",
                      help="append every measurement here (made if missing; never rewritten); needed unless --list-tasks")
    tune.add_argument("--trials", type=int, default=64, metavar="N",
                      help="candidates to measure in all, after each task's default (default 64)")
    tune.add_argument("--time-budget", type=float, metavar="SECONDS", help="stop after this many seconds")
    tune.add_argument("--scheduler", choices=["gradient", "round-robin"], default="gradient",
                      help="which task gets the next trials: gradient (Ansor's expected gain; default) or round-robin")
    tune.add_argument("--search", choices=["evolutionary", "random"], default="evolutionary",
                      help="how each task's candidates are chosen: evolutionary (ranked by a cost model trained on "
                           "the measurements so far; default) or random (the baseline)")
    tune.add_argument("--seed", type=int, default=0, help="the search's seed (default 0)")
    tune.add_argument("--confirm", type=int, default=2, metavar="N",
                      help="at the end, measure each task's 3 fastest candidates and its default again N times in "
                           "turn, and keep the one with the lowest median (default 2; 0: keep the fastest single "
                           "measurement)")
    tune.add_argument("--cache", choices=["cold", "warm"], default="cold",
                      help="how the local runner times a kernel: cold (each call after a flush of the caches, "
                           "as a model run leaves a kernel's data; default) or warm (calls in a row, the data in "
                           "cache: faster, and further from the time in the model); an RPC device times warm")
    tune.add_argument("--tuner", choices=["lamina", "meta-schedule"], default="lamina",
                      help="lamina (its own search over the schedule generators' knobs; default) or meta-schedule "
                           "(TVM's, a peer: the same tasks, budget and records, its best schedules converted into "
                           "schedule IR and timed by lamina's runner; --scheduler and --search map onto its own, "
                           "random being its replay of random traces; needs the meta-schedule extra)")
    tune.add_argument("--rpc", metavar="HOST:PORT",
                      help="measure on this TVM RPC server (python -m lamina.lowering.tuning.rpc on the device) "
                           "instead of in a local worker; the kernels are built here for --target")
    tune.add_argument("--tracker", metavar="HOST:PORT",
                      help="ask this TVM RPC tracker for a device of --device-key to measure on")
    tune.add_argument("--device-key", metavar="KEY", help="the device key the servers registered with the tracker")
    tune.add_argument("--report", action="store_true",
                      help="tune nothing: print what --records holds per task (default and best time, speed-up, "
                           "share) and the estimated model time beside the measured one, with the records and without")
    tune.add_argument("--plot", metavar="FILE.png",
                      help="with --report: draw each task's best time so far against its trials (needs matplotlib)")
    tune.add_argument("--list-tasks", action="store_true",
                      help="print the tasks (weight, FLOPs, the default schedule's time, share of the model) and exit")
    tune.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    tune.set_defaults(handler=_run_tune)

    # every argument after `bench` goes to the benchmark's own parser (prefix_chars="\0": none of
    # them is an option of this subparser), so `lamina bench --help` shows the benchmark's options
    tg = sub.add_parser("targets", help="list the targets --target accepts, with their limits")
    tg.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    tg.set_defaults(handler=_run_targets)

    rep = sub.add_parser("report", help="write one HTML page about a model: the IR after each pass, kernels, "
                                        "memory plan", description="Compile a model and write a self-contained HTML "
                         "page: the IR after each pass with its diff, the kernel table (time, FLOPs, %% of peak, "
                         "ONNX nodes), a bar chart of kernel time and the memory plan as a picture.")
    rep.add_argument("model", help="an .onnx, .lam or .mlir model")
    rep.add_argument("-o", "--output", required=True, metavar="FILE.html", help="the page to write")
    _add_opt_level(rep, default=3)
    rep.add_argument("--runs", type=int, default=10, help="timed calls of each kernel (10)")
    rep.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    rep.set_defaults(handler=_run_report)

    cache = sub.add_parser("cache", help="show or empty the kernel cache ($LAMINA_CACHE_DIR)",
                           description="Show the kernel cache (its folder, entries, size; each entry's "
                                       "content hash is checked) or empty it (lamina's entries only).")
    cache.add_argument("action", nargs="?", choices=["info", "clear"], default="info",
                       help="info (default): describe the cache; clear: remove its entries")
    cache.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    cache.set_defaults(handler=_run_cache)

    bench = sub.add_parser("bench", add_help=False, prefix_chars="\0",
                           help="benchmark the model zoo: lamina, onnxruntime, TVM Relax (--help)")
    bench.add_argument("argv", nargs=argparse.REMAINDER)
    bench.set_defaults(handler=_run_bench)
    return parser


def _add_target_flags(parser):
    parser.add_argument("--target", default="llvm", metavar="NAME",
                        help="what to build for: llvm (this CPU; default), aarch64-android, ... (`lamina targets`)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads the kernels are scheduled for (default: this machine's cores)")
    parser.add_argument("--arch", metavar="SM",
                        help="for --target cuda: the GPU architecture, e.g. sm_80 (default sm_90)")
    parser.add_argument("--peer-schedules", choices=["tvm-dlight"],
                        help="for a GPU target: schedule every kernel with TVM's s_tir.dlight default rules "
                             "instead of lamina's (the peer lamina's GPU schedules are measured against)")


def _add_records_flag(parser):
    parser.add_argument("--records", metavar="FILE.jsonl",
                        help="build each kernel whose task has a tuning record (lamina tune) with the fastest one; "
                             "a --schedules file wins for the kernels it names")


def _records_of(args) -> str | None:
    """--records FILE, checked: it must exist (lamina tune writes it)."""
    path = getattr(args, "records", None)
    if not path:
        return None
    from lamina.compiler.errors import LaminaError

    if getattr(args, "backend", "tvm") != "tvm":
        raise LaminaError("--records sets the TVM backend's schedules; the llvmlite backend has loops",
                          hint="drop --records, or use --backend tvm")
    if not os.path.isfile(path):
        raise LaminaError(f"--records {path}: no such file", hint="write one with lamina tune MODEL --records FILE")
    return path


def _records_line(model, records) -> str:
    return (f"  records: {model.records_applied} of {model.num_kernels} kernels took the best recorded schedule "
            f"of their task from {records}")


def _target_of(args):
    """--target with --arch applied: a name, or the registry's Target for another CUDA arch."""
    if not getattr(args, "arch", None):
        return args.target
    from lamina.lowering import targets

    return targets.get(args.target, arch=args.arch)


def _add_input_flags(parser):
    """--input, --fill and --input-shape: a model's inputs, as run, compare and bisect take them
    (runtime/inputs.py)."""
    parser.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy",
                        help="an input's value from a .npy file (repeatable)")
    parser.add_argument("--fill", choices=["random", "zeros", "ones"],
                        help="generate the inputs not given with --input (random: seed 0)")
    parser.add_argument("--input-shape", action="append", default=[], metavar="NAME=DIMS",
                        help="pin an input's dynamic dims, e.g. --input-shape input=1x3x224x224")


def _add_tolerances(parser, what: str):
    from lamina.runtime.compare import ATOL, RTOL

    parser.add_argument("--rtol", type=float, default=RTOL, help=f"relative tolerance for {what} (default {RTOL:g})")
    parser.add_argument("--atol", type=float, default=ATOL, help=f"absolute tolerance for {what} (default {ATOL:g})")


def _add_opt_level(parser, default, passes: bool = True):
    parser.add_argument("-O", dest="opt_level", type=int, choices=range(4), default=default, metavar="N",
                        help="optimization level 0-3 (see `lamina opt --list-passes`)"
                             + (f"; default {default}" if default is not None else ""))
    parser.add_argument("--layout", default="", metavar="LAYOUT",
                        help="convert convolutions to NHWC or NCHW<c>c (e.g. NCHW8c) before fusion")
    if passes:
        parser.add_argument("-p", "--passes", dest="pipeline", default="",
                            help="more passes to run after the -O level's, as a pipeline string")


def _add_pass_report_flags(parser):
    parser.add_argument("--print-ir-after-all", action="store_true", help="print the IR after every pass")
    parser.add_argument("--print-ir-after-change", action="store_true",
                        help="print the IR after a pass only when the pass changed it")
    parser.add_argument("--timing", action="store_true",
                        help="print the wall time of each pass and of the kernel build")


def _pipeline_of(args) -> str:
    """The -O level's pipeline (with --layout's conversion), then the passes given with -p."""
    from lamina.compiler.passes.presets import pipeline_for

    if args.opt_level is None:
        if args.layout:
            from lamina.compiler.errors import LaminaError

            raise LaminaError("--layout needs an optimization level", hint="add -O3 (or -O1, -O2)")
        return args.pipeline
    layout = args.layout or _default_layout(args)
    return ",".join(p for p in (pipeline_for(args.opt_level, layout, getattr(args, "target", None)), args.pipeline)
                    if p)


def _default_layout(args) -> str:
    """The target's own conv layout when --layout is not given (NCHW4c on Adreno), at -O1 and up."""
    name = getattr(args, "target", None)
    if not name or not args.opt_level:
        return ""
    from lamina.compiler.errors import LaminaError
    from lamina.lowering import targets

    try:
        return targets.get(name).default_layout
    except LaminaError:
        return ""  # an unknown target: the build says so


def _optimize(module, args, timing: bool = False):
    """Run the pipeline of `args` on a loaded model; returns the pass manager (its timings)."""
    from lamina.compiler.passes import PassManager

    manager = PassManager.parse(_pipeline_of(args), print_ir_after_all=args.print_ir_after_all,
                                print_ir_after_change=args.print_ir_after_change, timing=timing)
    manager.run(module)
    return manager


def main(argv: list[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from lamina.compiler.errors import LaminaError
    from lamina.runtime.device_plan import DeviceError

    try:
        return args.handler(args)
    except (LaminaError, DeviceError) as e:
        if args.debug:
            traceback.print_exc()
        print(e.render(), file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except Exception as e:  # a bug in lamina: say so plainly, traceback only on request
        if args.debug:
            traceback.print_exc()
        else:
            print(f"internal error: {type(e).__name__}: {e}\n"
                  "this is a bug in lamina; run again with --debug for the traceback", file=sys.stderr)
        return 2


# ---------------------------------------------------------------------------------------------
# lamina opt


def _run_opt(args) -> int:
    from lamina.compiler.errors import LaminaError
    from lamina.compiler.files import check_output, write_output
    from lamina.compiler.passes import PassManager, describe_passes

    if args.list_passes:
        from lamina.compiler.passes.presets import describe_levels

        print("passes:")
        for name, summary in describe_passes():
            print(f"  {name:22} {summary}")
        print("optimization levels (-O):")
        for flag, summary, pipeline in describe_levels():
            print(f"  {flag:22} {summary}\n  {'':22}   = {pipeline}")
        return 0
    if args.output:
        check_output(args.output, [args.input])
    if args.view_op_graph:
        if args.split_input_file:
            raise LaminaError("--view-op-graph draws one module", hint="drop --split-input-file")
        check_output(args.view_op_graph, [args.input, args.output])
    text, filename = _read_input(args.input)
    manager = PassManager.parse(
        _pipeline_of(args), verify_each=args.verify_each, print_ir_before=args.print_ir_before,
        print_ir_after=args.print_ir_after, print_ir_after_all=args.print_ir_after_all,
        print_ir_after_change=args.print_ir_after_change, timing=args.timing,
        print_statistics=args.statistics, generic=args.print_generic,
        explain_patterns=args.explain_patterns)
    chunks = _split(text) if args.split_input_file else [(0, text)]
    outputs, failures = [], 0
    for first_line, chunk in chunks:
        padded = "\n" * first_line + chunk  # keep line numbers those of the whole file
        try:
            out, module = _opt_one(padded, filename, manager, args)
            outputs.append(out)
            if args.verify_diagnostics:
                failures += _check_diagnostics(padded, filename, None)
        except LaminaError as e:
            if not args.verify_diagnostics:
                if not args.split_input_file:
                    raise
                print(e.render(), file=sys.stderr)
                failures += 1
                continue
            failures += _check_diagnostics(padded, filename, e)
    result = "// -----\n".join(outputs)
    write_output(args.output or "-", result, [args.input])
    if args.view_op_graph and outputs:
        from lamina.compiler.opgraph import write_op_graph

        written = write_op_graph(module, args.view_op_graph, [args.input, args.output])
        print(f"wrote the op graph to {' and '.join(written)}", file=sys.stderr)
    return 1 if failures else 0


def _opt_one(text: str, filename: str, manager, args):
    from lamina.compiler.errors import LaminaError
    from lamina.compiler.parser import parse
    from lamina.compiler.printer import print_ir
    from lamina.compiler.verifier import verify

    module = parse(text, filename, allow_unregistered=args.allow_unregistered)
    verify(module)
    manager.run(module)
    if args.emit != "mlir":
        from lamina.lowering.llvm import emit_asm, emit_llvm

        return (emit_llvm if args.emit == "llvm" else emit_asm)(module, args.llvm_opt), module
    options = dict(generic=args.print_generic, print_locations=args.print_locations,
                   elide_threshold=args.elide_large_constants)
    out = print_ir(module, **options)
    if args.verify_roundtrip:
        for generic in (False, True):
            first = print_ir(module, **{**options, "generic": generic, "elide_threshold": None})
            again = print_ir(parse(first, f"<{filename} as printed>", args.allow_unregistered),
                             **{**options, "generic": generic, "elide_threshold": None})
            if again != first:
                form = "generic" if generic else "custom"
                raise LaminaError(f"the {form} form does not round-trip: print(parse(print(m))) != print(m)",
                                  hint=_first_difference(first, again))
    return out, module


# ---------------------------------------------------------------------------------------------
# lamina import / lamina run


def _input_shapes(specs: list[str]) -> dict[str, tuple[int, ...]]:
    from lamina.compiler.errors import LaminaError

    shapes = {}
    for spec in specs:
        name, _, dims = spec.partition("=")
        try:
            shapes[name] = tuple(int(d) for d in dims.lower().split("x"))
        except ValueError:
            raise LaminaError(f"--input-shape {spec!r} is not NAME=DIMS",
                              hint="write it like input=1x3x224x224") from None
    return shapes


def _load_model(path: str, input_shapes: dict):
    """A module from an .onnx file, a .lam text model, or an .mlir file."""
    from lamina.compiler.errors import LaminaError

    if path.endswith(".onnx"):
        from lamina.compiler.frontends.onnx import load_onnx

        return load_onnx(path, input_shapes=input_shapes)
    if path.endswith(".lam"):
        from lamina.compiler.frontends.text import load_text

        if input_shapes:
            raise LaminaError("--input-shape applies to ONNX models; write the shapes in the .lam file")
        return load_text(path)
    from lamina.compiler.parser import parse
    from lamina.compiler.verifier import verify

    text, filename = _read_input(path)
    module = parse(text, filename)
    verify(module)
    if input_shapes:
        raise LaminaError("--input-shape applies to ONNX models; write the shapes in the .mlir file")
    return module


def _run_import(args) -> int:
    from lamina.compiler.files import write_output
    from lamina.compiler.printer import print_ir

    inputs = _checked_inputs(args.output, args.model)
    module = _load_model(args.model, _input_shapes(args.input_shape))
    text = print_ir(module, generic=args.print_generic)
    write_output(args.output or "-", text, inputs)
    return 0


def _checked_inputs(output: str | None, model: str, schedules: str | None = None) -> list[str]:
    """The files that `-o output` may not overwrite (`_model_files`), checked at once, before any
    work: the model itself first, so that the usual mistake fails before an ONNX file is parsed."""
    from lamina.compiler.files import check_output, is_stream

    if not output or is_stream(output):
        return []
    check_output(output, [model])
    inputs = _model_files(model, schedules)
    check_output(output, inputs)
    return inputs


def _model_files(path: str, schedules: str | None = None) -> list[str]:
    """The files a command reads for a model, which its -o may not overwrite: the model, an ONNX
    model's external data files, and the .mlir files of a --schedules folder."""
    files = [path]
    if path.endswith(".onnx") and os.path.isfile(path):
        try:
            import onnx

            graphs = [onnx.load(path, load_external_data=False).graph]
        except Exception:  # an unreadable model: the import reports it
            graphs = []
        while graphs:
            graph = graphs.pop()
            tensors = list(graph.initializer)
            for a in (a for node in graph.node for a in node.attribute):  # constants, subgraphs
                tensors += a.tensors
                graphs += a.graphs
                if a.HasField("t"):
                    tensors.append(a.t)
                if a.HasField("g"):
                    graphs.append(a.g)
            for t in tensors:
                if t.data_location == onnx.TensorProto.EXTERNAL:
                    location = next((e.value for e in t.external_data if e.key == "location"), None)
                    if location:
                        files.append(os.path.join(os.path.dirname(path), location))
    if schedules and os.path.isdir(schedules):
        files += sorted(os.path.join(schedules, f) for f in os.listdir(schedules) if f.endswith(".mlir"))
    return list(dict.fromkeys(files))


def _run_run(args) -> int:
    from lamina.compiler.errors import LaminaError
    from lamina.compiler.symbols import SymbolTable
    from lamina.runtime.inputs import function_inputs, input_names

    if args.model.endswith(".tar"):
        return _run_package(args)
    module = _load_model(args.model, _input_shapes(args.input_shape))
    main_fn = SymbolTable(module).lookup("main")
    if main_fn is None:
        raise LaminaError(f"{args.model} has no function @main to run")
    inputs = function_inputs(main_fn, _given_inputs(args.input), args.fill)
    names = input_names(main_fn)
    _optimize(module, args, timing=args.timing)
    if args.interpret:
        from lamina.runtime.interpreter import interpret

        outputs = interpret(module, *inputs)
        print("ran @main in the reference interpreter")
    elif args.backend == "llvmlite":
        from lamina.runtime.loop_executor import compile as compile_loops

        if args.schedules or getattr(args, "peer_schedules", None) or args.records:
            raise LaminaError("--schedules, --records and --peer-schedules set the TVM backend's schedules; the llvmlite "
                              "backend has loops, not schedules", hint="drop them, or use --backend tvm")
        model = compile_loops(module, target=_target_of(args), llvm_opt=args.llvm_opt, threads=args.threads)
        outputs = model(*inputs)
        print(f"compiled @main at -O{args.opt_level} to loops and with LLVM -O{args.llvm_opt} (llvmlite) in "
              f"{model.compile_seconds:.2f} s ({model.lower_seconds:.2f} s to loops), ran on this CPU "
              f"({model.threads} thread{'s' * (model.threads != 1)})")
    else:
        from lamina.runtime.executor import compile as compile_model

        records = _records_of(args)
        model = compile_model(module, target=_target_of(args), schedules=_schedules(args), threads=args.threads,
                          peer_schedules=getattr(args, "peer_schedules", None), records=records)
        _warn_unused_schedules(args, model)
        outputs = model(*inputs)
        stats = model.stats
        print(f"compiled @main at -O{args.opt_level} for {args.target}: {model.num_kernels} kernels in {model.compile_seconds:.2f} s "
              f"({stats.built} built, {stats.from_disk} from the disk cache, {stats.from_memory} reused), "
              f"{_runs_on(model)}")
        if records:
            print(_records_line(model, records).strip())
    out_names = _output_names(args.model, len(outputs))
    _print_outputs(out_names, outputs)
    if args.check:
        return _check_against_onnxruntime(args, names, inputs, outputs, out_names)
    return 0


def _run_compare(args) -> int:
    from lamina.compiler.errors import LaminaError
    from lamina.compiler.files import check_output, is_stream, write_output
    from lamina.runtime.node_compare import compare

    if not args.model.endswith(".onnx"):
        raise LaminaError(f"lamina compare needs an ONNX model (onnxruntime runs it), not {args.model}",
                          hint="give the .onnx file")
    inputs = _model_files(args.model) + [spec.partition("=")[2] for spec in args.input]
    if args.json and not is_stream(args.json):
        check_output(args.json, inputs)  # before the work: a bad path fails at once
    table = compare(args.model, opt_level=args.opt_level, target=args.target, inputs=_given_inputs(args.input),
                    fill=args.fill, rtol=args.rtol, atol=args.atol, input_shapes=_input_shapes(args.input_shape),
                    threads=args.threads, hint="give --input NAME=FILE.npy or --fill random")
    if args.json != "-":
        print(table.report())
    if args.json:
        write_output(args.json, table.to_json(), inputs)
    return 0 if table.ok else 1


def _print_outputs(out_names, outputs) -> None:
    import numpy as np

    for name, out in zip(out_names, outputs):
        out = np.asarray(out)
        with np.errstate(all="ignore"):  # (inf and nan outputs summarize as inf and nan)
            summary = (f"mean {out.mean():.6g} std {out.std():.6g} min {out.min():.6g} max {out.max():.6g}"
                       if out.size and out.dtype.kind in "fiub" else "")
        print(f"output {name}: {out.dtype} {list(out.shape)}  {summary}")


def _run_package(args) -> int:
    """`lamina run model.tar`: the package's kernels, without TVM's compiler (runtime/package_runner.py)."""
    from lamina.compiler.errors import LaminaError
    from lamina.runtime.package_runner import fill, load_package

    if args.check or args.interpret or args.schedules or args.input_shape or args.records:
        raise LaminaError(f"{args.model} is a compiled package: --check, --interpret, --schedules, --records and "
                          "--input-shape need the model itself", hint="run the .onnx/.mlir model for those")
    model = load_package(args.model)
    given = _given_inputs(args.input)
    unknown = set(given) - set(model.input_names)
    if unknown:
        raise LaminaError(f"--input names {', '.join(sorted(unknown))}, which the package does not have",
                          hint=f"its inputs: {', '.join(model.input_names)}")
    inputs = []
    for i, (name, shape, dtype) in enumerate(zip(model.input_names, model.input_shapes, model.input_dtypes)):
        if name in given:
            inputs.append(given[name])
        elif args.fill:
            inputs.append(fill(shape, dtype, args.fill, i))
        else:
            raise LaminaError(f"no value for input {name} ({dtype} {list(shape)})",
                              hint="give --input NAME=FILE.npy or --fill random")
    outputs = model(*inputs)
    print(f"loaded package {args.model} ({model.target_name}, {model.num_kernels} kernels) in "
          f"{model.load_seconds:.2f} s, "
          + (f"on {model.device_name}" if getattr(model, "device_name", None) else f"TVM_NUM_THREADS={model.threads}"))
    _print_outputs(model.output_names, outputs)
    return 0


def _schedules(args) -> dict | None:
    if not getattr(args, "schedules", None):
        return None
    from lamina.lowering.schedules.files import read_schedules

    return read_schedules(args.schedules)


def _runs_on(model) -> str:
    """Where a compiled model's kernels run: TVM's CPU threads, or the device."""
    if model.target.family != "gpu":
        return f"TVM_NUM_THREADS={model.threads}"
    return f"on {model.device.name}" if model.device is not None else "not run here"


def _warn_unused_schedules(args, model) -> None:
    for name in getattr(model, "unused_schedules", []):
        print(f"warning: {args.schedules}: the schedule of kernel {name} matches no kernel of this model",
              file=sys.stderr)


def _run_targets(args) -> int:
    from lamina.lowering.targets import table

    print(table())
    return 0


def _run_compile(args) -> int:
    import time

    from lamina.compiler.errors import LaminaError
    from lamina.compiler.files import is_stream, write_output
    from lamina.compiler.printer import print_ir

    if args.output and not is_stream(args.output) and not args.output.endswith((".mlir", ".tar")):
        raise LaminaError(f"-o {args.output}: the suffix says what to write: .mlir (the optimized IR) or "
                          ".tar (a package)", hint="name the file model.mlir or model.tar, or give -o - for the IR")
    inputs = _checked_inputs(args.output, args.model, args.schedules)  # before TVM's import: fail at once
    records = _records_of(args)
    if records and inputs:
        from lamina.compiler.files import check_output

        check_output(args.output, [records])
        inputs.append(records)
    from lamina.runtime.executor import compile as compile_model
    from lamina.runtime.executor import count_kernels

    # with -o - (or /dev/stdout) the IR goes to standard output, and the summary to standard error
    report = sys.stderr if args.output in ("-", "/dev/stdout") else sys.stdout
    schedules = _schedules(args)
    start = time.perf_counter()
    module = _load_model(args.model, _input_shapes(args.input_shape))
    load_seconds = time.perf_counter() - start
    unfused = count_kernels(module)
    manager = _optimize(module, args, timing=args.timing)
    ir_text = print_ir(module)
    model = compile_model(module, target=_target_of(args), schedules=schedules, threads=args.threads,
                          peer_schedules=getattr(args, "peer_schedules", None), records=records)
    _warn_unused_schedules(args, model)
    if args.cross_compiler:
        if not model.target.cross:
            raise LaminaError(f"--cross-compiler is for cross targets; {model.target.name} builds for this machine")
        from lamina.lowering.build import link_cross_kernels

        link_cross_kernels(model.kernels, args.cross_compiler)
    if args.output and not args.output.endswith(".tar"):
        write_output(args.output, ir_text, inputs)
    elif args.output:
        from lamina.runtime.package import schedule_texts, write_package

        write_package(model, args.output, ir_text=ir_text, schedules=schedule_texts(model), inputs=inputs,
                      output_names=_output_names(args.model, len(model.returns)))
    if args.emit_schedules:
        from lamina.lowering.schedules.files import write_schedules

        written = write_schedules(model.kernels, args.emit_schedules)
        print(f"wrote {len(written)} schedule files to {args.emit_schedules}", file=report)
    if args.emit_source:
        from lamina.compiler.errors import LaminaError
        from lamina.lowering.schedules.files import write_sources

        if model.target.family != "gpu":
            raise LaminaError(f"--emit-source writes GPU kernels' device code; {args.target} is not a GPU target",
                              hint="use --target cuda, opencl or opencl-adreno (for CPU kernels: --print-tir KERNEL)")
        written = write_sources(model.kernels, args.emit_source)
        sources = sum(p.suffix in (".cl", ".cu") for p in written)
        print(f"wrote {sources} kernels' device code and schedules to {args.emit_source}", file=report)
    if args.print_tir:
        _print_tir(model, args.print_tir)
    stats = model.stats
    print(f"compiled @main of {args.model} at -O{args.opt_level} for {args.target}", file=report)
    print(f"  kernels: {model.num_kernels} (one per op, unfused: {unfused}); "
          f"{stats.built} built, {stats.from_disk} from the disk cache, {stats.from_memory} reused", file=report)
    if records:
        print(_records_line(model, records), file=report)
    passes = sum(s for _, s in manager.timings)
    print(f"  time: import {load_seconds:.2f} s, passes {passes:.2f} s, "
          f"kernel build {model.compile_seconds:.2f} s; {_runs_on(model)}", file=report)
    if args.memory_report:
        print(model.memory_report(buffers=False), file=report)
    return 0


def _print_tir(model, name: str) -> None:
    from lamina.compiler.errors import LaminaError
    from lamina.lowering import tvm_adapter

    kernel = next((k for k in model.kernels if k.name == name and k.scheduled is not None), None)
    if kernel is None:
        known = [k.name for k in model.kernels if k.scheduled is not None]
        raise LaminaError(f"--print-tir {name}: the model has no kernel of that name",
                          hint=f"its kernels: {', '.join(known[:12])}{', ...' if len(known) > 12 else ''}")
    print(f"// kernel {name}: scheduled TIR (TVMScript)")
    print(tvm_adapter.script(kernel.scheduled.scheduled))
    print(f"// kernel {name}: lowered loop nest (TVM's loop lowering, before codegen)")
    print(tvm_adapter.lowered_loops(kernel.scheduled.scheduled, model.target.tvm_target()))


def _run_tune(args) -> int:
    """`lamina tune`: lowering/tuning/ on the model optimized as `lamina compile` does."""
    from lamina.compiler.errors import LaminaError
    from lamina.compiler.passes import PassManager

    if not args.list_tasks and not args.records:
        raise LaminaError("lamina tune needs --records FILE: every measurement is kept there",
                          hint="e.g. lamina tune model.onnx --records model.jsonl (or --list-tasks to see the tasks)")
    if args.trials < 0:
        raise LaminaError(f"--trials {args.trials}: give 0 or more", hint="e.g. --trials 64")
    if args.confirm < 0:
        raise LaminaError(f"--confirm {args.confirm}: give 0 or more", hint="e.g. --confirm 2")
    if args.time_budget is not None and args.time_budget <= 0:
        raise LaminaError(f"--time-budget {args.time_budget:g}: give a positive number of seconds")
    if args.records and (os.path.isdir(args.records) or not os.path.isdir(os.path.dirname(args.records) or ".")):
        raise LaminaError(f"--records {args.records}: not a file in an existing folder",
                          hint="name a .jsonl file; it is made if missing and appended to otherwise")
    if args.records and args.records == args.model:
        raise LaminaError(f"--records {args.records} is the model itself", hint="name a .jsonl file")
    if args.plot and not args.report:
        raise LaminaError("--plot draws the report's curves", hint="add --report")
    if args.report and not os.path.isfile(args.records):
        raise LaminaError(f"--records {args.records}: no such file", hint="tune first: lamina tune MODEL --records FILE")
    peer = args.tuner == "meta-schedule" and not (args.report or args.list_tasks)
    if peer and (args.rpc or args.tracker or args.device_key):
        raise LaminaError("--tuner meta-schedule measures on this machine: it takes no --rpc, --tracker or "
                          "--device-key", hint="drop them, or tune with --tuner lamina")
    if peer:
        from lamina.lowering.tuning.meta_schedule import require

        require()  # (before the model is read: a missing package fails at once)
    if args.plot:
        from lamina.compiler.files import check_output

        check_output(args.plot, [args.model, args.records], what="the plot")
    from lamina.lowering import targets

    target = targets.get(args.target, threads=args.threads)
    module = _load_model(args.model, _input_shapes(args.input_shape))
    PassManager.parse(_pipeline_of(args)).run(module)
    if args.list_tasks:
        from lamina.lowering.tuning.tuner import list_tasks

        print(list_tasks(module, target, rpc=args.rpc, tracker=args.tracker, device_key=args.device_key,
                         cache=args.cache))
        return 0
    if args.report:
        from lamina.lowering.tuning.report import report

        print(report(module, args.records, target, plot=args.plot, inputs=[args.model]))
        return 0
    from lamina.lowering.tuning.tuner import tune

    from lamina.compiler.progress import Progress

    bar = Progress(args.trials, "tuning")  # a bar per round on a terminal; elsewhere a plain line per round
    shown = {"progress": bar, "log": None} if bar.terminal else {}
    try:
        if peer:
            from lamina.lowering.tuning.meta_schedule import tune_meta_schedule

            result = tune_meta_schedule(module, target, trials=args.trials, time_budget=args.time_budget,
                                        records=args.records, scheduler=args.scheduler, seed=args.seed,
                                        search=args.search, **shown)
        else:
            result = tune(module, target, trials=args.trials, time_budget=args.time_budget, records=args.records,
                          scheduler=args.scheduler, seed=args.seed, search=args.search, rpc=args.rpc,
                          tracker=args.tracker, device_key=args.device_key, confirm_rounds=args.confirm,
                          cache=args.cache, **shown)
    except KeyboardInterrupt:
        print(f"interrupted: the records made so far are in {args.records}; run the same command to resume",
              file=sys.stderr)
        return 130
    print(result.table())
    print(f"records: {args.records}; build with them: lamina compile {args.model} --records {args.records}")
    return 0


def _run_report(args) -> int:
    from lamina.compiler.files import check_output, write_output

    check_output(args.output, [args.model])
    from lamina.runtime.report import make_report

    page = make_report(args.model, _pipeline_of(args), runs=args.runs)
    write_output(args.output, page, [args.model], what="the report")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _run_bisect(args) -> int:
    """`lamina bisect`: runtime/pass_bisect.py on the model, its inputs as `lamina run` takes them."""
    from lamina.compiler.errors import LaminaError
    from lamina.compiler.symbols import SymbolTable
    from lamina.runtime.pass_bisect import bisect
    from lamina.runtime.inputs import function_inputs

    module = _load_model(args.model, _input_shapes(args.input_shape))
    main_fn = SymbolTable(module).lookup("main")
    if main_fn is None:
        raise LaminaError(f"{args.model} has no function @main to run")
    inputs = function_inputs(main_fn, _given_inputs(args.input), args.fill)
    result = bisect(module, _pipeline_of(args), inputs, interpret=args.interpret, rtol=args.rtol, atol=args.atol,
                    target=_target_of(args), threads=args.threads, progress=lambda line: print(line, flush=True))
    print(result.report(steps=False), end="")
    return 1 if result.found else 0


def _run_cache(args) -> int:
    from lamina.lowering import kernel_cache

    if args.action == "clear":
        removed, freed = kernel_cache.clear()
        print(f"kernel cache: {kernel_cache.configured_dir()}: removed {removed} files, "
              f"{kernel_cache.size_text(freed)}")
        return 0
    print(kernel_cache.info().report())
    return 0


def _run_bench(args) -> int:
    from lamina.runtime.benchmark import main as bench_main

    return bench_main(args.argv)


def _given_inputs(specs: list[str]) -> dict:
    """The arrays of `--input NAME=FILE.npy` options, by name (a leading % dropped)."""
    import numpy as np

    from lamina.compiler.errors import LaminaError

    given = {}
    for spec in specs:
        name, _, file = spec.partition("=")
        try:
            given[name.lstrip("%")] = np.load(file)
        except (OSError, ValueError) as e:
            raise LaminaError(f"cannot read --input {spec}: {e}") from None
    return given


def _output_names(model_path: str, count: int) -> list[str]:
    if model_path.endswith(".onnx"):
        try:
            import onnx

            names = [o.name for o in onnx.load(model_path, load_external_data=False).graph.output]
            if len(names) == count:
                return names
        except Exception:  # names are cosmetic; the import already validated the file
            pass
    return [f"#{i}" for i in range(count)]


def _check_against_onnxruntime(args, names, inputs, outputs, out_names) -> int:
    from lamina.compiler.errors import LaminaError
    from lamina.runtime.compare import difference, run_onnxruntime

    if not args.model.endswith(".onnx"):
        raise LaminaError("--check onnxruntime needs an .onnx model")
    import onnx

    graph_inputs = [i.name for i in onnx.load(args.model, load_external_data=False).graph.input]
    initializers = {i.name for i in onnx.load(args.model, load_external_data=False).graph.initializer}
    feed = dict(zip([n for n in graph_inputs if n not in initializers], inputs))
    reference = run_onnxruntime(args.model, feed)
    failed = 0
    print(f"check against onnxruntime (rtol {args.rtol:g}, atol {args.atol:g}):")
    for name, ours, ref in zip(out_names, outputs, reference):
        d = difference(name, ours, ref, args.rtol, args.atol)
        print("  " + d.line())
        failed += not d.ok
    return 1 if failed else 0


def _first_difference(a: str, b: str) -> str:
    for i, (x, y) in enumerate(zip(a.splitlines(), b.splitlines()), 1):
        if x != y:
            return f"line {i} printed first as: {x.strip()} | then as: {y.strip()}"
    return "the texts differ in length"


def _read_input(path: str) -> tuple[str, str]:
    from lamina.compiler.errors import LaminaError

    if path == "-":
        return sys.stdin.read(), "<stdin>"
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(), path
    except FileNotFoundError:
        raise LaminaError(f"no such file: {path}") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as e:
        raise LaminaError(f"cannot read {path}: {e.__class__.__name__}", hint="give an MLIR text file") from None


def _split(text: str) -> list[tuple[int, str]]:
    """Chunks between `// -----` lines, each with the 0-based line it starts on."""
    chunks, start_line, pos = [], 0, 0
    for m in SPLIT_MARKER.finditer(text):
        chunks.append((start_line, text[pos:m.start()]))
        start_line = text.count("\n", 0, m.end()) + 1
        pos = m.end() + 1
    chunks.append((start_line, text[pos:]))
    return chunks


_EXPECTED = re.compile(r"//\s*expected-(error|warning|note)\s*(@([+-]\d+|above|below))?\s*\{\{(.*?)\}\}")


def _check_diagnostics(text: str, filename: str, error) -> int:
    """MLIR's --verify-diagnostics, for errors: each `// expected-error {{msg}}` (or `@+N`, `@-N`)
    must match a reported error on that line whose message contains msg, and no other error may be
    reported. Returns the number of mismatches, after printing each one."""
    expected = []
    for lineno, line in enumerate(text.splitlines(), 1):
        for m in _EXPECTED.finditer(line):
            offset = m.group(3)
            target = lineno + (int(offset) if offset and offset[0] in "+-" else 0)
            expected.append((target, m.group(4), lineno))
    problems = []
    if error is None:
        problems += [f"{filename}:{at}: expected error '{msg}' was not produced" for _, msg, at in expected]
    else:
        line = error.pos.line if error.pos else None
        matching = [e for e in expected if e[0] == line and e[1] in error.message]
        if not matching:
            problems.append(f"unexpected error: {error.render()}")
        problems += [f"{filename}:{at}: expected error '{msg}' was not produced"
                     for target, msg, at in expected if not matching or (target, msg, at) != matching[0]]
    for p in problems:
        print(p, file=sys.stderr)
    return len(problems)


if __name__ == "__main__":
    raise SystemExit(main())


def _run_check_pass(args) -> int:
    from lamina.compiler.testing import check_pass

    from lamina.compiler.errors import LaminaError

    if (args.opt_level is None) == (not args.pipeline):
        raise LaminaError("check-pass needs a pass or pipeline NAME, or -O<n>, not both",
                          hint='e.g. lamina check-pass fold-constants, or lamina check-pass -O3 --compile')
    pipeline = f"-O{args.opt_level}" if args.opt_level is not None else args.pipeline
    result = check_pass(pipeline, examples=args.examples, seed=args.seed, compile=args.compile, progress=True)
    print(result.report())
    return 0 if result.ok else 1
