// The memref dialect: allocation, loads and stores (custom forms), copies, views, globals, and
// the memref type with strided layouts, memory spaces and rank 0.
// RUN: lamina opt %s | filecheck %s
// RUN: lamina opt %s --print-generic | filecheck %s --check-prefix=GENERIC

// CHECK-LABEL: func.func @load_store(%m: memref<4x4xf32>, %v: f32, %i: index) -> f32 {
// CHECK-NEXT:    %a = memref.alloc() : memref<4x4xf32>
// CHECK-NEXT:    memref.store %v, %a[%i, %i] : memref<4x4xf32>
// CHECK-NEXT:    %x = memref.load %a[%i, %i] : memref<4x4xf32>
// CHECK-NEXT:    memref.dealloc %a : memref<4x4xf32>
// CHECK-NEXT:    %s = memref.alloca() : memref<f32>
// CHECK-NEXT:    memref.store %x, %s[] : memref<f32>
// CHECK-NEXT:    %y = memref.load %s[] : memref<f32>
// CHECK-NEXT:    return %y : f32
// GENERIC-LABEL: sym_name = "load_store"
// GENERIC:         %a = "memref.alloc"() <{operandSegmentSizes = array<i32: 0, 0>}> : () -> memref<4x4xf32>
// GENERIC-NEXT:    "memref.store"(%v, %a, %i, %i) : (f32, memref<4x4xf32>, index, index) -> ()
// GENERIC-NEXT:    %x = "memref.load"(%a, %i, %i) : (memref<4x4xf32>, index, index) -> f32
// GENERIC-NEXT:    "memref.dealloc"(%a) : (memref<4x4xf32>) -> ()
// GENERIC-NEXT:    %s = "memref.alloca"() <{operandSegmentSizes = array<i32: 0, 0>}> : () -> memref<f32>
func.func @load_store(%m: memref<4x4xf32>, %v: f32, %i: index) -> f32 {
  %a = memref.alloc() : memref<4x4xf32>
  memref.store %v, %a[%i, %i] : memref<4x4xf32>
  %x = memref.load %a[%i, %i] : memref<4x4xf32>
  memref.dealloc %a : memref<4x4xf32>
  %s = memref.alloca() : memref<f32>
  memref.store %x, %s[] : memref<f32>
  %y = memref.load %s[] : memref<f32>
  func.return %y : f32
}

// A dynamic size is an operand; an alignment makes the generic form print.
// CHECK-LABEL: func.func @dynamic(%n: index) {
// CHECK-NEXT:    %d = memref.alloc(%n) : memref<?x4xf32>
// CHECK-NEXT:    %e = "memref.alloc"(%n) <{alignment = 64 : i64, operandSegmentSizes = array<i32: 1, 0>}> : (index) -> memref<4x?xi8>
// CHECK-NEXT:    "memref.copy"(%d, %d) : (memref<?x4xf32>, memref<?x4xf32>) -> ()
func.func @dynamic(%n: index) {
  %d = memref.alloc(%n) : memref<?x4xf32>
  %e = "memref.alloc"(%n) <{alignment = 64 : i64, operandSegmentSizes = array<i32: 1, 0>}> : (index) -> memref<4x?xi8>
  "memref.copy"(%d, %d) : (memref<?x4xf32>, memref<?x4xf32>) -> ()
  func.return
}

// Views: a 2x2 window at (1, 2) of a 4x8 buffer; a reshape of a contiguous buffer.
// CHECK-LABEL: func.func @views(%m: memref<4x8xf32>) -> (memref<2x2xf32, strided<[8, 1], offset: 10>>, memref<2x16xf32>, memref<f32, strided<[], offset: 3>>) {
// CHECK-NEXT:    %w = "memref.subview"(%m) <{operandSegmentSizes = array<i32: 1, 0, 0, 0>, static_offsets = array<i64: 1, 2>, static_sizes = array<i64: 2, 2>, static_strides = array<i64: 1, 1>}> : (memref<4x8xf32>) -> memref<2x2xf32, strided<[8, 1], offset: 10>>
// CHECK-NEXT:    %r = "memref.reinterpret_cast"(%m) <{operandSegmentSizes = array<i32: 1, 0, 0, 0>, static_offsets = array<i64: 0>, static_sizes = array<i64: 2, 16>, static_strides = array<i64: 16, 1>}> : (memref<4x8xf32>) -> memref<2x16xf32>
func.func @views(%m: memref<4x8xf32>) -> (memref<2x2xf32, strided<[8, 1], offset: 10>>, memref<2x16xf32>, memref<f32, strided<[], offset: 3>>) {
  %w = "memref.subview"(%m) <{operandSegmentSizes = array<i32: 1, 0, 0, 0>, static_offsets = array<i64: 1, 2>, static_sizes = array<i64: 2, 2>, static_strides = array<i64: 1, 1>}> : (memref<4x8xf32>) -> memref<2x2xf32, strided<[8, 1], offset: 10>>
  %r = "memref.reinterpret_cast"(%m) <{operandSegmentSizes = array<i32: 1, 0, 0, 0>, static_offsets = array<i64: 0>, static_sizes = array<i64: 2, 16>, static_strides = array<i64: 16, 1>}> : (memref<4x8xf32>) -> memref<2x16xf32>
  %e = "memref.reinterpret_cast"(%m) <{operandSegmentSizes = array<i32: 1, 0, 0, 0>, static_offsets = array<i64: 3>, static_sizes = array<i64>, static_strides = array<i64>}> : (memref<4x8xf32>) -> memref<f32, strided<[], offset: 3>>
  func.return %w, %r, %e : memref<2x2xf32, strided<[8, 1], offset: 10>>, memref<2x16xf32>, memref<f32, strided<[], offset: 3>>
}

// Globals: a model's weights, read through memref.get_global.
// CHECK-LABEL: "memref.global"() <{constant, initial_value = dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>, sym_name = "w", sym_visibility = "private", type = memref<2xf32>}> : () -> ()
// CHECK-NEXT:  "memref.global"() <{initial_value, sym_name = "scratch", sym_visibility = "public", type = memref<3xi32>}> : () -> ()
// CHECK:         %w = memref.get_global @w : memref<2xf32>
"memref.global"() <{sym_name = "w", sym_visibility = "private", type = memref<2xf32>, initial_value = dense<[1.0, 2.0]> : tensor<2xf32>, constant}> : () -> ()
"memref.global"() <{initial_value = unit, sym_name = "scratch", sym_visibility = "public", type = memref<3xi32>}> : () -> ()
func.func @weights() -> memref<2xf32> {
  %w = memref.get_global @w : memref<2xf32>
  func.return %w : memref<2xf32>
}

// -----

// Memref types: strided layouts with dynamic strides and offsets, memory spaces.
// CHECK-LABEL: func.func @types(%a: memref<4x?xf32, strided<[?, 1], offset: ?>>, %b: memref<8xi8, 1>, %c: memref<2x2xf16, strided<[4, 2]>, 2>)
func.func @types(%a: memref<4x?xf32, strided<[?, 1], offset: ?>>, %b: memref<8xi8, 1>, %c: memref<2x2xf16, strided<[4, 2]>, 2>) {
  func.return
}
