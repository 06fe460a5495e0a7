"""Errors a user can cause, and how they are shown.

Every failure that bad input can trigger is a `LaminaError` carrying where it happened and, when
there is one, a hint. The CLI prints `FILE:LINE:COL: error: message`, the source line and a caret,
and exits 1; a Python traceback appears only with `--debug`. Code inside lamina raises these and
never lets a library's exception (lark's, numpy's) reach the user.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourcePos:
    """A point in a source text: 1-based line and column, plus the line itself for the caret."""

    file: str
    line: int
    col: int
    source_line: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    @staticmethod
    def in_text(text: str, file: str, line: int, col: int) -> "SourcePos":
        lines = text.splitlines()
        source_line = lines[line - 1] if 0 < line <= len(lines) else ""
        return SourcePos(file, line, col, source_line)


class LaminaError(Exception):
    """The base of lamina's errors: a one-sentence message, a position, an optional hint."""

    kind = "error"

    def __init__(self, message: str, pos: SourcePos | None = None, hint: str | None = None,
                 notes: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.hint = hint
        self.notes = list(notes or [])

    @property
    def line(self) -> int | None:
        return self.pos.line if self.pos else None

    @property
    def column(self) -> int | None:
        return self.pos.col if self.pos else None

    @property
    def source_line(self) -> str | None:
        return self.pos.source_line if self.pos else None

    def render(self) -> str:
        """The diagnostic as the CLI prints it (MLIR's layout: position, line, caret, notes)."""
        head = f"{self.pos}: {self.kind}: {self.message}" if self.pos else f"{self.kind}: {self.message}"
        out = [head]
        if self.pos and self.pos.source_line:
            out.append(self.pos.source_line)
            out.append(" " * (self.pos.col - 1) + "^")
        out.extend(self.notes)
        if self.hint:
            out.append(f"hint: {self.hint}")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.render()


class ParseError(LaminaError):
    """Malformed IR text. Carries line, column, the source line and a caret."""


class VerifyError(LaminaError):
    """IR that is well-formed text but breaks a rule: of the op, of SSA, or of structure."""


class PassError(LaminaError):
    """A pass or pipeline that cannot run: unknown name, bad option, no fixpoint."""
