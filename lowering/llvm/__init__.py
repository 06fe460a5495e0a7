"""The LLVM backend for loop IR: func / scf / memref / arith / math -> LLVM IR (llvmlite) -> JIT.

    from lamina.lowering.llvm import jit, emit_llvm

    jm = jit(module, opt_level=2)            # translate, verify, optimize, compile for this CPU
    jm.call("main", a, b, out)               # numpy arrays for memrefs, numbers for scalars
    print(jm.llvm_ir)                        # also: unoptimized_llvm_ir, asm, timings
    print(emit_llvm(module, opt_level=3))    # what `lamina opt FILE --emit llvm --llvm-opt 3` prints

Where to read: translate.py (each op family's translation, and the conventions: bare pointers,
globals, control flow), parallel.py (scf.parallel on threads), jit.py (verify, optimize, call).
"""

from .jit import JitError, JitModule, LLVMVerifierError, emit_asm, emit_llvm, host_target_machine, jit
from .translate import EMBED_LIMIT, LLVMTranslationError, Translation, translate_module

__all__ = ["EMBED_LIMIT", "JitError", "JitModule", "LLVMTranslationError", "LLVMVerifierError", "Translation",
           "emit_asm", "emit_llvm", "host_target_machine", "jit", "translate_module"]
