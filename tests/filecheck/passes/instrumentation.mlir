// Pass instrumentation, as mlir-opt spells it: IR dumps before/after passes go to stderr with
// `// -----// IR Dump After NAME (arg) //----- //` headers; --timing prints a wall-time table and
// --statistics a per-pass count of what fired. The result goes to -o, so stderr is all that the
// pipe to filecheck sees.
// RUN: lamina opt %s -p canonicalize,cse,dce -o %t --print-ir-after-all 2>&1 | filecheck %s --check-prefix=AFTER-ALL
// RUN: filecheck %s --input-file %t --check-prefix=RESULT
// RUN: lamina opt %s -p canonicalize,cse,dce -o %t --print-ir-before=cse 2>&1 | filecheck %s --check-prefix=BEFORE-CSE
// RUN: lamina opt %s -p canonicalize,cse,dce -o %t --print-ir-after=dce --print-ir-before=canonicalize 2>&1 | filecheck %s --check-prefix=SELECTED
// RUN: lamina opt %s -p canonicalize,cse,dce -o %t --print-ir-after-change 2>&1 | filecheck %s --check-prefix=CHANGE
// RUN: lamina opt %s -p canonicalize,cse,dce -o %t --timing 2>&1 | filecheck %s --check-prefix=TIMING
// RUN: lamina opt %s -p canonicalize,cse,dce -o %t --statistics 2>&1 | filecheck %s --check-prefix=STATS

func.func @f(%x: i32, %y: i32) -> i32 {
  %zero = arith.constant 0 : i32
  %0 = arith.addi %x, %zero : i32
  %1 = arith.muli %0, %y : i32
  %2 = arith.muli %x, %y : i32
  %3 = arith.addi %1, %2 : i32
  func.return %3 : i32
}

// canonicalize folds x + 0 -> x, which makes %1 and %2 the same expression for cse.
// RESULT:      func.func @f(%x: i32, %y: i32) -> i32 {
// RESULT-NEXT:   %0 = arith.muli %x, %y : i32
// RESULT-NEXT:   %1 = arith.addi %0, %0 : i32
// RESULT-NEXT:   return %1 : i32
// RESULT-NEXT: }

// AFTER-ALL:      // -----// IR Dump After Canonicalize (canonicalize) //----- //
// AFTER-ALL-NEXT: module {
// AFTER-ALL-NEXT:   func.func @f(%x: i32, %y: i32) -> i32 {
// AFTER-ALL-NEXT:     %0 = arith.muli %x, %y : i32
// AFTER-ALL-NEXT:     %1 = arith.muli %x, %y : i32
// AFTER-ALL-NEXT:     %2 = arith.addi %0, %1 : i32
// AFTER-ALL:      // -----// IR Dump After CSE (cse) //----- //
// AFTER-ALL-NEXT: module {
// AFTER-ALL-NEXT:   func.func @f(%x: i32, %y: i32) -> i32 {
// AFTER-ALL-NEXT:     %0 = arith.muli %x, %y : i32
// AFTER-ALL-NEXT:     %1 = arith.addi %0, %0 : i32
// AFTER-ALL:      // -----// IR Dump After DCE (dce) //----- //
// AFTER-ALL-NEXT: module {
// AFTER-ALL-NOT:  IR Dump

// BEFORE-CSE-NOT:  IR Dump Before Canonicalize
// BEFORE-CSE:      // -----// IR Dump Before CSE (cse) //----- //
// BEFORE-CSE-NEXT: module {
// BEFORE-CSE-NEXT:   func.func @f(%x: i32, %y: i32) -> i32 {
// BEFORE-CSE-NEXT:     %0 = arith.muli %x, %y : i32
// BEFORE-CSE-NEXT:     %1 = arith.muli %x, %y : i32
// BEFORE-CSE-NOT:  IR Dump

// SELECTED:      // -----// IR Dump Before Canonicalize (canonicalize) //----- //
// SELECTED-NEXT: module {
// SELECTED-NEXT:   func.func @f(%x: i32, %y: i32) -> i32 {
// SELECTED-NEXT:     %zero = arith.constant 0 : i32
// SELECTED-NOT:  IR Dump After CSE
// SELECTED:      // -----// IR Dump After DCE (dce) //----- //
// SELECTED-NOT:  IR Dump

// dce finds nothing left to erase, so there is no dump after it.
// CHANGE:      // -----// IR Dump After Canonicalize (canonicalize) //----- //
// CHANGE:      // -----// IR Dump After CSE (cse) //----- //
// CHANGE-NOT:  IR Dump After DCE

// TIMING:      ... Execution time report ...
// TIMING:      Total Execution Time: {{[0-9.]+}} seconds
// TIMING:      ----Wall Time----  ----Name----
// TIMING-NEXT: {{[0-9.]+}} ({{ *[0-9.]+}}%)  canonicalize
// TIMING-NEXT: {{[0-9.]+}} ({{ *[0-9.]+}}%)  cse
// TIMING-NEXT: {{[0-9.]+}} ({{ *[0-9.]+}}%)  dce
// TIMING:      {{[0-9.]+}} (100.0%)  Total

// STATS:      ... Pass statistics report ...
// STATS:      Canonicalize (canonicalize)
// STATS:      (S) {{ *}}1 fold
// STATS:      CSE (cse)
// STATS-NEXT: (S) {{ *}}1 arith.muli merged
// STATS:      DCE (dce)
// STATS-NEXT: (nothing recorded)
