"""The README's Python snippet runs as written (docs must not drift from the code)."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


def test_readme_python_snippet_runs(tmp_path):
    blocks = python_blocks()
    assert blocks, "the README has no Python example"
    spec = importlib.util.spec_from_file_location("zoo", ROOT / "examples" / "models" / "zoo.py")
    zoo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(zoo)
    (tmp_path / "examples" / "models").mkdir(parents=True)
    zoo.main(["--out", str(tmp_path / "examples" / "models"), "mlp"])
    for block in blocks:
        proc = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, capture_output=True, text=True,
                              env={"LAMINA_CACHE_DIR": str(tmp_path / "kernels"), "PATH": "/usr/bin:/bin"})
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "func.func @main" in proc.stdout
