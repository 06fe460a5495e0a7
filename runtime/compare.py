"""Checking lamina's outputs against a peer (onnxruntime): the numbers behind `--check`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lamina.compiler.errors import LaminaError

# `lamina run --check` and `lamina compare`: a value agrees when max|ours - ref| <= ATOL + RTOL * max|ref|
RTOL = 1e-4
ATOL = 1e-5


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
                f"rel diff (max abs diff / max |reference|) {self.max_rel:.3e}  {verdict}")


def difference(name: str, ours: np.ndarray, reference: np.ndarray, rtol: float, atol: float) -> Difference:
    """Max absolute difference, and the relative difference normwise: max|ours - ref| / max|ref|.

    Elementwise relative differences blow up where the reference crosses zero (a logit of 1e-6
    after a 150-layer network), so the check is normwise: ok when max|ours - ref| <= atol +
    rtol * max|ref|. Integers and booleans must be equal."""
    ours, reference = np.asarray(ours), np.asarray(reference)
    if ours.shape != reference.shape:
        return Difference(name, ours.shape, float("inf"), float("inf"), False)
    if ours.dtype.kind in "biu":
        diff = np.abs(ours.astype(np.int64) - reference.astype(np.int64))
        return Difference(name, ours.shape, float(diff.max(initial=0)), float(diff.max(initial=0)),
                          bool(np.all(diff == 0)))
    a, b = ours.astype(np.float64), reference.astype(np.float64)
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return Difference(name, ours.shape, float("nan"), float("nan"), False)
    a, b = np.nan_to_num(a, nan=0.0), np.nan_to_num(b, nan=0.0)
    max_abs = float(np.abs(a - b).max(initial=0))
    scale = float(np.abs(b).max(initial=0))
    max_rel = max_abs / scale if scale > 0 else (0.0 if max_abs == 0 else float("inf"))
    return Difference(name, ours.shape, max_abs, max_rel, max_abs <= atol + rtol * scale)


def run_onnxruntime(model_path, inputs: dict[str, np.ndarray], threads: int = 2) -> list[np.ndarray]:
    """The model's outputs in onnxruntime (CPU); `model_path`: a path, or the model's bytes."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise LaminaError("--check onnxruntime needs the onnxruntime package",
                          hint="pip install onnxruntime") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    return session.run(None, inputs)
