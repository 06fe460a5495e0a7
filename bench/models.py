"""Benchmark the model zoo, or any .onnx file: lamina, onnxruntime and TVM's Relax, one table
(issue 4), and with --per-kernel where lamina's time goes, kernel by kernel.

    python bench/models.py                                # every model of examples/models/zoo.py
    python bench/models.py --models mlp,glue --runs 5 --markdown
    python bench/models.py --models path/to/model.onnx,resnet18 --skip-relax --per-kernel

The logic lives in lamina.runtime.benchmark (an installed module, so `lamina bench` can run it
too); see its docstring for what is measured and how.
"""

import sys

from lamina.runtime.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
