// The arith ops that loop code needs: casts (custom form `: A to B`), cmpf with each
// predicate, floor/ceil division, NaN-ignoring max/min, remainders and shifts.
// RUN: lamina opt %s | filecheck %s
// RUN: lamina opt %s --print-generic | filecheck %s --check-prefix=GENERIC

// CHECK-LABEL: func.func @casts(%i: index, %n: i32, %x: f32, %h: f16, %b: i8) {
// CHECK-NEXT:    %0 = arith.index_cast %i : index to i32
// CHECK-NEXT:    %1 = arith.index_cast %n : i32 to index
// CHECK-NEXT:    %2 = arith.sitofp %n : i32 to f32
// CHECK-NEXT:    %3 = arith.uitofp %n : i32 to f32
// CHECK-NEXT:    %4 = arith.fptosi %x : f32 to i32
// CHECK-NEXT:    %5 = arith.fptoui %x : f32 to i32
// CHECK-NEXT:    %6 = arith.extf %h : f16 to f32
// CHECK-NEXT:    %7 = arith.truncf %x : f32 to f16
// CHECK-NEXT:    %8 = arith.extsi %b : i8 to i32
// CHECK-NEXT:    %9 = arith.extui %b : i8 to i32
// CHECK-NEXT:    %10 = arith.trunci %n : i32 to i8
// GENERIC:         %0 = "arith.index_cast"(%i) : (index) -> i32
// GENERIC:         %6 = "arith.extf"(%h) : (f16) -> f32
func.func @casts(%i: index, %n: i32, %x: f32, %h: f16, %b: i8) {
  %0 = arith.index_cast %i : index to i32
  %1 = arith.index_cast %n : i32 to index
  %2 = arith.sitofp %n : i32 to f32
  %3 = arith.uitofp %n : i32 to f32
  %4 = arith.fptosi %x : f32 to i32
  %5 = arith.fptoui %x : f32 to i32
  %6 = arith.extf %h : f16 to f32
  %7 = arith.truncf %x : f32 to f16
  %8 = arith.extsi %b : i8 to i32
  %9 = arith.extui %b : i8 to i32
  %10 = arith.trunci %n : i32 to i8
  func.return
}

// CHECK-LABEL: func.func @cmpf(%a: f32, %b: f32) {
// CHECK-NEXT:    %0 = arith.cmpf false, %a, %b : f32
// CHECK-NEXT:    %1 = arith.cmpf oeq, %a, %b : f32
// CHECK-NEXT:    %2 = arith.cmpf ogt, %a, %b : f32
// CHECK-NEXT:    %3 = arith.cmpf oge, %a, %b : f32
// CHECK-NEXT:    %4 = arith.cmpf olt, %a, %b : f32
// CHECK-NEXT:    %5 = arith.cmpf ole, %a, %b : f32
// CHECK-NEXT:    %6 = arith.cmpf one, %a, %b : f32
// CHECK-NEXT:    %7 = arith.cmpf ord, %a, %b : f32
// CHECK-NEXT:    %8 = arith.cmpf ueq, %a, %b : f32
// CHECK-NEXT:    %9 = arith.cmpf ugt, %a, %b : f32
// CHECK-NEXT:    %10 = arith.cmpf uge, %a, %b : f32
// CHECK-NEXT:    %11 = arith.cmpf ult, %a, %b : f32
// CHECK-NEXT:    %12 = arith.cmpf ule, %a, %b : f32
// CHECK-NEXT:    %13 = arith.cmpf une, %a, %b : f32
// CHECK-NEXT:    %14 = arith.cmpf uno, %a, %b : f32
// CHECK-NEXT:    %15 = arith.cmpf true, %a, %b : f32
// GENERIC:         %4 = "arith.cmpf"(%a, %b) <{predicate = 4 : i64}> : (f32, f32) -> i1
// GENERIC:         %15 = "arith.cmpf"(%a, %b) <{predicate = 15 : i64}> : (f32, f32) -> i1
func.func @cmpf(%a: f32, %b: f32) {
  %0 = arith.cmpf false, %a, %b : f32
  %1 = arith.cmpf oeq, %a, %b : f32
  %2 = arith.cmpf ogt, %a, %b : f32
  %3 = arith.cmpf oge, %a, %b : f32
  %4 = arith.cmpf olt, %a, %b : f32
  %5 = arith.cmpf ole, %a, %b : f32
  %6 = arith.cmpf one, %a, %b : f32
  %7 = arith.cmpf ord, %a, %b : f32
  %8 = arith.cmpf ueq, %a, %b : f32
  %9 = arith.cmpf ugt, %a, %b : f32
  %10 = arith.cmpf uge, %a, %b : f32
  %11 = arith.cmpf ult, %a, %b : f32
  %12 = arith.cmpf ule, %a, %b : f32
  %13 = arith.cmpf une, %a, %b : f32
  %14 = arith.cmpf uno, %a, %b : f32
  %15 = arith.cmpf true, %a, %b : f32
  func.return
}

// CHECK-LABEL: func.func @binary(%i: index, %j: index, %x: f32, %y: f32) -> (index, f32, i1) {
// CHECK-NEXT:    %0 = arith.floordivsi %i, %j : index
// CHECK-NEXT:    %1 = arith.ceildivsi %0, %j : index
// CHECK-NEXT:    %2 = arith.divui %1, %j : index
// CHECK-NEXT:    %3 = arith.remui %2, %j : index
// CHECK-NEXT:    %4 = arith.shli %3, %j : index
// CHECK-NEXT:    %5 = arith.shrsi %4, %j : index
// CHECK-NEXT:    %6 = arith.shrui %5, %j : index
// CHECK-NEXT:    %7 = arith.maxui %6, %j : index
// CHECK-NEXT:    %8 = arith.minui %7, %j : index
// CHECK-NEXT:    %9 = arith.maxnumf %x, %y : f32
// CHECK-NEXT:    %10 = arith.minnumf %9, %y : f32
// CHECK-NEXT:    %11 = arith.remf %10, %y : f32
// CHECK-NEXT:    %12 = arith.cmpi slt, %8, %i : index
// CHECK-NEXT:    %13 = "arith.select"(%12, %11, %x) : (i1, f32, f32) -> f32
// CHECK-NEXT:    return %8, %13, %12 : index, f32, i1
func.func @binary(%i: index, %j: index, %x: f32, %y: f32) -> (index, f32, i1) {
  %0 = arith.floordivsi %i, %j : index
  %1 = arith.ceildivsi %0, %j : index
  %2 = arith.divui %1, %j : index
  %3 = arith.remui %2, %j : index
  %4 = arith.shli %3, %j : index
  %5 = arith.shrsi %4, %j : index
  %6 = arith.shrui %5, %j : index
  %7 = arith.maxui %6, %j : index
  %8 = arith.minui %7, %j : index
  %9 = arith.maxnumf %x, %y : f32
  %10 = arith.minnumf %9, %y : f32
  %11 = arith.remf %10, %y : f32
  %12 = arith.cmpi slt, %8, %i : index
  %13 = "arith.select"(%12, %11, %x) : (i1, f32, f32) -> f32
  func.return %8, %13, %12 : index, f32, i1
}
