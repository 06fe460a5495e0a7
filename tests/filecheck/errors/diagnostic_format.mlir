// How errors look: `FILE:LINE:COL: error: message`, the source line, a caret under the column,
// then notes and a hint; exit code 1 (`not` checks it) and no Python traceback.
// RUN: not lamina opt %s --split-input-file 2>&1 | filecheck %s --strict-whitespace

func.func @f(%a: f32) -> f32 {
  %0 = "arith.negf"(%a) -> f32
  func.return %0 : f32
}
// CHECK:      {{^.*}}diagnostic_format.mlir:6:25: error: expected ':' after operand list, found '->'
// CHECK-NEXT: {{^}}  %0 = "arith.negf"(%a) -> f32
// CHECK-NEXT: {{^                        \^$}}

// -----

func.func @g(%a: i32) -> i32 {
  %1 = arith.addi %a, %a : i32
  %1 = arith.muli %a, %a : i32
  func.return %1 : i32
}
// CHECK:      {{^.*}}diagnostic_format.mlir:17:3: error: redefinition of %1
// CHECK-NEXT: {{^}}  %1 = arith.muli %a, %a : i32
// CHECK-NEXT: {{^  \^$}}
// CHECK-NEXT: {{^}}hint: each SSA value is defined once; rename one of them

// -----

"foo.bar"() : () -> ()
// CHECK:      {{^.*}}diagnostic_format.mlir:27:1: error: unregistered operation 'foo.bar'
// CHECK-NEXT: {{^}}"foo.bar"() : () -> ()
// CHECK-NEXT: {{^\^$}}
// CHECK-NEXT: {{^}}hint: known dialects: arith, builtin, func, math, memref, nn, scf, sched, vector; pass --allow-unregistered to keep ops of other dialects

// -----

// Verifier errors add the op in the generic form and its location as notes.
func.func @h(%a: f32) -> i32 {
  func.return %a : f32 loc("ret")
}
// CHECK:      {{^.*}}diagnostic_format.mlir:37:3: error: 'func.return' op returns f32 but the enclosing function @h returns i32
// CHECK-NEXT: {{^}}  func.return %a : f32 loc("ret")
// CHECK-NEXT: {{^  \^$}}
// CHECK-NEXT: {{^}}see op: "func.return"(%a) : (f32) -> ()
// CHECK-NEXT: {{^}}location: loc("ret")

// -----

// An error at the end of the input points just past the last token.
// CHECK:      {{^.*}}diagnostic_format.mlir:49:27: error: expected ')', found the end of input
%0 = "test.op"() : () -> (i32
// CHECK-NEXT: {{^}}%0 = "test.op"() : () -> (i32
// CHECK-NEXT: {{^                          \^$}}
// CHECK-NOT:  Traceback
