"""The README's Python snippet runs as written (docs must not drift from the code)."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def code_blocks(language: str) -> list[str]:
    """The README's fenced blocks of `language` ("" for blocks without one)."""
    fences = re.finditer(r"^```(\w*)\n(.*?)^```$", (ROOT / "README.md").read_text(), re.S | re.M)
    return [m.group(2) for m in fences if m.group(1) == language]


def test_readme_python_snippet_runs(tmp_path):
    blocks = code_blocks("python")
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


def test_readme_text_model_parses_and_runs():
    import numpy as np

    from lamina.compiler.frontends.text import load_text
    from lamina.runtime.interpreter import interpret

    blocks = [b for b in code_blocks("") if b.startswith("model ")]
    assert blocks, "the README shows no text model"
    for block in blocks:
        (probs,) = interpret(load_text(block, filename="README.md"), np.ones((1, 784), np.float32))
        assert probs.shape == (1, 32) and abs(float(probs.sum()) - 1.0) < 1e-5
