// Every builtin type prints back as written: floats, signless/signed/unsigned integers of any
// width, index, none, ranked tensors (static, dynamic `?`, 0-d), function types with zero, one or
// several results, and opaque types of unregistered dialects.
// RUN: lamina opt %s --allow-unregistered | filecheck %s
// RUN: lamina opt %s --allow-unregistered --print-generic | filecheck %s --check-prefix=GENERIC

// CHECK-LABEL: module {
// CHECK-NEXT:    func.func private @floats(f16, bf16, f32, f64)
func.func private @floats(f16, bf16, f32, f64) -> ()

// CHECK-NEXT:    func.func private @integers(i1, i2, i7, i8, i16, i32, i64, si8, si32, ui1, ui16, ui64) -> i128
func.func private @integers(i1, i2, i7, i8, i16, i32, i64, si8, si32, ui1, ui16, ui64) -> i128

// CHECK-NEXT:    func.func private @index_none(index, none) -> index
func.func private @index_none(index, none) -> index

// CHECK-NEXT:    func.func private @tensors(tensor<2x3xf32>, tensor<?x4xi8>, tensor<?x?xbf16>, tensor<f32>, tensor<0xi1>, tensor<1x1x1x1x7xindex>) -> tensor<1x2x3x4xf64>
func.func private @tensors(tensor<2x3xf32>, tensor<?x4xi8>, tensor<?x?xbf16>, tensor<f32>, tensor<0xi1>, tensor<1x1x1x1x7xindex>) -> tensor<1x2x3x4xf64>

// CHECK-NEXT:    func.func private @two_results(i32) -> (i32, f32)
func.func private @two_results(i32) -> (i32, f32)

// CHECK-NEXT:    func.func private @no_results(tensor<?xf32>)
func.func private @no_results(tensor<?xf32>) -> ()

// One result in parentheses is the same type as without them.
// CHECK-NEXT:    func.func private @one_result_parenthesised() -> f32
func.func private @one_result_parenthesised() -> (f32)

// Function types as attribute values, including a function type returning a function type.
// CHECK-NEXT:    "test.fn_types"() {a = (i32) -> (), b = () -> (i1, i1), c = ((i32) -> i32) -> i32, d = (tensor<2xf32>) -> tensor<2xf32>, e = () -> ((i32) -> i32)} : () -> ()
"test.fn_types"() {a = (i32) -> (), b = () -> (i1, i1), c = ((i32) -> i32) -> i32, d = (tensor<2xf32>) -> (tensor<2xf32>), e = () -> ((i32) -> i32)} : () -> ()

// Opaque types keep their body text, nested angle brackets included.
// CHECK-NEXT:    %0 = "test.opaque"() {t = !foo.bar<1, "x", <nested>>, u = !foo.baz} : () -> !foo.bar<4xf32>
%0 = "test.opaque"() {t = !foo.bar<1, "x", <nested>>, u = !foo.baz} : () -> !foo.bar<4xf32>
// CHECK-NEXT:    "test.use"(%0) : (!foo.bar<4xf32>) -> ()
"test.use"(%0) : (!foo.bar<4xf32>) -> ()
// CHECK-NEXT:  }

// The generic form spells each declaration's type in its function_type property.
// GENERIC-LABEL: "builtin.module"() ({
// GENERIC-NEXT:    "func.func"() <{function_type = (f16, bf16, f32, f64) -> (), sym_name = "floats", sym_visibility = "private"}> ({
// GENERIC-NEXT:    }) : () -> ()
// GENERIC:         "func.func"() <{function_type = (i32) -> (i32, f32), sym_name = "two_results", sym_visibility = "private"}> ({
// GENERIC:         "func.func"() <{function_type = (tensor<?xf32>) -> (), sym_name = "no_results", sym_visibility = "private"}> ({
// GENERIC:         %0 = "test.opaque"() {t = !foo.bar<1, "x", <nested>>, u = !foo.baz} : () -> !foo.bar<4xf32>
// GENERIC-NEXT:    "test.use"(%0) : (!foo.bar<4xf32>) -> ()
// GENERIC-NEXT:  }) : () -> ()
