"""What CI runs, and what only a thorough run adds (CI has 25 minutes on 2 cores).

The zoo's big nets cost seconds per configuration. CI runs each of them at -O3 on every path;
the rest of the matrix (-O0 of the big nets, more layouts and targets of the same net) runs with
`LAMINA_THOROUGH=1` or `HYPOTHESIS_PROFILE=thorough`, as the hypothesis budget does."""

from __future__ import annotations

import os

THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough" or os.environ.get("LAMINA_THOROUGH") == "1"

# The zoo models that compile and run in about a second: CI runs them in every configuration.
CHEAP = ("glue", "mlp", "transformer_block", "tiny_yolo")


def in_ci(model: str, main_config: bool) -> bool:
    """Whether CI runs `model` in a configuration: every model in the main one (-O3), the cheap
    ones in all; a thorough run, everything."""
    return THOROUGH or main_config or model in CHEAP
