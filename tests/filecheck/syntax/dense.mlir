// Dense elements: a splat prints as one value, a small tensor as nested lists, a tensor of more
// than 100 elements as MLIR's hex string (little-endian bytes); --elide-large-constants N
// prints tensors of more than N elements as dense_resource<__elided__>.
// RUN: lamina opt %s | filecheck %s
// RUN: lamina opt %s --print-generic | filecheck %s --check-prefix=GENERIC
// RUN: lamina opt %s --elide-large-constants 3 | filecheck %s --check-prefix=ELIDE

// CHECK-LABEL: module {
module {
  // Splats: every element the same, written once.
  // CHECK-NEXT: %splat = arith.constant dense<1.000000e+00> : tensor<2x2xf32>
  // ELIDE:      %splat = arith.constant dense_resource<__elided__> : tensor<2x2xf32>
  %splat = arith.constant dense<1.0> : tensor<2x2xf32>
  // A list whose elements are all equal prints as a splat too.
  // CHECK-NEXT: %same = arith.constant dense<7> : tensor<3xi32>
  // ELIDE-NEXT:  %same = arith.constant dense<7> : tensor<3xi32>
  %same = arith.constant dense<[7, 7, 7]> : tensor<3xi32>
  // CHECK-NEXT: %scalar = arith.constant dense<-3> : tensor<i64>
  %scalar = arith.constant dense<-3> : tensor<i64>

  // Lists, nested to the tensor's rank.
  // CHECK-NEXT: %list = arith.constant dense<[1, 2, 3]> : tensor<3xi32>
  // ELIDE:      %list = arith.constant dense<[1, 2, 3]> : tensor<3xi32>
  %list = arith.constant dense<[1, 2, 3]> : tensor<3xi32>
  // CHECK-NEXT: %nested = arith.constant dense<{{\[\[}}1.000000e+00, 2.500000e+00], [-1.000000e+00, 0x7F800000]]> : tensor<2x2xf32>
  %nested = arith.constant dense<[[1.0, 2.5], [-1.0, 0x7F800000]]> : tensor<2x2xf32>
  // CHECK-NEXT: %f16 = arith.constant dense<[5.000000e-01, 6.550400e+04]> : tensor<2xf16>
  %f16 = arith.constant dense<[0.5, 65504.0]> : tensor<2xf16>
  // CHECK-NEXT: %bf16 = arith.constant dense<[1.000000e+00, 3.000000e+00]> : tensor<2xbf16>
  %bf16 = arith.constant dense<[1.0, 3.0]> : tensor<2xbf16>
  // CHECK-NEXT: %i8 = arith.constant dense<[-128, 127]> : tensor<2xi8>
  %i8 = arith.constant dense<[-128, 127]> : tensor<2xi8>
  // CHECK-NEXT: %idx = arith.constant dense<[0, 9]> : tensor<2xindex>
  %idx = arith.constant dense<[0, 9]> : tensor<2xindex>

  // i1 elements print as true/false.
  // CHECK-NEXT: %bools = arith.constant dense<{{\[\[}}true, false], [false, true]]> : tensor<2x2xi1>
  %bools = arith.constant dense<[[true, false], [false, true]]> : tensor<2x2xi1>
  // (a bool splat, dense<true>, is in dense_bool_splat.mlir)

  // A small hex string reads as its elements (and one element's bytes as a splat).
  // CHECK-NEXT: %from_hex = arith.constant dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>
  %from_hex = arith.constant dense<"0x0000803F00000040"> : tensor<2xf32>
  // CHECK-NEXT: %hex_splat = arith.constant dense<1.000000e+00> : tensor<8xf32>
  %hex_splat = arith.constant dense<"0x0000803F"> : tensor<8xf32>

  // More than 100 elements: hex, exact and fast to parse.
  // CHECK-NEXT: %big = arith.constant dense<"0x000000000000803F00000040{{[0-9A-F]*}}0000C6420000C842"> : tensor<101xf32>
  // ELIDE:      %big = arith.constant dense_resource<__elided__> : tensor<101xf32>
  %big = arith.constant dense<[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0, 20.0, 21.0, 22.0, 23.0, 24.0, 25.0, 26.0, 27.0, 28.0, 29.0, 30.0, 31.0, 32.0, 33.0, 34.0, 35.0, 36.0, 37.0, 38.0, 39.0, 40.0, 41.0, 42.0, 43.0, 44.0, 45.0, 46.0, 47.0, 48.0, 49.0, 50.0, 51.0, 52.0, 53.0, 54.0, 55.0, 56.0, 57.0, 58.0, 59.0, 60.0, 61.0, 62.0, 63.0, 64.0, 65.0, 66.0, 67.0, 68.0, 69.0, 70.0, 71.0, 72.0, 73.0, 74.0, 75.0, 76.0, 77.0, 78.0, 79.0, 80.0, 81.0, 82.0, 83.0, 84.0, 85.0, 86.0, 87.0, 88.0, 89.0, 90.0, 91.0, 92.0, 93.0, 94.0, 95.0, 96.0, 97.0, 98.0, 99.0, 100.0]> : tensor<101xf32>
  // 100 elements is not above the threshold: still a list.
  // CHECK-NEXT: %hundred = arith.constant dense<{{\[\[}}0, 1, 2, {{.*}}, 98, 99]]> : tensor<10x10xi8>
  %hundred = arith.constant dense<[[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [10, 11, 12, 13, 14, 15, 16, 17, 18, 19], [20, 21, 22, 23, 24, 25, 26, 27, 28, 29], [30, 31, 32, 33, 34, 35, 36, 37, 38, 39], [40, 41, 42, 43, 44, 45, 46, 47, 48, 49], [50, 51, 52, 53, 54, 55, 56, 57, 58, 59], [60, 61, 62, 63, 64, 65, 66, 67, 68, 69], [70, 71, 72, 73, 74, 75, 76, 77, 78, 79], [80, 81, 82, 83, 84, 85, 86, 87, 88, 89], [90, 91, 92, 93, 94, 95, 96, 97, 98, 99]]> : tensor<10x10xi8>
  // CHECK-NEXT: %empty = arith.constant dense<> : tensor<0xf32>
  %empty = arith.constant dense<> : tensor<0xf32>
}
// CHECK-NEXT: }

// GENERIC:      %splat = "arith.constant"() <{value = dense<1.000000e+00> : tensor<2x2xf32>}> : () -> tensor<2x2xf32>
// GENERIC:      %bools = "arith.constant"() <{value = dense<{{\[\[}}true, false], [false, true]]> : tensor<2x2xi1>}> : () -> tensor<2x2xi1>
// GENERIC:      %big = "arith.constant"() <{value = dense<"0x000000000000803F{{[0-9A-F]*}}0000C842"> : tensor<101xf32>}> : () -> tensor<101xf32>
