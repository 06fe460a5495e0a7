# lit configuration for lamina's FileCheck tests (run by tests/test_filecheck.py, or directly:
# .venv/bin/lit tests/filecheck -v).
import os
import sys

import lit.formats

config.name = "lamina"
config.test_format = lit.formats.ShTest(execute_external=False)  # lit's shell: pipes, `not`
config.suffixes = [".mlir"]
config.excludes = ["Inputs"]
config.test_source_root = os.path.dirname(__file__)

# `lamina` and `filecheck` live beside the Python that runs lit (the project's virtualenv).
bin_dir = os.path.dirname(sys.executable)
config.environment["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])

# The round-trip substitution: every `lamina opt` in a RUN line also checks that its output prints,
# parses and prints again byte-identically, in the custom and the generic form.
config.substitutions.append(("lamina opt", "lamina opt --verify-roundtrip"))
