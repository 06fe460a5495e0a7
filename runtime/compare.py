"""Checking lamina's outputs against a peer (onnxruntime): the numbers behind `--check`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lamina.compiler.errors import LaminaError


@dataclass
class Difference:
    name: str
    shape: tuple
    max_abs: float
    max_rel: float
    ok: bool

    def line(self) -> str:
        verdict = "ok" if self.ok else "MISMATCH"
        return (f"{self.name}: shape {list(self.shape)}  max abs diff {self.max_abs:.3e}  "
                f"max rel diff {self.max_rel:.3e}  {verdict}")


def difference(name: str, ours: np.ndarray, reference: np.ndarray, rtol: float, atol: float) -> Difference:
    """Max absolute and relative difference; `ok` when every element is within atol + rtol*|ref|
    (numpy's allclose rule), so tiny reference values do not blow the relative figure up."""
    ours, reference = np.asarray(ours), np.asarray(reference)
    if ours.shape != reference.shape:
        return Difference(name, ours.shape, float("inf"), float("inf"), False)
    if ours.dtype.kind in "biu":
        diff = np.abs(ours.astype(np.int64) - reference.astype(np.int64))
        return Difference(name, ours.shape, float(diff.max(initial=0)), float(diff.max(initial=0)),
                          bool(np.all(diff == 0)))
    a, b = ours.astype(np.float64), reference.astype(np.float64)
    diff = np.abs(a - b)
    rel = diff / np.maximum(np.abs(b), atol / max(rtol, 1e-30))
    ok = bool(np.all(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)))
    return Difference(name, ours.shape, float(diff.max(initial=0)), float(rel.max(initial=0)), ok)


def run_onnxruntime(model_path: str, inputs: dict[str, np.ndarray], threads: int = 2) -> list[np.ndarray]:
    try:
        import onnxruntime as ort
    except ImportError:
        raise LaminaError("--check onnxruntime needs the onnxruntime package",
                          hint="pip install onnxruntime") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    return session.run(None, inputs)
