"""The parse/print benchmark at a small size, as a smoke test: every step round-trips exactly."""

import importlib.util
from pathlib import Path

from lamina.compiler.parser import parse
from lamina.compiler.printer import print_ir

_spec = importlib.util.spec_from_file_location(
    "parse_bench", Path(__file__).parent.parent / "bench" / "parse_bench.py")
parse_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(parse_bench)


def test_bench_round_trips_at_a_small_size(capsys):
    assert parse_bench.main(["--ops", "500", "--megabytes", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "500 ops, 1 MiB of f32 constants"
    assert [line.split()[0] for line in lines[2:]] == ["build", "print", "parse", "print", "print", "parse"]


def test_bench_module_has_the_requested_ops_and_data():
    module = parse_bench.build_module(500, 1.5)
    text = print_ir(module)
    fn = module.block.first_op
    ops = fn.entry.ops
    assert len(ops) == 501  # 500 ops and the return
    big = [op for op in ops if op.name == "arith.constant" and hasattr(op.result.type, "shape")]
    assert [str(op.result.type) for op in big] == ["tensor<512x512xf32>", "tensor<131072xf32>"]
    assert sum(op.value.array.nbytes for op in big) == 1.5 * 2 ** 20
    assert text.count('dense<"0x') == 2  # both print as hex
    assert print_ir(parse(text)) == text
    assert print_ir(parse(print_ir(module, generic=True))) == text
