"""The IR core: types, attributes, ops, the text format, the verifier and the pass machinery."""

from .attributes import *  # noqa: F401,F403  (the builtin attributes are part of the API)
from .errors import LaminaError, ParseError, PassError, SourcePos, VerifyError
from .ir import Block, BlockArgument, Operation, OpResult, Region, Use, Value
from .location import FileLineColLoc, FusedLoc, Location, NameLoc, UnknownLoc
from .parser import parse
from .printer import CustomForm, Printer, print_ir
from .types import *  # noqa: F401,F403
from .verifier import verify
from .passes import run_pipeline
