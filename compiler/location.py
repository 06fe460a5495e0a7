"""Source locations, as MLIR writes them: `loc("conv1")`, `loc("f.mlir":3:7)`, fused, unknown.

A location says where an op came from (an ONNX node name, a file position); it is printed after
the op and kept through passes, so a diagnostic deep in the pipeline can still name the source.
"""

from __future__ import annotations

from dataclasses import dataclass

from .attributes import quote_string


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
