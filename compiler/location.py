"""Source locations, as MLIR writes them: `loc("conv1")`, `loc("f.mlir":3:7)`, fused, unknown.

A location says where an op came from (an ONNX node name, a file position); it is printed after
the op and kept through passes, so a diagnostic deep in the pipeline can still name the source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .attributes import quote_string

if TYPE_CHECKING:
    from .ir import Operation


class Location:
    def __str__(self) -> str:
        return f"loc({self.body()})"

    def body(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class UnknownLoc(Location):
    def body(self) -> str:
        return "unknown"


@dataclass(frozen=True)
class FileLineColLoc(Location):
    file: str
    line: int
    col: int

    def body(self) -> str:
        return f"{quote_string(self.file)}:{self.line}:{self.col}"


@dataclass(frozen=True)
class NameLoc(Location):
    """`loc("conv1")`, or with where the name came from: `loc("conv1"("model.onnx":0:0))`."""

    name: str
    child: Location | None = None

    def body(self) -> str:
        child = f"({self.child.body()})" if self.child is not None else ""
        return quote_string(self.name) + child


@dataclass(frozen=True)
class FusedLoc(Location):
    """Several locations merged, e.g. when a pass fuses ops: `loc(fused["conv1", "relu1"])`."""

    locations: tuple[Location, ...]

    def body(self) -> str:
        return "fused[" + ", ".join(l.body() for l in self.locations) + "]"


UNKNOWN = UnknownLoc()


# ---------------------------------------------------------------------------------------------
# the model nodes an op came from, and the kernel names made of them


def node_names(op: Operation) -> list[str]:
    """The names of the model nodes an op (or a fused group's ops) came from, in order: its
    locations' names (a folded batch_norm adds its own to the conv's)."""
    def names(loc):
        if isinstance(loc, NameLoc):
            return [loc.name]
        if isinstance(loc, FusedLoc):
            return [n for part in loc.locations for n in names(part)]
        if isinstance(loc, FileLineColLoc):
            return [f"{Path(loc.file).stem}_{loc.line}"]
        return []
    ops = op.inner_ops if op.name == "nn.fused" else [op]
    out = []
    for inner in ops:
        for n in names(inner.location):
            if n not in out:
                out.append(n)
    return out


def kernel_names(ops: list[Operation]) -> list[str]:
    """A name per kernel, after the nodes it computes (`conv1+bn1+relu`; at most four names,
    then `+more`), cleaned for a file name (`/`, `:` and spaces become `_`) and made unique in
    the model by a suffix (`_2`, `_3`, ...)."""
    seen: dict[str, int] = {}
    out = []
    for op in ops:
        parts = node_names(op) or [op.name.split(".")[-1]]
        text = "+".join(parts[:4]) + ("+more" if len(parts) > 4 else "")
        text = re.sub(r"[/:\\\s]+", "_", text).strip("_.") or op.name.split(".")[-1]
        text = text[:120]
        seen[text] = seen.get(text, 0) + 1
        out.append(text if seen[text] == 1 else f"{text}_{seen[text]}")
    return out
