// xdsl-interop: skip xDSL 0.74 cannot parse #dialect<...> or !dialect<...> without a name after the dialect
// Opaque attributes and types may name only their dialect, as in MLIR: #foo<"x">, !foo<"x">.
// RUN: lamina opt %s --allow-unregistered | filecheck %s

// CHECK: %0 = "test.opaque"() {a = #foo<"x">, b = #foo<1 : i32>} : () -> !foo<"y">
%0 = "test.opaque"() {a = #foo<"x">, b = #foo<1 : i32>} : () -> !foo<"y">
