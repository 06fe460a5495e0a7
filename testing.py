"""lamina.testing: tools for pass authors — hypothesis strategies for random IR (`nn_graphs`,
`modules`, `types`, `attributes`) and `check_pass`, which runs the reference interpreter before
and after a pass on random graphs and reports the smallest graph where they differ.

    from lamina.testing import check_pass
    result = check_pass("canonicalize,cse", examples=300)
    assert result.ok, result.report()

The code lives in lamina.compiler.testing; this module is its public name.
"""

from lamina.compiler.testing import *  # noqa: F401,F403
from lamina.compiler.testing import __all__  # noqa: F401
