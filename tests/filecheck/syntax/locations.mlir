// Locations: a name, file:line:col, a name with a child location, fused, and unknown (which is not
// printed). --no-locations drops them all. Block arguments may carry a location too.
// RUN: lamina opt %s --allow-unregistered | filecheck %s
// RUN: lamina opt %s --allow-unregistered --print-generic | filecheck %s --check-prefix=GENERIC
// RUN: lamina opt %s --allow-unregistered --no-locations | filecheck %s --check-prefix=NOLOC

// CHECK-LABEL: func.func @f(
// CHECK-SAME:      %a: f32{{.*}}, %b: f32{{.*}}) -> f32 {
// CHECK-NEXT:    %0 = arith.addf %a, %b : f32 loc("add1")
// CHECK-NEXT:    %1 = arith.mulf %0, %0 : f32 loc("model.onnx":12:7)
// CHECK-NEXT:    %2 = arith.subf %1, %0 : f32 loc(fused["a", "b.py":1:1, unknown])
// CHECK-NEXT:    %3 = arith.negf %2 : f32 loc("conv1"("model.onnx":0:0))
// CHECK-NEXT:    %4 = arith.negf %3 : f32{{$}}
// CHECK-NEXT:    %5 = arith.negf %4 : f32 loc("outer"("mid"("f.py":3:4)))
// CHECK-NEXT:    %6 = arith.negf %5 : f32 loc("quote\"d"("dir/file name.mlir":100:2))
// CHECK-NEXT:    return %6 : f32 loc("ret")
// CHECK-NEXT:  } loc("fn")
func.func @f(%a: f32 loc("arg_a"), %b: f32 loc("in.mlir":1:2)) -> f32 {
  %0 = arith.addf %a, %b : f32 loc("add1")
  %1 = arith.mulf %0, %0 : f32 loc("model.onnx":12:7)
  %2 = arith.subf %1, %0 : f32 loc(fused["a", "b.py":1:1, unknown])
  %3 = arith.negf %2 : f32 loc("conv1"("model.onnx":0:0))
  %4 = arith.negf %3 : f32 loc(unknown)
  %5 = arith.negf %4 : f32 loc("outer"("mid"("f.py":3:4)))
  %6 = arith.negf %5 : f32 loc("quote\"d"("dir/file name.mlir":100:2))
  func.return %6 : f32 loc("ret")
} loc("fn")

// Block arguments of an unregistered op's region, with and without locations.
// CHECK:         "test.blk"() ({
// CHECK-NEXT:    ^bb0(%x: i32{{.*}}, %y: i32):
// CHECK-NEXT:      "test.done"() : () -> () loc("done")
// CHECK-NEXT:    }) : () -> () loc("blk")
"test.blk"() ({
^bb0(%x: i32 loc("x"), %y: i32):
  "test.done"() : () -> () loc("done")
}) : () -> () loc("blk")

// GENERIC:       %0 = "arith.addf"(%a, %b) : (f32, f32) -> f32 loc("add1")
// GENERIC:       %3 = "arith.negf"(%2) : (f32) -> f32 loc("conv1"("model.onnx":0:0))
// GENERIC-NEXT:  %4 = "arith.negf"(%3) : (f32) -> f32{{$}}
// GENERIC:       "func.return"(%6) : (f32) -> () loc("ret")
// GENERIC-NEXT:  }) : () -> () loc("fn")

// NOLOC-NOT:     loc(
// NOLOC:         %0 = arith.addf %a, %b : f32{{$}}
// NOLOC:         return %6 : f32{{$}}
// NOLOC-NEXT:    }{{$}}
// NOLOC-NOT:     loc(
