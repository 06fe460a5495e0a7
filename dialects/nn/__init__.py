"""The nn dialect: tensor ops with ONNX semantics, each with shape inference, a verifier and a
numpy reference (`interpret`). Importing this package registers every op."""

from .base import nn  # noqa: F401  (the Dialect; op modules below register into it)
from . import layout, conv, linalg, norm, image  # noqa: F401
from . import elementwise, reduce, shape  # noqa: F401
from . import fused  # noqa: F401  (nn.fused groups and nn.yield, made by the fuse pass)
from . import patterns  # noqa: F401  (elimination patterns, attached to the ops above)
