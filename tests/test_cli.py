"""The `lamina` command line, run as a user runs it: a subprocess of the installed script.

Checks what a user sees: errors as `FILE:LINE:COL: error: ...` with the source line and a caret,
exit codes (0 ok, 1 user error), no traceback unless `--debug`, and the file handling of `-o`
and `-` (standard input).
"""

import subprocess
import sys
from pathlib import Path

import pytest

LAMINA = Path(sys.executable).parent / "lamina"
EXAMPLES = Path(__file__).parent.parent / "examples" / "ir"

GOOD = """\
func.func @f(%x: i32) -> i32 {
  %zero = arith.constant 0 : i32
  %0 = arith.addi %x, %zero : i32
  func.return %0 : i32
}
"""

# the error is on line 3: %y is not defined
BAD = """\
func.func @f(%x: i32) -> i32 {
  %zero = arith.constant 0 : i32
  %0 = arith.addi %x, %y : i32
  func.return %0 : i32
}
"""


def lamina(*args, stdin: str | None = None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(LAMINA), *map(str, args)], input=stdin, capture_output=True,
                          text=True, cwd=cwd, timeout=120)


@pytest.fixture
def good(tmp_path) -> Path:
    path = tmp_path / "good.mlir"
    path.write_text(GOOD)
    return path


@pytest.fixture
def bad(tmp_path) -> Path:
    path = tmp_path / "bad.mlir"
    path.write_text(BAD)
    return path


# -- errors --------------------------------------------------------------------------------------


def test_error_points_at_line_column_with_caret(bad):
    proc = lamina("opt", bad)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines[0] == f"{bad}:3:23: error: use of undefined value %y"
    assert lines[1] == "  %0 = arith.addi %x, %y : i32"
    assert lines[2] == " " * 22 + "^"
    assert "Traceback" not in proc.stderr


def test_debug_shows_traceback(bad):
    proc = lamina("--debug", "opt", bad)
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert "ParseError" in proc.stderr
    assert f"{bad}:3:23: error: use of undefined value %y" in proc.stderr


def test_debug_after_subcommand_shows_traceback(bad):
    proc = lamina("opt", bad, "--debug")
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr


def test_verifier_error_has_position_and_no_traceback(tmp_path):
    path = tmp_path / "wrong_return.mlir"
    path.write_text("func.func @f(%a: f32) -> i32 {\n  func.return %a : f32\n}\n")
    proc = lamina("opt", path)
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines[0] == (f"{path}:2:3: error: 'func.return' op returns f32 but the enclosing "
                        "function @f returns i32")
    assert lines[1] == "  func.return %a : f32"
    assert lines[2] == "  ^"
    assert "Traceback" not in proc.stderr


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.mlir"
    proc = lamina("opt", missing)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"error: no such file: {missing}"
    assert "Traceback" not in proc.stderr


def test_directory_as_input(tmp_path):
    proc = lamina("opt", tmp_path)
    assert proc.returncode == 1
    assert f"error: cannot read {tmp_path}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_pass_is_a_clear_error(good):
    proc = lamina("opt", good, "-p", "canonicalize,frobnicate")
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert lines[0] == "<pipeline>:1:14: error: unknown pass 'frobnicate'"
    assert lines[1] == "canonicalize,frobnicate"
    assert lines[2] == " " * 13 + "^"
    assert "canonicalize, combine-ops, convert-layout, cse, dce" in proc.stderr  # the passes that do exist
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_unknown_flag_is_rejected_by_argparse(good):
    proc = lamina("opt", good, "--no-such-flag")
    assert proc.returncode == 2
    assert "unrecognized arguments: --no-such-flag" in proc.stderr


# -- output ---------------------------------------------------------------------------------------


def test_output_file_is_written(good, tmp_path):
    out = tmp_path / "out.mlir"
    proc = lamina("opt", good, "-p", "canonicalize", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert out.read_text() == ("module {\n"
                               "  func.func @f(%x: i32) -> i32 {\n"
                               "    return %x : i32\n"
                               "  }\n"
                               "}\n")


def test_output_refuses_to_overwrite_its_input(good):
    proc = lamina("opt", good, "-p", "canonicalize", "-o", good)
    assert proc.returncode == 1
    assert f"refusing to write the output over the input file {good}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert good.read_text() == GOOD


def test_output_refuses_input_under_another_name(good, tmp_path):
    other_name = tmp_path / "." / good.name  # the same file, spelled differently
    proc = lamina("opt", good, "-o", other_name)
    assert proc.returncode == 1
    assert "refusing to write the output over the input file" in proc.stderr
    assert good.read_text() == GOOD


def test_output_is_not_written_on_error(bad, tmp_path):
    out = tmp_path / "out.mlir"
    proc = lamina("opt", bad, "-o", out)
    assert proc.returncode == 1
    assert not out.exists()


# -- input ----------------------------------------------------------------------------------------


def test_reads_standard_input_with_dash():
    proc = lamina("opt", "-", "-p", "canonicalize", stdin=GOOD)
    assert proc.returncode == 0, proc.stderr
    assert "return %x : i32" in proc.stdout
    assert "arith.addi" not in proc.stdout


def test_reads_standard_input_by_default():
    proc = lamina("opt", "--print-generic", stdin=GOOD)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith('"builtin.module"() ({\n')
    assert '%0 = "arith.addi"(%x, %zero) : (i32, i32) -> i32' in proc.stdout


def test_standard_input_errors_are_named_stdin():
    proc = lamina("opt", "-", stdin=BAD)
    assert proc.returncode == 1
    assert proc.stderr.startswith("<stdin>:3:23: error: use of undefined value %y\n")


# -- discovery ------------------------------------------------------------------------------------


def test_help_lists_opt():
    proc = lamina("--help")
    assert proc.returncode == 0
    assert "opt" in proc.stdout.split()
    assert "usage: lamina" in proc.stdout


def test_no_command_prints_help():
    proc = lamina()
    assert proc.returncode == 0
    assert "usage: lamina" in proc.stdout


def test_opt_help_lists_flags():
    proc = lamina("opt", "--help")
    assert proc.returncode == 0
    for flag in ("--print-generic", "--allow-unregistered", "--split-input-file",
                 "--verify-diagnostics", "--print-ir-after-all", "--timing", "--statistics", "-o"):
        assert flag in proc.stdout, flag


def test_list_passes():
    proc = lamina("opt", "--list-passes")
    assert proc.returncode == 0, proc.stderr
    names = [line.split()[0] for line in proc.stdout.splitlines() if line.strip()]
    assert {"canonicalize", "cse", "dce"} <= set(names), proc.stdout


# -- the examples ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.mlir")), ids=lambda p: p.name)
def test_examples_run_through_the_readme_pipeline(path):
    proc = lamina("opt", path, "--allow-unregistered", "-p", "canonicalize,cse,dce",
                  "--verify-roundtrip")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(("module", '"builtin.module"'))
