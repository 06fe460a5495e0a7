"""Step 1 of reading a text model: lark's LALR parser (grammar.lark) turns the text into the small
syntax records below, each with the position it was written at. Syntax errors become
`TextModelError`s in the language's terms ("expected ')' to close the call, found the end of the
line"); lark's exceptions never escape.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Union

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from lamina.compiler.errors import ParseError, SourcePos


class TextModelError(ParseError):
    """A text model lamina cannot read: bad syntax, an unknown op or name, wrong operands or
    attributes, shapes an op cannot combine. Always `file:line:col`, the line, a caret, a hint."""


# ---------------------------------------------------------------------------------------------
# Syntax records


@dataclass(frozen=True)
class Pos:
    line: int
    col: int


def _pos(tok) -> Pos:
    return Pos(tok.line, tok.column)


@dataclass
class TypeSyntax:
    element: str
    dims: list  # ints, None for `?`
    pos: Pos


@dataclass
class Literal:
    """An attribute value or initializer literal: kind is int, float, string, word or list."""

    kind: str
    value: object  # int | float | str | list[Literal]
    pos: Pos


@dataclass
class Kwarg:
    name: str
    value: Literal
    pos: Pos


@dataclass
class Var:
    name: str
    pos: Pos


@dataclass
class Num:
    value: Union[int, float]
    pos: Pos


@dataclass
class Call:
    op: str
    args: list  # expressions and Kwargs, in the order written
    pos: Pos


@dataclass
class BinOp:
    symbol: str  # + - * / @
    lhs: object
    rhs: object
    pos: Pos  # the operator's


@dataclass
class Negate:
    operand: object
    pos: Pos


@dataclass
class InitCall:
    name: str
    kwargs: list[Kwarg]
    pos: Pos


@dataclass
class Decl:
    name: str
    kind: str  # param | const
    type: TypeSyntax
    init: Union[InitCall, Literal]
    pos: Pos


@dataclass
class Assign:
    names: list[tuple[str, Pos]]
    expr: object
    pos: Pos


@dataclass
class Return:
    exprs: list
    pos: Pos


@dataclass
class Arg:
    name: str
    type: TypeSyntax
    pos: Pos


@dataclass
class Model:
    name: str
    args: list[Arg]
    body: list
    pos: Pos
    end: Pos  # the closing brace


# ---------------------------------------------------------------------------------------------
# Tree -> records


@v_args(inline=True)
class _ToSyntax(Transformer):
    def start(self, model):
        return model

    @v_args(inline=True, meta=True)
    def model(self, meta, kw, name, *rest):
        items = [r for r in rest if r is not None]
        args = [a for a in items if isinstance(a, Arg)]
        body = [s for s in items if isinstance(s, (Decl, Assign, Return))]
        return Model(str(name), args, body, _pos(kw), Pos(meta.end_line, meta.end_column - 1))

    def arg(self, name, type):
        return Arg(str(name), type, _pos(name))

    def type(self, element, *dims):
        dims = [None if d.type == "QMARK" else int(d) for d in dims if d is not None]
        return TypeSyntax(str(element), dims, _pos(element))

    def decl(self, name, kind, type, _init_kw, init):
        return Decl(str(name), str(kind), type, init, _pos(name))

    def assign(self, *items):
        *names, expr = items
        return Assign([(str(n), _pos(n)) for n in names], expr, _pos(names[0]))

    def ret(self, kw, *exprs):
        return Return(list(exprs), _pos(kw))

    def init_call(self, name, *kwargs):
        return InitCall(str(name), [k for k in kwargs if k is not None], _pos(name))

    def binop(self, lhs, op, rhs):
        return BinOp(str(op), lhs, rhs, _pos(op))

    def negate(self, minus, operand):
        return Negate(operand, _pos(minus))

    def var(self, name):
        return Var(str(name), _pos(name))

    def num(self, tok):
        return Num(int(tok) if tok.type == "INT" else float(tok), _pos(tok))

    def call(self, name, *args):
        return Call(str(name), [a for a in args if a is not None], _pos(name))

    def kwarg(self, name, value):
        return Kwarg(str(name), value, _pos(name))

    def string(self, tok):
        return Literal("string", _unquote(str(tok)), _pos(tok))

    def word(self, tok):
        return Literal("word", str(tok), _pos(tok))

    @v_args(inline=True, meta=True)
    def list(self, meta, *items):
        return Literal("list", [i for i in items if i is not None], Pos(meta.line, meta.column))

    @v_args(inline=True, meta=True)
    def number(self, meta, minus, tok):
        value = int(tok) if tok.type == "INT" else float(tok)
        return Literal("int" if tok.type == "INT" else "float", -value if minus else value,
                       Pos(meta.line, meta.column))


def _unquote(text: str) -> str:
    body = text[1:-1]
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            out.append({"n": "\n", "t": "\t"}.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# New lines: they end statements, except inside (...) and [...]

_OPEN = threading.local()  # the brackets open where the lexer stopped, for "not closed" hints


class _Brackets:
    """A lark postlexer: drops new lines inside brackets and repeated new lines."""

    always_accept = ("_NL",)

    def process(self, stream):
        _OPEN.stack = stack = []
        previous = None
        for tok in stream:
            if tok.type in ("LPAR", "LSQB"):
                stack.append(tok)
            elif tok.type in ("RPAR", "RSQB") and stack:
                stack.pop()
            if tok.type == "_NL" and (stack or previous == "_NL"):
                continue
            previous = tok.type
            yield tok


@functools.lru_cache(maxsize=1)
def _lark() -> Lark:
    grammar = (Path(__file__).parent / "grammar.lark").read_text()
    return Lark(grammar, parser="lalr", lexer="contextual", postlex=_Brackets(),
                propagate_positions=True, maybe_placeholders=True)


def parse_model(text: str, filename: str) -> Model:
    """The syntax records of `text`; TextModelError for text that is not the language."""
    try:
        tree = _lark().parse(text)
    except LarkError as e:
        raise _syntax_error(e, text, filename) from None
    return _ToSyntax().transform(tree)


# ---------------------------------------------------------------------------------------------
# lark's errors, in the language's terms

_WORDS = {
    "LPAR": "'('", "RPAR": "')'", "LSQB": "'['", "RSQB": "']'", "LBRACE": "'{'", "RBRACE": "'}'",
    "COMMA": "','", "COLON": "':'", "EQUAL": "'='", "PLUS": "'+'", "MINUS": "'-'", "STAR": "'*'",
    "SLASH": "'/'", "AT": "'@'", "QMARK": "'?'", "NAME": "a name", "INT": "an integer",
    "FLOAT": "a number", "STRING": "a string", "MODEL": "'model'", "DECL_KIND": "param or const",
    "RETURN": "'return'", "INIT": "'init='", "BOOL": "true or false", "_NL": "the end of the line", "$END": "the end of the file",
}
_EXPRESSION = {"NAME", "INT", "FLOAT", "LPAR", "MINUS"}
_VALUE = {"INT", "FLOAT", "STRING", "NAME", "LSQB", "MINUS", "BOOL"}
_OPERATORS = {"PLUS", "MINUS", "STAR", "SLASH", "AT"}


def _found(tok: Token) -> str:
    if tok.type in ("_NL", "$END"):
        return _WORDS[tok.type]
    text = str(tok)
    return f"'{text[:30]}{'...' if len(text) > 30 else ''}'"


def _last_token(e: UnexpectedToken) -> Token | None:
    """The token the parser read last, when it is still unreduced on its stack."""
    try:
        stack = e.interactive_parser.parser_state.value_stack
    except AttributeError:
        return None
    return stack[-1] if stack and isinstance(stack[-1], Token) else None


def _expected(expected: set, last: Token | None) -> tuple[str, str | None]:
    """What the parser wanted, in words, and a hint."""
    last_type = last.type if last is not None else None
    if last_type in ("COLON", "DECL_KIND") and expected == {"NAME"}:
        return "a type like f32[2, 3]", "types are an element type and a shape: f32[1, 784], i64[], f16[?, 10]"
    if expected == {"INIT"}:
        return "'init=' after the type", "give the initial value: w = param f32[4, 4] init=normal(seed=0)"
    if last_type == "EQUAL" and expected >= {"NAME", "LSQB"} and not expected & {"STRING", "LPAR"}:  # init=
        return ("an initializer", "write normal(seed=0), uniform(seed=0), zeros(), ones() or values like [1, 2]")
    if expected >= _VALUE:
        return ("an attribute value", 'attribute values are numbers, strings ("NCHW"), lists ([1, 2]) or types (f16)')
    if expected >= _EXPRESSION:
        if "DECL_KIND" in expected:
            return "an expression, param or const", ("a statement is `name = op(...)`, "
                                                      "`name = param f32[2] init=zeros()` or `return name`")
        return "an expression", "an expression is a name, a number, an op call like relu(x), or a + b"
    if {"RPAR", "COMMA"} <= expected:
        return "',' or ')'", None
    if {"RSQB", "COMMA"} <= expected:
        return "',' or ']'", None
    if "_NL" in expected and expected - {"_NL"} <= _OPERATORS | {"RBRACE", "COMMA"}:
        return "the end of the statement", "write one statement per line"
    if {"COMMA", "EQUAL"} <= expected:
        return "'=' or ','", "a statement is `name = expression`, `name = param TYPE init=...` or `return ...`"
    if expected == {"NAME"}:
        return "a name", None
    for t in ("RPAR", "RSQB", "RBRACE", "LPAR", "LBRACE", "EQUAL", "COLON", "LSQB", "MODEL", "NAME"):
        if t in expected:
            return _WORDS[t], None
    choice = sorted(expected)[0] if expected else None
    return _WORDS.get(choice, "something else"), None


def _syntax_error(e: LarkError, text: str, filename: str) -> TextModelError:
    if isinstance(e, UnexpectedToken):
        try:  # LALR merges states, so e.expected can list tokens that would fail a step later
            expected = set(e.interactive_parser.accepts())
        except Exception:
            expected = set(e.expected or ())
        ends = "$END" in expected
        if ends and len(expected) > 1:
            expected.discard("$END")
        last = _last_token(e)
        what, hint = _expected(expected, last)
        tok = e.token
        if tok.type == "$END" or tok.line is None:
            lines = text.splitlines() or [""]
            line, col = len(lines), len(lines[-1]) + 1
        else:
            line, col = tok.line, tok.column
        if tok.type == "_NL" and last is not None:  # point just past the line's last token
            line, col = last.end_line, last.end_column
        message = f"expected {what}, found {_found(tok)}"
        if str(tok) == "model" and ends:
            message, hint = "a file holds one model, but a second one starts here", "put each model in its own file"
        open_brackets = getattr(_OPEN, "stack", [])
        if open_brackets and open_brackets[-1].line < line:
            b = open_brackets[-1]
            hint = f"the '{b}' at line {b.line}, column {b.column} is not closed"
        return TextModelError(message, SourcePos.in_text(text, filename, line, col), hint)
    if isinstance(e, UnexpectedCharacters):
        ch = text[e.pos_in_stream] if 0 <= e.pos_in_stream < len(text) else "?"
        pos = SourcePos.in_text(text, filename, e.line, e.column)
        if ch == '"':
            return TextModelError("unterminated string", pos, 'close the string with " on the same line')
        if ch == "%":
            return TextModelError("unexpected character '%'", pos, "names are plain words like x or h1, not %x")
        return TextModelError(f"unexpected character {ch!r}", pos,
                              "names are letters, digits and _; operators are + - * / @")
    if isinstance(e, UnexpectedInput):
        return TextModelError("unexpected input", SourcePos.in_text(text, filename, getattr(e, "line", 1) or 1,
                                                                     getattr(e, "column", 1) or 1))
    return TextModelError(f"could not parse: {type(e).__name__}", SourcePos.in_text(text, filename, 1, 1))
