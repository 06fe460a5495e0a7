// The math dialect: float functions on scalars and elementwise on tensors, in the custom form
// of arith's elementwise ops.
// RUN: lamina opt %s | filecheck %s
// RUN: lamina opt %s --print-generic | filecheck %s --check-prefix=GENERIC

// CHECK-LABEL: func.func @unary(%x: f32) -> f32 {
// CHECK-NEXT:    %0 = math.exp %x : f32
// CHECK-NEXT:    %1 = math.log %0 : f32
// CHECK-NEXT:    %2 = math.log1p %1 : f32
// CHECK-NEXT:    %3 = math.tanh %2 : f32
// CHECK-NEXT:    %4 = math.erf %3 : f32
// CHECK-NEXT:    %5 = math.sqrt %4 : f32
// CHECK-NEXT:    %6 = math.rsqrt %5 : f32
// CHECK-NEXT:    %7 = math.absf %6 : f32
// CHECK-NEXT:    %8 = math.floor %7 : f32
// CHECK-NEXT:    %9 = math.ceil %8 : f32
// CHECK-NEXT:    %10 = math.roundeven %9 : f32
// CHECK-NEXT:    %11 = math.round %10 : f32
// CHECK-NEXT:    %12 = math.sin %11 : f32
// CHECK-NEXT:    %13 = math.cos %12 : f32
// CHECK-NEXT:    %14 = math.trunc %13 : f32
// CHECK-NEXT:    return %14 : f32
// GENERIC:         %0 = "math.exp"(%x) : (f32) -> f32
func.func @unary(%x: f32) -> f32 {
  %0 = math.exp %x : f32
  %1 = math.log %0 : f32
  %2 = math.log1p %1 : f32
  %3 = math.tanh %2 : f32
  %4 = math.erf %3 : f32
  %5 = math.sqrt %4 : f32
  %6 = math.rsqrt %5 : f32
  %7 = math.absf %6 : f32
  %8 = math.floor %7 : f32
  %9 = math.ceil %8 : f32
  %10 = math.roundeven %9 : f32
  %11 = math.round %10 : f32
  %12 = math.sin %11 : f32
  %13 = math.cos %12 : f32
  %14 = math.trunc %13 : f32
  func.return %14 : f32
}

// CHECK-LABEL: func.func @binary(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:    %p = math.powf %a, %b : tensor<4xf32>
// CHECK-NEXT:    %f = math.fma %a, %b, %p : tensor<4xf32>
// CHECK-NEXT:    return %f : tensor<4xf32>
// GENERIC:         %f = "math.fma"(%a, %b, %p) : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
func.func @binary(%a: tensor<4xf32>, %b: tensor<4xf32>) -> tensor<4xf32> {
  %p = math.powf %a, %b : tensor<4xf32>
  %f = math.fma %a, %b, %p : tensor<4xf32>
  func.return %f : tensor<4xf32>
}
