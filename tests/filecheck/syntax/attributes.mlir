// Every attribute kind prints back in MLIR's spelling: integers with their width (i64 when
// untyped), floats in %e form or as hex bits for inf/nan, bools, unit, strings with escapes,
// arrays, dense arrays, type attributes, symbol references, and opaque attributes.
// Attribute dictionaries print sorted by name.
// RUN: lamina opt %s --allow-unregistered | filecheck %s
// RUN: lamina opt %s --allow-unregistered --print-generic | filecheck %s --check-prefix=GENERIC

// CHECK-LABEL: module {

// CHECK-NEXT: "test.integers"() {a = 1 : i8, b = -7 : i16, c = 42 : i64, d = 3 : index, e = 255 : ui8, f = -128 : si8, g = 16 : i32, h = 0 : i1024, i = -9223372036854775808 : i64}
"test.integers"() {c = 42, a = 1 : i8, b = -7 : i16, d = 3 : index, e = 255 : ui8, f = -128 : si8, g = 0x10 : i32, h = 0 : i1024, i = -9223372036854775808 : i64} : () -> ()

// An i1 integer is a bool.
// CHECK-NEXT: "test.bools"() {f = false, t = true, x = true, y = false} : () -> ()
"test.bools"() {t = true, f = false, x = 1 : i1, y = 0 : i1} : () -> ()

// Floats print as %e when that is exact, else the shortest exact form; inf/nan as hex bits.
// CHECK-NEXT: "test.floats"() {a = 1.500000e+00 : f32, b = -0.000000e+00 : f64, c = 0x7F800000 : f32, d = 0xFF800000 : f32, e = 0x7FC00000 : f32, f = 2.500000e+00 : bf16, g = 1.000000e-01 : f32, h = 1.000000e+00 : f64, i = 0x7FF8000000000000 : f64, j = 0x7C00 : f16, k = 1.23456789e-01 : f64, l = 6.550400e+04 : f16}
"test.floats"() {a = 1.5 : f32, b = -0.0 : f64, c = 0x7F800000 : f32, d = 0xFF800000 : f32, e = 0x7FC00000 : f32, f = 2.5 : bf16, g = 0.1 : f32, h = 1.0, i = 0x7FF8000000000000 : f64, j = 0x7C00 : f16, k = 0.123456789 : f64, l = 65504.0 : f16} : () -> ()

// A unit attribute prints as its bare name; keys that are not identifiers are quoted.
// CHECK-NEXT: "test.unit"() {flag, "odd key" = 1 : i64, "x-y"} : () -> ()
"test.unit"() {flag, "x-y", "odd key" = 1} : () -> ()

// Strings: quotes and backslashes escaped, other non-printable bytes as \XX.
// CHECK-NEXT: "test.strings"() {e = "", s = "a\"b\\c\0A\09\09 \C3\A9", u = "caf\C3\A9"} : () -> ()
"test.strings"() {s = "a\"b\\c\n\t\09 \C3\A9", e = "", u = "café"} : () -> ()

// Arrays nest and hold any attribute; untyped integers in them are i64.
// CHECK-NEXT: "test.arrays"() {a = [1 : i64, "x", [true, unit], 2.000000e+00 : f32, i32], e = [], n = [[]]} : () -> ()
"test.arrays"() {a = [1, "x", [true, unit], 2.0 : f32, i32], e = [], n = [[]]} : () -> ()

// Dense arrays: array<type: values>, empty as array<type> (inf and nan: dense_array_hex.mlir).
// CHECK-NEXT: "test.dense_arrays"() {a = array<i64: 1, 2>, b = array<f32: 1.500000e+00, -2.000000e+00>, c = array<i1: true, false>, d = array<i32>, e = array<i8: -1>} : () -> ()
"test.dense_arrays"() {a = array<i64: 1, 2>, b = array<f32: 1.5, -2.0>, c = array<i1: true, false>, d = array<i32>, e = array<i8: -1>} : () -> ()

// Types as attributes.
// CHECK-NEXT: "test.types"() {f = (i32) -> f32, t = i32, u = tensor<?x2xf32>} : () -> ()
"test.types"() {t = i32, u = tensor<?x2xf32>, f = (i32) -> f32} : () -> ()

// Symbol references: flat, nested (@a::@b::@c), and quoted names.
// CHECK-NEXT: "test.symbols"() {n = @a::@b, n3 = @a::@b::@c, q = @"quoted sym", s = @foo} : () -> ()
"test.symbols"() {s = @foo, n = @a::@b, n3 = @a::@b::@c, q = @"quoted sym"} : () -> ()

// Opaque attributes of unregistered dialects keep their body text (`#foo<...>`: opaque_dialect_only.mlir).
// CHECK-NEXT: "test.opaque"() {a = #foo.bar<1, 2>, c = #foo.baz, d = #foo.nest<<a>, [b]>} : () -> ()
"test.opaque"() {a = #foo.bar<1, 2>, c = #foo.baz, d = #foo.nest<<a>, [b]>} : () -> ()

// Empty attribute dictionaries are not printed.
// CHECK-NEXT: "test.empty"() : () -> ()
"test.empty"() {} : () -> ()
// CHECK-NEXT: }

// The generic form prints attributes the same way.
// GENERIC-LABEL: "builtin.module"() ({
// GENERIC-NEXT:    "test.integers"() {a = 1 : i8, b = -7 : i16, c = 42 : i64,
// GENERIC:         "test.symbols"() {n = @a::@b, n3 = @a::@b::@c, q = @"quoted sym", s = @foo} : () -> ()
// GENERIC:         "test.empty"() : () -> ()
// GENERIC-NEXT:  }) : () -> ()
