"""Benchmark: parse and print a large module (many ops, and large constants in hex).

    python bench/parse_bench.py                      # 10,000 ops and 50 MB of dense data
    python bench/parse_bench.py --ops 500 --megabytes 1
    python bench/parse_bench.py --profile parse      # cProfile the parse, top functions

The module is one function: `--megabytes` of f32 constants (1 MB each, printed as MLIR's hex
`dense<"0x...">`), then `--ops` arith ops: a chain of float and integer arithmetic on scalars,
with the constants folded in by elementwise adds. It is built as IR, printed once (the text),
then timed: parse the text, print it in the custom form, print it in the generic form, parse the
generic form. Each step is checked to round-trip exactly.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time

import numpy as np

from lamina.compiler.attributes import DenseElementsAttr, FloatAttr, IntegerAttr, StringAttr, TypeAttr
from lamina.compiler.ir import Block, Region
from lamina.compiler.parser import parse
from lamina.compiler.printer import print_ir
from lamina.compiler.types import FunctionType, RankedTensorType, f32, i32
from lamina.dialects.arith import AddFOp, AddIOp, ConstantOp, MulFOp, MulIOp, SubFOp, XOrIOp
from lamina.dialects.builtin import ModuleOp
from lamina.dialects.func import FuncOp, ReturnOp

CHUNK_ELEMENTS = 512 * 512  # 1 MiB of f32 per constant


def build_module(ops: int, megabytes: float, seed: int = 0) -> ModuleOp:
    """A module with `ops` arithmetic ops and `megabytes` MiB of f32 dense constants."""
    rng = np.random.default_rng(seed)
    module = ModuleOp.empty("bench")
    chunk_type = RankedTensorType((512, 512), f32)
    n_chunks = int(megabytes)
    tail = int(round((megabytes - n_chunks) * CHUNK_ELEMENTS))
    const_types = [chunk_type] * n_chunks + ([RankedTensorType((tail,), f32)] if tail > 100 else [])
    body = Block((f32, i32))
    x, n = body.args
    x.name_hint, n.name_hint = "x", "n"

    def add(op):
        body.append(op)
        return op.result

    big = []
    for t in const_types:
        data = rng.standard_normal(t.num_elements, dtype=np.float32).reshape(t.shape)
        big.append(add(ConstantOp(result_types=[t], properties={"value": DenseElementsAttr(t, data)})))
    acc = big[0] if big else None
    fs = [x, add(ConstantOp(result_types=[f32], properties={"value": FloatAttr(0.5, f32)}))]
    ints = [n, add(ConstantOp(result_types=[i32], properties={"value": IntegerAttr(3, i32)}))]
    made = len(big) + 2
    kinds = (AddFOp, MulFOp, SubFOp, AddIOp, MulIOp, XOrIOp)
    i = 0
    while made < ops:
        if acc is not None and len(big) > 1 and i % max(ops // len(big), 1) == 0 and acc.type == big[i % len(big)].type:
            acc = add(AddFOp(operands=[acc, big[i % len(big)]], result_types=[acc.type]))
        else:
            cls = kinds[i % len(kinds)]
            pool = fs if cls in (AddFOp, MulFOp, SubFOp) else ints
            a, b = pool[-1], pool[int(rng.integers(len(pool)))]
            pool.append(add(cls(operands=[a, b], result_types=[a.type])))
        made += 1
        i += 1
    results = [fs[-1], ints[-1]] + ([acc] if acc is not None else [])
    body.append(ReturnOp(operands=results))
    fn_type = FunctionType((f32, i32), tuple(v.type for v in results))
    module.block.append(FuncOp(properties={"sym_name": StringAttr("main"), "function_type": TypeAttr(fn_type)},
                               regions=[Region([body])]))
    return module


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def run(ops: int, megabytes: float) -> list[tuple[str, int, float]]:
    """Build, then time each step; returns (step, characters, seconds) rows. Raises
    AssertionError if a step does not reproduce the text exactly."""
    module, t_build = _timed(build_module, ops, megabytes)
    text, t_first = _timed(print_ir, module)
    parsed, t_parse = _timed(parse, text)
    custom, t_print = _timed(print_ir, parsed)
    assert custom == text, "custom form does not round-trip"
    generic, t_generic = _timed(print_ir, parsed, generic=True)
    reparsed, t_parse_generic = _timed(parse, generic)
    assert print_ir(reparsed) == text, "generic form does not parse back to the custom text"
    n_ops = sum(1 for _ in parsed.walk()) - 2  # without the module and the function
    return [("build IR", n_ops, t_build), ("print (first)", len(text), t_first),
            ("parse custom", len(text), t_parse), ("print custom", len(custom), t_print),
            ("print generic", len(generic), t_generic), ("parse generic", len(generic), t_parse_generic)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=10_000, help="number of ops in the function (10000)")
    ap.add_argument("--megabytes", type=float, default=50.0, help="MiB of f32 dense data (50)")
    ap.add_argument("--profile", choices=["parse", "print"], help="cProfile one step and show the top")
    args = ap.parse_args(argv)
    if args.profile:
        module = build_module(args.ops, args.megabytes)
        text = print_ir(module)
        prof = cProfile.Profile()
        if args.profile == "parse":
            prof.runcall(parse, text)
        else:
            prof.runcall(print_ir, module)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
        return 0
    rows = run(args.ops, args.megabytes)
    print(f"{args.ops} ops, {args.megabytes:g} MiB of f32 constants")
    print(f"{'step':<16}{'ops / chars':>14}{'MB':>9}{'seconds':>10}")
    for step, size, seconds in rows:
        mb = f"{size / 1e6:.1f}" if step != "build IR" else ""
        print(f"{step:<16}{size:>14,}{mb:>9}{seconds:>10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
