"""The tutorial scripts under examples/passes/, examples/schedules/, examples/loops/ and
examples/tuning/ run to the end (each asserts what it shows)."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted([*(EXAMPLES / "passes").glob("*.py"), *(EXAMPLES / "schedules").glob("*.py"),
                  *(EXAMPLES / "loops").glob("*.py"), *(EXAMPLES / "tuning").glob("*.py")])


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_example_runs(script, tmp_path):
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_there_are_examples():
    assert {p.name for p in SCRIPTS} >= {"write_a_pattern.py", "optimization_levels.py", "edit_a_schedule.py",
                                         "conv_to_llvm.py", "tune_a_model.py"}
