"""lamina: an MLIR-style teaching compiler for neural networks, built on TVM tensor expressions.

The public API:

    import lamina
    module = lamina.parse(text)                  # MLIR text -> IR (lamina.compiler.ParseError on bad text)
    lamina.verify(module)                        # raises lamina.compiler.VerifyError
    lamina.run_pipeline(module, "canonicalize,cse,dce")
    print(lamina.print_ir(module))               # IR -> MLIR text (generic=True for the generic form)

The layers are subpackages: lamina.compiler (IR, parser, printer, verifier, passes, CLI),
lamina.dialects (builtin, func, arith, ...), lamina.lowering and lamina.runtime.
"""

from lamina.compiler import (LaminaError, ParseError, PassError, VerifyError, parse, print_ir,
                             run_pipeline, verify)

__version__ = "0.1.0"

__all__ = ["parse", "print_ir", "verify", "run_pipeline",
           "LaminaError", "ParseError", "VerifyError", "PassError", "__version__"]
