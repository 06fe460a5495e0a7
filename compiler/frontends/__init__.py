"""Front-ends: models from outside lamina (ONNX files, ...) turned into nn-dialect IR.

Each front-end lives in its own subpackage and imports its third-party library lazily, so
`import lamina.compiler.frontends` costs nothing and a user without `onnx` installed only meets
the dependency when they load an ONNX file.
"""
