// MLIR's generic form, with an op of a dialect lamina does not know (needs --allow-unregistered),
// properties, a multi-block region with successors, and locations.
"builtin.module"() ({
  "func.func"() <{function_type = (f32) -> f32, sym_name = "relu"}> ({
  ^bb0(%x: f32):
    %zero = "arith.constant"() <{value = 0.000000e+00 : f32}> : () -> f32
    %y = "arith.maximumf"(%x, %zero) : (f32, f32) -> f32 loc("relu1")
    "func.return"(%y) : (f32) -> () loc("model.onnx":3:1)
  }) : () -> ()
  "test.graph"() ({
  ^bb0(%a: tensor<4xf32>):
    %0 = "test.op"(%a) {tag = "first"} : (tensor<4xf32>) -> tensor<4xf32>
    "test.br"(%0)[^bb1] : (tensor<4xf32>) -> ()
  ^bb1:
    "test.done"() : () -> ()
  }) : () -> ()
}) : () -> ()
