// Verifier errors of the memref dialect and of memref types.
// RUN: lamina opt %s --split-input-file --verify-diagnostics

func.func @f(%m: memref<4x4xf32>, %i: index) {
  // expected-error @+1 {{'memref.load' op indexes memref<4x4xf32> of rank 2 with 1 indices; give one per dimension}}
  %v = memref.load %m[%i] : memref<4x4xf32>
  func.return
}

// -----

func.func @f(%m: memref<4xf32>, %i: index) {
  // expected-error @+1 {{'memref.store' op stores a index into memref<4xf32>; the value must be its element type}}
  "memref.store"(%i, %m, %i) : (index, memref<4xf32>, index) -> ()
  func.return
}

// -----

func.func @f() {
  // expected-error @+1 {{'memref.alloc' op has 0 dynamic sizes but memref<?xf32> has 1 dynamic dimension}}
  %a = memref.alloc() : memref<?xf32>
  func.return
}

// -----

func.func @f(%m: memref<4x4xf32>) {
  // expected-error @+1 {{'memref.subview' op result type memref<2x2xf32> does not match the view, memref<2x2xf32, strided<[4, 1], offset: 5>>}}
  %w = "memref.subview"(%m) <{operandSegmentSizes = array<i32: 1, 0, 0, 0>, static_offsets = array<i64: 1, 1>, static_sizes = array<i64: 2, 2>, static_strides = array<i64: 1, 1>}> : (memref<4x4xf32>) -> memref<2x2xf32>
  func.return
}

// -----

// expected-error @+1 {{'memref.global' op initial value has type tensor<2xf32> but the global holds memref<3xf32>}}
"memref.global"() <{sym_name = "w", sym_visibility = "private", type = memref<3xf32>, initial_value = dense<1.0> : tensor<2xf32>}> : () -> ()

// -----

func.func @f() {
  // expected-error @+1 {{'memref.get_global' op names @nope, which is not a memref.global of the enclosing module}}
  %w = memref.get_global @nope : memref<2xf32>
  func.return
}

// -----

// expected-error @+1 {{affine-map layouts are not supported}}
func.func @f(%m: memref<4xf32, affine_map<(d0) -> (d0)>>) {
  func.return
}
