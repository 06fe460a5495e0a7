"""The dialects: builtin, func, arith. Each module registers its ops when imported; the
registry in lamina.compiler.opdef imports them on first use."""
