"""The repository root installs as the `lamina` package (see README: Packaging)."""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_folder_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {"lamina"}
    for layer in ("compiler", "dialects", "lowering", "runtime"):
        for init in (ROOT / layer).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT)
            on_disk.add("lamina." + ".".join(rel.parts))
    assert listed == on_disk


def test_non_editable_install_imports_from_anywhere(tmp_path):
    """`pip install .` (not editable) gives a working `lamina` namespace and CLI."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(ROOT)], check=True, capture_output=True)
    installed = sorted(p.name for p in (target / "lamina").iterdir())
    assert {"compiler", "dialects", "lowering", "runtime", "__init__.py"} <= set(installed)
    assert not {"tests", "examples", "bench"} & set(installed)
    assert (target / "lamina" / "compiler" / "mlir.lark").exists()
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = ("import lamina, lamina.compiler, lamina.dialects, lamina.lowering, lamina.runtime; "
            "print(lamina.__file__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True,
                         capture_output=True, text=True).stdout
    assert out.startswith(str(target))
    help_text = subprocess.run([sys.executable, "-m", "lamina", "--help"], cwd=tmp_path, env=env,
                               check=True, capture_output=True, text=True).stdout
    assert "opt" in help_text
    entry_points = next(target.glob("lamina-*.dist-info")) / "entry_points.txt"
    assert "lamina = lamina.compiler.cli:main" in entry_points.read_text()
