"""lamina and xDSL read each other's generic form.

For every bundled example (`examples/ir/*.mlir`) and every chunk of a FileCheck input that lamina
accepts (the files under tests/filecheck that test errors or known bugs are left out):

(a) lamina's generic output parses and verifies in xDSL (`lamina opt F --print-generic |
    xdsl-opt`);
(b) the round trip through both tools is stable: t1 = xDSL's generic print of lamina's output,
    t2 = lamina's generic print of t1, t3 = xDSL's generic print of t2, and t3 == t1.

Both tools run in this process (lamina through its CLI's `main`, xDSL through `xDSLOptMain`):
starting `xdsl-opt` or `lamina` costs about a second each, which for ~40 inputs and 4 runs each
would be minutes. The examples also go through the real command-line tools once, piped.
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

xdsl_opt_main = pytest.importorskip("xdsl.xdsl_opt_main", reason="xdsl is not installed (pip install xdsl)")

from lamina.compiler import cli  # noqa: E402  (after the skip: only needed when xdsl is there)

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted((ROOT / "examples" / "ir").glob("*.mlir"))
FILECHECK = ROOT / "tests" / "filecheck"
SPLIT = re.compile(r"^// -----\s*$", re.M)

# A chunk that xDSL cannot read for a reason of xDSL's own says so in a comment, which skips it:
#     // xdsl-interop: skip xDSL 0.74 cannot parse hex floats in dense arrays
SKIP_MARKER = re.compile(r"^// xdsl-interop: skip (.+)$", re.M)

def _is_error_test(path: Path) -> bool:
    text = path.read_text()
    run_lines = [line for line in text.splitlines() if line.lstrip().startswith("// RUN:")]
    return ("XFAIL:" in text or path.parts[-2] == "errors"
            or any("not " in line or "--verify-diagnostics" in line for line in run_lines))


def _inputs() -> list[tuple[str, str]]:
    """(id, text) of each input: the examples whole, the FileCheck files chunk by chunk."""
    cases = [(str(p.relative_to(ROOT)), p.read_text()) for p in EXAMPLES]
    for path in sorted(FILECHECK.rglob("*.mlir")):
        if "Inputs" in path.parts or _is_error_test(path):
            continue
        chunks = SPLIT.split(path.read_text())
        for i, chunk in enumerate(chunks):
            name = str(path.relative_to(ROOT)) + (f"#{i}" if len(chunks) > 1 else "")
            cases.append((name, chunk))
    return cases


CASES = _inputs()


def _params() -> list:
    params = []
    for name, text in CASES:
        skip = SKIP_MARKER.search(text)
        marks = [pytest.mark.skip(reason=skip.group(1))] if skip else []
        params.append(pytest.param(text, id=name, marks=marks))
    return params


# -- running the tools in this process -----------------------------------------------------------


def lamina_generic(text: str) -> str:
    """`lamina opt - --allow-unregistered --print-generic`, fed `text`; fails the test on error."""
    out, err = io.StringIO(), io.StringIO()
    stdin = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["opt", "-", "--allow-unregistered", "--print-generic"])
    finally:
        sys.stdin = stdin
    assert code == 0, f"lamina failed (exit {code}):\n{err.getvalue()}\n--- input:\n{text}"
    return out.getvalue()


def xdsl_generic(text: str, tmp_path: Path, name: str) -> str:
    """`xdsl-opt --allow-unregistered-dialect --print-op-generic`, fed `text`; fails on error."""
    path = tmp_path / name
    path.write_text(text)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            xdsl_opt_main.xDSLOptMain(
                args=["--allow-unregistered-dialect", "--print-op-generic", str(path)]).run()
    except Exception as e:  # xDSL's ParseError, VerifyException, DiagnosticException, ...
        pytest.fail(f"xDSL rejected lamina's output: {type(e).__name__}: {e}\n--- input:\n{text}")
    return out.getvalue()


# -- the tests ------------------------------------------------------------------------------------


def test_there_are_inputs():
    names = [name for name, _ in CASES]
    assert len(EXAMPLES) >= 3
    assert len(CASES) >= 15, names
    assert any(name.startswith("tests/filecheck/syntax/") for name in names)
    assert any(name.startswith("tests/filecheck/dialects/") for name in names)


@pytest.mark.parametrize("text", _params())
def test_xdsl_reads_lamina_and_round_trip_is_stable(text, tmp_path):
    generic = lamina_generic(text)
    t1 = xdsl_generic(generic, tmp_path, "lamina.mlir")          # (a) xDSL reads lamina's output
    assert t1.startswith('"builtin.module"()'), t1
    t2 = lamina_generic(t1)                            # lamina reads xDSL's output
    t3 = xdsl_generic(t2, tmp_path, "lamina_again.mlir")
    assert t3 == t1, _diff(t1, t3)                                 # (b) stable through both


def _diff(a: str, b: str) -> str:
    import difflib

    return "xDSL's print changed after a trip through lamina:\n" + "".join(
        difflib.unified_diff(a.splitlines(True), b.splitlines(True), "t1", "t3"))


# -- the real command-line tools, piped, on the bundled examples ----------------------------------

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_command_line_pipe(path):
    xdsl_opt = BIN / "xdsl-opt"
    if not xdsl_opt.exists():
        pytest.skip("xdsl-opt (from the xdsl package) is not installed beside this Python")
    lamina = subprocess.run([str(BIN / "lamina"), "opt", str(path), "--allow-unregistered",
                             "--print-generic"], capture_output=True, text=True, timeout=120)
    assert lamina.returncode == 0, lamina.stderr
    xdsl = subprocess.run([str(xdsl_opt), "--allow-unregistered-dialect"], input=lamina.stdout,
                          capture_output=True, text=True, timeout=120)
    assert xdsl.returncode == 0, xdsl.stderr[-3000:]
    assert xdsl.stdout.startswith("builtin.module") or xdsl.stdout.startswith("module"), xdsl.stdout
