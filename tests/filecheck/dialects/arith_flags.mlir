// arith ops as xDSL prints them: floating-point ops carry `fastmath`, which keeps them in the
// generic form. lamina reads #arith.fastmath<...> as an opaque attribute, so it needs
// --allow-unregistered even though arith is a registered dialect.
// RUN: lamina opt %s --allow-unregistered | filecheck %s

// CHECK-LABEL: func.func @flags(%x: f32) -> f32 {
// CHECK-NEXT:    %m = "arith.mulf"(%x, %x) <{fastmath = #arith.fastmath<fast>}> : (f32, f32) -> f32
// CHECK-NEXT:    %n = "arith.negf"(%m) <{fastmath = #arith.fastmath<none>}> : (f32) -> f32
// CHECK-NEXT:    %a = arith.addf %n, %x : f32
// CHECK-NEXT:    return %a : f32
func.func @flags(%x: f32) -> f32 {
  %m = "arith.mulf"(%x, %x) <{fastmath = #arith.fastmath<fast>}> : (f32, f32) -> f32
  %n = "arith.negf"(%m) <{fastmath = #arith.fastmath<none>}> : (f32) -> f32
  %a = arith.addf %n, %x : f32
  func.return %a : f32
}
