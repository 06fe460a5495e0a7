"""Passes and the pass manager.

    from lamina.compiler.passes import run_pipeline
    run_pipeline(module, "canonicalize,cse,dce", print_ir_after_change=True)

A pass is one file here (or in a later layer) defining a frozen dataclass registered with
`@register_pass`; see pass_base.py. Pipelines are strings; see pipeline.py.
"""

from .manager import PassManager, run_pipeline
from .pass_base import Pass, describe_passes, get_pass, list_passes, register_pass, register_pass_module
from .pipeline import parse_pipeline
from . import loops  # noqa: F401  (registers the loop passes: loop-tile, loop-unroll, ...)

__all__ = ["Pass", "PassManager", "register_pass", "register_pass_module", "get_pass", "list_passes",
           "describe_passes", "parse_pipeline", "run_pipeline"]
