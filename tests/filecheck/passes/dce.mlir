// dce: pure ops whose results are unused are erased, transitively (a dead chain goes at once);
// ops with side effects (calls, unregistered ops) and terminators stay.
// RUN: lamina opt %s -p dce --allow-unregistered | filecheck %s

// CHECK-LABEL: func.func @dead_chain(%x: i32) -> i32 {
// CHECK-NEXT:    %live = arith.addi %x, %x : i32
// CHECK-NEXT:    return %live : i32
// CHECK-NEXT:  }
// CHECK-NOT:     %dead
func.func @dead_chain(%x: i32) -> i32 {
  %live = arith.addi %x, %x : i32
  %c = arith.constant 3 : i32
  %dead = arith.muli %live, %c : i32
  %dead2 = arith.addi %dead, %dead : i32
  %dead3 = arith.cmpi eq, %dead2, %x : i32
  func.return %live : i32
}

// Calls and unregistered ops may have side effects, so they stay even when unused.
// CHECK-LABEL: func.func @effects(%x: f32) -> f32 {
// CHECK-NEXT:    %0 = call @effects(%x) : (f32) -> f32
// CHECK-NEXT:    %1 = "test.unknown"(%x) : (f32) -> f32
// CHECK-NEXT:    return %x : f32
// CHECK-NEXT:  }
func.func @effects(%x: f32) -> f32 {
  %0 = func.call @effects(%x) : (f32) -> f32
  %1 = "test.unknown"(%x) : (f32) -> f32
  %2 = arith.negf %x : f32
  func.return %x : f32
}

// A function with nothing dead is unchanged; dce does not erase unused functions.
// CHECK-LABEL: func.func private @unused_decl(i32)
// CHECK-LABEL: func.func @all_live(%t: tensor<3xf32>) -> tensor<3xf32> {
// CHECK-NEXT:    %0 = arith.addf %t, %t : tensor<3xf32>
// CHECK-NEXT:    return %0 : tensor<3xf32>
func.func private @unused_decl(i32)
func.func @all_live(%t: tensor<3xf32>) -> tensor<3xf32> {
  %0 = arith.addf %t, %t : tensor<3xf32>
  func.return %0 : tensor<3xf32>
}
