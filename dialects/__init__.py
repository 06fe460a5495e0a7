"""The dialects: builtin, func, arith, nn, sched, and the loop dialects memref, scf and math.
Each module registers its ops when imported; the registry in lamina.compiler.opdef imports them
on first use."""
