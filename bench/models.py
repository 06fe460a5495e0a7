"""Benchmark the model zoo: lamina, onnxruntime and TVM's Relax, one table (issue 4).

    python bench/models.py                                # all six models
    python bench/models.py --models mlp,glue --runs 5 --markdown
    python bench/models.py --skip-relax

The logic lives in lamina.runtime.benchmark (an installed module, so `lamina bench` can run it
too); see its docstring for what is measured and how.
"""

import sys

from lamina.runtime.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
