"""nn -> loops: the `lower-nn-to-loops` pass and its library (issue 14's middle step).

    from lamina.lowering.loops import lower_to_loops, loop_signature
    from lamina.lowering.llvm import jit

    lower_to_loops(module)                       # in place: nn functions -> loops on memrefs
    ins, outs = loop_signature(module)           # the memref types of @main's arguments
    out = [np.empty(t.shape, t.element_type.numpy_dtype) for t in outs]
    jit(module, 3).call("main", *inputs, *out)   # destination-passing style: fills `out`

Where to read: pass_.py (bufferization, memory planning, the order of things), builder.py (the
loop-building library every op uses), then one module per op family: elementwise.py,
linalg.py, conv.py, pool.py, reduce.py (reductions, softmax), norm.py, shape.py, image.py, and
layouts.py (reading NHWC / NCHW{c}c buffers by logical index).
"""

from .builder import LOWERINGS, LoweringError, Loops
from .pass_ import LowerNnToLoopsPass, loop_signature, lower_to_loops, output_arrays

__all__ = ["LOWERINGS", "LoweringError", "Loops", "LowerNnToLoopsPass", "loop_signature", "lower_to_loops",
           "output_arrays"]
