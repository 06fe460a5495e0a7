"""Runs each `.mlir` file under tests/filecheck with lit, as one pytest test per file."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent / "filecheck"
FILES = sorted(p for p in ROOT.rglob("*.mlir") if "Inputs" not in p.parts)


def test_there_are_filecheck_tests():
    assert len(FILES) >= 10, [str(f) for f in FILES]


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_lit(path):
    lit = Path(sys.executable).parent / "lit"  # the lit package has no __main__
    proc = subprocess.run([str(lit), "-v", "--no-progress-bar", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
