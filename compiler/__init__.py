"""The IR core: types, attributes, ops, the text format, the verifier and the pass machinery."""

from .attributes import *  # noqa: F401,F403  (the builtin attributes are part of the API)
from .errors import LaminaError, ParseError, PassError, SourcePos, VerifyError
from .ir import Block, BlockArgument, Operation, OpResult, Region, Use, Value
from .location import FileLineColLoc, FusedLoc, Location, NameLoc, UnknownLoc
from .printer import CustomForm, Printer, print_ir
from .types import *  # noqa: F401,F403
from .verifier import verify

# The parser (lark) and the pass machinery load on first use, so that running a compiled package
# (`lamina run model.tar`) imports neither.
_LAZY = {"parse": ("parser", "parse"), "run_pipeline": ("passes", "run_pipeline")}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(f"{__name__}.{module}"), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
