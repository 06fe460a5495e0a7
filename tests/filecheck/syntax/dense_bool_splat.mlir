// Splats of i1 tensors print as `dense<true>` / `dense<false>` and read back.
// RUN: lamina opt %s | filecheck %s

// CHECK:      %t = arith.constant dense<true> : tensor<4xi1>
// CHECK-NEXT: %f = arith.constant dense<false> : tensor<2x2xi1>
// CHECK-NEXT: %l = arith.constant dense<true> : tensor<2xi1>
%t = arith.constant dense<true> : tensor<4xi1>
%f = arith.constant dense<false> : tensor<2x2xi1>
%l = arith.constant dense<[true, true]> : tensor<2xi1>
