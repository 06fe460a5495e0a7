"""Pipeline strings: `"canonicalize,cse,dce"` and `"canonicalize{max-iterations=5 fold=false}"`.

The syntax is MLIR's (and xDSL's): pass names separated by commas, each optionally followed by
options in braces, separated by spaces. An option is `key=value`; a bool option may be written
alone (`fold` means `fold=true`). Keys may be kebab-case or snake_case (`max-iterations` and
`max_iterations` are the same field). Values are typed from the pass's dataclass fields:

    int      42, -1            float   0.5, 1e-3          str   any word, or "quoted text"
    bool     true/false/1/0    tuple[int, ...] / list[str]: comma-separated, `sizes=4,8,16`

Errors are PassErrors pointing at the column of the pipeline string where the problem is, with
the known names listed and the closest one suggested.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from dataclasses import dataclass

from ..errors import PassError, SourcePos
from .pass_base import Pass, get_pass, list_passes

PIPELINE_FILE = "<pipeline>"


@dataclass
class _Element:
    """One `name{options}` of a pipeline string, with the column of each piece."""

    name: str
    col: int
    options: list[tuple[str, str | None, int]]  # (key, value or None, column)


def parse_pipeline(text: str) -> list[Pass]:
    """The passes a pipeline string names, with their options set."""
    return [_instantiate(element, text) for element in _split(text)]


# ---------------------------------------------------------------------------------------------
# Splitting the text


def _split(text: str) -> list[_Element]:
    """Cut the text into elements at commas outside braces; read each element's options."""
    elements, i = [], 0
    if not text.strip():
        return []
    while i <= len(text):
        end = _element_end(text, i)
        elements.append(_read_element(text, i, end))
        i = end + 1
    return elements


def _element_end(text: str, start: int) -> int:
    """The index of the comma that ends the element starting at `start` (or the text's end)."""
    depth, quote = 0, None
    for i in range(start, len(text)):
        c = text[i]
        if quote:
            quote = None if c == quote else quote
        elif c in "\"'":
            quote = c
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth < 0:
                _fail(text, i, "unmatched '}'")
        elif c == "," and depth == 0:
            return i
    if depth > 0:
        _fail(text, len(text), "missing '}' to close the options",
              hint="options look like name{key=value other=1}")
    return len(text)


def _read_element(text: str, start: int, end: int) -> _Element:
    chunk = text[start:end]
    stripped = chunk.strip()
    col = start + len(chunk) - len(chunk.lstrip())
    if not stripped:
        _fail(text, col, "expected a pass name", hint="pass names are separated by single commas")
    brace = stripped.find("{")
    name = (stripped if brace < 0 else stripped[:brace]).strip()
    if not name:
        _fail(text, col, "expected a pass name before '{'")
    if "(" in name:
        _fail(text, col, "nested pipelines like 'func.func(cse)' are not supported",
              hint="write the passes at the top level: 'cse,dce'")
    if brace < 0:
        return _Element(name, col, [])
    if not stripped.endswith("}"):
        _fail(text, col + len(stripped), "unexpected text after the options")
    body_col = col + brace + 1
    return _Element(name, col, _read_options(text, stripped[brace + 1:-1], body_col))


def _read_options(text: str, body: str, body_col: int) -> list[tuple[str, str | None, int]]:
    """`key=value key2="a b" flag` -> [(key, value, col), ...]; quotes keep spaces."""
    options, i = [], 0
    while i < len(body):
        if body[i].isspace():
            i += 1
            continue
        start, quote = i, None
        while i < len(body) and (quote or not body[i].isspace()):
            if quote and body[i] == quote:
                quote = None
            elif not quote and body[i] in "\"'":
                quote = body[i]
            i += 1
        token = body[start:i]
        key, eq, value = token.partition("=")
        if not key:
            _fail(text, body_col + start, "expected an option name before '='")
        options.append((key, _unquote(value) if eq else None, body_col + start))
    return options


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


# ---------------------------------------------------------------------------------------------
# Making the passes


def _instantiate(element: _Element, text: str) -> Pass:
    cls = get_pass(element.name)
    if cls is None:
        known = list_passes()
        close = difflib.get_close_matches(element.name, known, n=1)
        _fail(text, element.col, f"unknown pass '{element.name}'",
              hint=f"did you mean '{close[0]}'?" if close else None,
              notes=[f"known passes: {', '.join(known)}"])
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value, col in element.options:
        field_name = key.replace("-", "_")
        if field_name not in fields:
            _fail(text, col, f"pass '{cls.name}' has no option '{key}'",
                  hint=_options_hint(cls, fields))
        kwargs[field_name] = _convert(value, hints[field_name], cls.name, key, text, col)
    return cls(**kwargs)


def _options_hint(cls: type[Pass], fields: dict) -> str:
    if not fields:
        return f"'{cls.name}' takes no options"
    hints = typing.get_type_hints(cls)
    listing = ", ".join(f"{name.replace('_', '-')} ({_type_name(hints[name])})" for name in fields)
    return f"its options are: {listing}"


def _convert(value: str | None, type_, pass_name: str, key: str, text: str, col: int):
    """The option's text as a value of the field's type; a PassError when it does not fit."""
    if value is None:
        if type_ is bool:
            return True  # `fold` alone means fold=true, as LLVM's command-line flags do
        _fail(text, col, f"option '{key}' of pass '{pass_name}' needs a value ({key}=...)")
    try:
        return _parse_value(value, type_)
    except ValueError:
        _fail(text, col, f"option '{key}' of pass '{pass_name}' expects {_type_name(type_)}, "
                         f"but got '{value}'")


def _parse_value(value: str, type_):
    origin = typing.get_origin(type_)
    if origin in (tuple, list):
        item_type = typing.get_args(type_)[0] if typing.get_args(type_) else str
        items = [_parse_value(v.strip(), item_type) for v in value.split(",") if v.strip()]
        return tuple(items) if origin is tuple else items
    if type_ is bool:
        if value in ("true", "1"):
            return True
        if value in ("false", "0"):
            return False
        raise ValueError(value)
    if type_ is int:
        return int(value, 0) if value.lower().startswith(("0x", "-0x")) else int(value)
    if type_ is float:
        return float(value)
    if type_ is str:
        return value
    raise ValueError(f"options of type {type_} are not supported")


def _type_name(type_) -> str:
    origin = typing.get_origin(type_)
    if origin in (tuple, list):
        args = typing.get_args(type_)
        return f"a comma-separated list of {_type_name(args[0]) if args else 'words'}"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        type_, getattr(type_, "__name__", str(type_)))


def _fail(text: str, index: int, message: str, hint: str | None = None, notes=None):
    raise PassError(message, pos=SourcePos(PIPELINE_FILE, 1, index + 1, text), hint=hint, notes=notes)
