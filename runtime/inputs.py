"""A model's inputs, as `lamina run` and `lamina compare` take them: some given by name (`--input
NAME=FILE.npy`, or a dict from Python), the others generated (`--fill random|zeros|ones`).

Generated inputs are reproducible: `random` draws input #i from numpy's default_rng(i), normal
floats, integers in [0, 10), booleans; every run of every command makes the same values.
"""

from __future__ import annotations

import numpy as np

from lamina.compiler.errors import LaminaError

FILLS = ("random", "zeros", "ones")


def input_names(function) -> list[str]:
    """The names of a func.func's inputs: their value names, else `input<i>`."""
    return [p.name_hint or f"input{i}" for i, p in enumerate(function.entry.args)]


def function_inputs(function, given: dict, fill: str | None,
                    hint: str = "give --input NAME=FILE.npy or --fill random") -> list:
    """One array per input of `function` (a func.func): `given[name]` where there is one, else a
    generated one (`fill`); an error naming the input when neither, or when `given` names an
    input the function does not have."""
    names = input_names(function)
    given = {name.lstrip("%"): value for name, value in given.items()}
    unknown = set(given) - set(names)
    if unknown:
        raise LaminaError(f"--input names {', '.join(sorted(unknown))}, which the model does not have",
                          hint=f"its inputs: {', '.join(names)}")
    inputs = []
    for name, param in zip(names, function.entry.args):
        if name in given:
            inputs.append(given[name])
        elif fill:
            inputs.append(generated(param.type, fill, len(inputs)))
        else:
            raise LaminaError(f"no value for input {name} ({param.type})", hint=hint)
    return inputs


def generated(t, how: str, seed: int) -> np.ndarray:
    """An input of type `t` filled as `how` says (random: default_rng(seed))."""
    if how not in FILLS:
        raise LaminaError(f"unknown fill {how!r}", hint=f"use one of {', '.join(FILLS)}")
    shape = getattr(t, "shape", ())
    if any(d is None for d in shape):
        raise LaminaError(f"cannot fill an input of type {t}: it has a dynamic dim",
                          hint="pin it with --input-shape NAME=DIMS")
    dtype = t.element_type.numpy_dtype if hasattr(t, "element_type") else t.numpy_dtype
    if how == "zeros":
        return np.zeros(shape, dtype)
    if how == "ones":
        return np.ones(shape, dtype)
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if np.dtype(dtype).kind == "b":
        return rng.integers(0, 2, shape).astype(dtype)
    return rng.integers(0, 10, shape).astype(dtype)
