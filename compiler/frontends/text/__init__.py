"""The text front-end: small models written by hand, `load_text(text_or_path) -> ModuleOp`.

    model mlp(x: f32[1, 784]) {
      w1 = param f32[784, 128] init=normal(seed=0, std=0.02)
      h = relu(matmul(x, w1))       # h = relu(x @ w1) says the same
      return softmax(h, axis=-1)
    }

becomes `module @mlp { func.func @main(%x: tensor<1x784xf32>) -> tensor<1x128xf32> {...} }`, the
same nn IR the ONNX importer builds. The language, in full:
  - one `model NAME(arg: TYPE, ...) { ... }` per file; a statement per line; `#` comments; new
    lines inside (...) and [...] do not end a statement;
  - types: an element type (f16 bf16 f32 f64 bool i8 i16 i32 i64 u8 u16 u32 u64) and a shape:
    `f32[1, 784]`, `f32[]` (a scalar), `f32[?, 10]` (a dynamic dim, model inputs only);
  - `w = param TYPE init=INIT` and `c = const TYPE init=INIT` become `nn.constant`; INIT is
    normal(seed=0, mean=0.0, std=1.0), uniform(seed=0, low=0.0, high=1.0), zeros(), ones(), a
    number (every element) or nested lists `[[1, 2], [3, 4]]`; numpy computes them, so a seed
    gives the same weights every time;
  - `h = EXPR`, `a, b = split(x, axis=1, sizes=[2, 2])` (ops with several results), and
    `return a, b` last;
  - EXPR: names, numbers, calls `op(operands..., attr=value)` of every nn op (the name without
    `nn.`, see dialects/nn/README.md), `+ - * / @` (add sub mul div matmul; `*` `/` `@` bind
    tighter than `+` `-`) and a leading `-` (neg). A number operand is a rank-0 constant of the
    other operand's element type: `x * 0.5`;
  - attribute values: integers, numbers, strings ("NCHW"), lists of integers ([1, 2]), element
    types (f16) and true / false for integer flags (keepdims=false);
  - the ops whose result type the operands do not give take it as an attribute:
    `cast(x, to=f16)`, `resize(x, size=[32, 32], mode="nearest")`,
    `constant_of_shape(s, value=1.0, dtype=f32)` (s must be known when the model is read).

Every mistake is a `TextModelError` (a `ParseError`): `file:line:col`, the line, a caret and a
hint, for syntax, unknown ops and names, wrong operand counts, attributes and shapes.
"""

from __future__ import annotations

import os

from .syntax import TextModelError, parse_model

__all__ = ["load_text", "TextModelError"]


def load_text(text_or_path, filename: str | None = None):
    """Read a text model (its text, or the path of a `.lam` file) as a `builtin.module` holding
    `func.func @main`. `filename` is the name diagnostics and locations use."""
    from .importer import TextImporter

    if isinstance(text_or_path, os.PathLike) or (isinstance(text_or_path, str) and text_or_path.strip()
                                                 and not any(c in text_or_path for c in "\n({")):
        path = os.fspath(text_or_path)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise TextModelError(f"cannot read '{path}': {e.strerror or e}",
                                 hint="pass the model's text, or the path of a .lam file") from None
        filename = filename or path
    else:
        text = text_or_path
        filename = filename or "<text>"
    model = parse_model(text, filename)
    return TextImporter(text, filename).run(model)
