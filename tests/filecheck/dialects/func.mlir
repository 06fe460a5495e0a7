// The func dialect's custom forms: definitions with named arguments, private and nested
// declarations, zero, one or several results, `attributes {...}`, calls and returns.
// RUN: lamina opt %s | filecheck %s
// RUN: lamina opt %s --print-generic | filecheck %s --check-prefix=GENERIC

// CHECK-LABEL: func.func private @decl(i32, f32) -> (i32, f32) attributes {llvm.emit_c_interface}
// GENERIC-LABEL: "func.func"() <{function_type = (i32, f32) -> (i32, f32), sym_name = "decl", sym_visibility = "private"}> ({
// GENERIC-NEXT:  }) {llvm.emit_c_interface} : () -> ()
func.func private @decl(i32, f32) -> (i32, f32) attributes {llvm.emit_c_interface}

// CHECK-LABEL: func.func private @no_args()
// CHECK-NOT:   ->
func.func private @no_args() -> ()

// CHECK-LABEL: func.func nested @nested_vis() attributes {a = "x"} {
// CHECK-NEXT:    return
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{function_type = () -> (), sym_name = "nested_vis", sym_visibility = "nested"}> ({
// GENERIC-NEXT:    "func.return"() : () -> ()
// GENERIC-NEXT:  }) {a = "x"} : () -> ()
func.func nested @nested_vis() attributes {a = "x"} {
  func.return
}

// CHECK-LABEL: func.func @identity(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
// CHECK-NEXT:    return %x : tensor<?x3xf32>
// CHECK-NEXT:  }
func.func @identity(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {
  func.return %x : tensor<?x3xf32>
}

// Unnamed values are numbered; arguments named by number print as %argN.
// CHECK-LABEL: func.func @numbered(%arg0: i32, %arg1: i32) -> i32 {
// CHECK-NEXT:    %0 = arith.addi %arg0, %arg1 : i32
// CHECK-NEXT:    return %0 : i32
// CHECK-NEXT:  }
func.func @numbered(%0: i32, %1: i32) -> i32 {
  %2 = arith.addi %0, %1 : i32
  func.return %2 : i32
}

// Calls with several, one and no results; multi-result calls are used by index.
// CHECK-LABEL: func.func @caller(%x: i32, %y: f32) -> (i32, f32) {
// CHECK-NEXT:    [[R0:%[0-9]+]], [[R1:%[0-9]+]] = call @decl(%x, %y) : (i32, f32) -> (i32, f32)
// CHECK-NEXT:    call @nested_vis() : () -> ()
// CHECK-NEXT:    %id = call @identity_i32([[R0]]) : (i32) -> i32
// CHECK-NEXT:    return %id, [[R1]] : i32, f32
// CHECK-NEXT:  }
// GENERIC-LABEL: "func.func"() <{function_type = (i32, f32) -> (i32, f32), sym_name = "caller"}> ({
// GENERIC-NEXT:  ^bb0(%x: i32, %y: f32):
// GENERIC-NEXT:    [[R0:%[0-9]+]], [[R1:%[0-9]+]] = "func.call"(%x, %y) <{callee = @decl}> : (i32, f32) -> (i32, f32)
// GENERIC-NEXT:    "func.call"() <{callee = @nested_vis}> : () -> ()
// GENERIC-NEXT:    %id = "func.call"([[R0]]) <{callee = @identity_i32}> : (i32) -> i32
// GENERIC-NEXT:    "func.return"(%id, [[R1]]) : (i32, f32) -> ()
// GENERIC-NEXT:  }) : () -> ()
func.func @caller(%x: i32, %y: f32) -> (i32, f32) {
  %0:2 = func.call @decl(%x, %y) : (i32, f32) -> (i32, f32)
  func.call @nested_vis() : () -> ()
  %id = func.call @identity_i32(%0#0) : (i32) -> i32
  func.return %id, %0#1 : i32, f32
}

// A function may be called before it is defined (the module is a graph region).
// CHECK-LABEL: func.func @identity_i32(%a: i32) -> i32 {
func.func @identity_i32(%a: i32) -> i32 {
  func.return %a : i32
}

// Numbering restarts in each function (each is isolated from above): %arg0 and %0 again.
// CHECK-LABEL: func.func @fresh_names(%arg0: i32) -> i32 {
// CHECK-NEXT:    %0 = arith.muli %arg0, %arg0 : i32
// CHECK-NEXT:    return %0 : i32
func.func @fresh_names(%7: i32) -> i32 {
  %9 = arith.muli %7, %7 : i32
  func.return %9 : i32
}
