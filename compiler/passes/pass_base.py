"""What a pass is, and the registry that finds a pass by its name.

A pass is a frozen dataclass whose fields are its options, with a kebab-case `name` and a
one-line `summary`; `run(module)` changes the module in place:

    @register_pass
    @dataclass(frozen=True)
    class CanonicalizePass(Pass):
        '''Simplify ops with their folds and canonicalization patterns.'''
        name = "canonicalize"
        summary = "fold and apply canonicalization patterns to a fixpoint"
        max_iterations: int = 10
        fold: bool = True

        def run(self, module): ...

so `canonicalize{max-iterations=5 fold=false}` in a pipeline string maps onto
`CanonicalizePass(max_iterations=5, fold=False)` (see pipeline.py).

Passes load lazily, as in xDSL: `PASS_MODULES` maps each name to the module that defines it, and
the module is imported the first time the pass is asked for, so the CLI starts without importing
every pass.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import typing
from collections import Counter
from typing import ClassVar

from ..errors import PassError
from ..ir import Operation

_KEBAB = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")


@dataclasses.dataclass(frozen=True)
class Pass:
    """Base of passes. Subclasses are frozen dataclasses; their fields are the options."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    def run(self, module: Operation) -> None:
        raise NotImplementedError(f"pass {self.name!r} does not define run()")

    # -- statistics: what the last run did, for the pass manager's report ----------------------

    @property
    def statistics(self) -> Counter:
        """Counts of what the pass did (pattern or event name -> times), reset before each run.

        Kept outside the dataclass fields so that options alone decide equality."""
        stats = self.__dict__.get("_statistics")
        if stats is None:
            stats = Counter()
            object.__setattr__(self, "_statistics", stats)  # frozen: set through object
        return stats

    def reset_statistics(self) -> None:
        object.__setattr__(self, "_statistics", Counter())

    # -- describing ------------------------------------------------------------------------------

    @classmethod
    def display_name(cls) -> str:
        """The class name without `Pass` (`CanonicalizePass` -> `Canonicalize`), as MLIR shows it."""
        return cls.__name__[:-4] if cls.__name__.endswith("Pass") and cls.__name__ != "Pass" else cls.__name__

    @classmethod
    def options(cls) -> dict[str, tuple[type, object]]:
        """Each option's kebab-case name -> (its type, its default)."""
        hints = typing.get_type_hints(cls)
        return {f.name.replace("_", "-"): (hints[f.name], f.default)
                for f in dataclasses.fields(cls)}

    def pipeline_text(self) -> str:
        """This pass as a pipeline element: the name, plus options that differ from the default."""
        changed = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value != field.default:
                changed.append(f"{field.name.replace('_', '-')}={format_option(value)}")
        return self.name + ("{" + " ".join(changed) + "}" if changed else "")


def format_option(value) -> str:
    """An option value as a pipeline string writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ",".join(format_option(v) for v in value)
    return str(value)


# ---------------------------------------------------------------------------------------------
# The registry

# name -> module that registers it; later layers add theirs here (or call register_pass_module).
PASS_MODULES: dict[str, str] = {
    "canonicalize": "lamina.compiler.passes.canonicalize",
    "cse": "lamina.compiler.passes.cse",
    "dce": "lamina.compiler.passes.dce",
    "fold-constants": "lamina.compiler.passes.fold_constants",
    "combine-ops": "lamina.compiler.passes.combine_ops",
    "fuse": "lamina.compiler.passes.fuse",
    "convert-layout": "lamina.compiler.passes.convert_layout",
    "widen-conv-columns": "lamina.compiler.passes.widen_columns",
    "lower-nn-to-loops": "lamina.lowering.loops.pass_",
}

_PASSES: dict[str, type[Pass]] = {}


def register_pass(cls: type[Pass]) -> type[Pass]:
    """Class decorator: make the pass findable by its `name`."""
    if not _KEBAB.fullmatch(cls.name or ""):
        raise TypeError(f"{cls.__name__}: a pass name is kebab-case (like 'fold-constants'), "
                        f"not {cls.name!r}")
    if "__dataclass_params__" not in vars(cls):  # else its own option fields would be ignored
        raise TypeError(f"{cls.__name__}: declare the pass with @dataclass(frozen=True)")
    _PASSES[cls.name] = cls
    return cls


def register_pass_module(name: str, module: str) -> None:
    """Say where pass `name` is defined, so it is imported only when first used."""
    PASS_MODULES[name] = module


def get_pass(name: str) -> type[Pass] | None:
    """The pass class named `name`, importing its module on first use; None if unknown."""
    if name not in _PASSES and name in PASS_MODULES:
        importlib.import_module(PASS_MODULES[name])
        if name not in _PASSES:
            raise PassError(f"module {PASS_MODULES[name]} does not register a pass named '{name}'")
    return _PASSES.get(name)


def list_passes() -> list[str]:
    """The names of every known pass, sorted (without importing them)."""
    return sorted(set(PASS_MODULES) | set(_PASSES))


def describe_passes() -> list[tuple[str, str]]:
    """(name, summary) of every known pass; this imports them all (for `--help` listings)."""
    return [(name, get_pass(name).summary) for name in list_passes()]
