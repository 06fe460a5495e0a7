// xdsl-interop: skip xDSL 0.74 cannot parse hex floats in dense arrays (MLIR and lamina can)
// Infinities and NaNs in dense arrays print as their bits in hex, as in every float attribute.
// RUN: lamina opt %s --allow-unregistered | filecheck %s

// CHECK: "test.dense_arrays"() {f = array<f64: 0x7FF0000000000000, 1.000000e+00>, h = array<f16: 0x7E00>, n = array<f32: 0xFF800000>} : () -> ()
"test.dense_arrays"() {f = array<f64: 0x7FF0000000000000, 1.0>, h = array<f16: 0x7E00>, n = array<f32: 0xFF800000>} : () -> ()
