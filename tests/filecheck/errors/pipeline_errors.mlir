// Errors in the pass pipeline point into the pipeline string, with a caret and a hint.
// RUN: not lamina opt %s -p bogus 2>&1 | filecheck %s --check-prefix=UNKNOWN
// RUN: not lamina opt %s -p "canonicalize,cse,nope" 2>&1 | filecheck %s --check-prefix=THIRD
// RUN: not lamina opt %s -p "canonicalize{bogus=1}" 2>&1 | filecheck %s --check-prefix=OPTION
// RUN: not lamina opt %s -p "canonicalize{max-iterations=many}" 2>&1 | filecheck %s --check-prefix=VALUE
// RUN: not lamina opt %s -p "canonicalize{max-iterations=1}" 2>&1 | filecheck %s --check-prefix=FIXPOINT

func.func @f(%x: i32) -> i32 {
  %c = arith.constant 2 : i32
  %d = arith.constant 3 : i32
  %0 = arith.addi %c, %d : i32
  %1 = arith.addi %0, %x : i32
  func.return %1 : i32
}

// UNKNOWN:      <pipeline>:1:1: error: unknown pass 'bogus'
// UNKNOWN-NEXT: bogus
// UNKNOWN-NEXT: ^
// UNKNOWN-NEXT: known passes: canonicalize, combine-ops, convert-layout, cse, dce

// THIRD:      <pipeline>:1:18: error: unknown pass 'nope'
// THIRD-NEXT: canonicalize,cse,nope

// OPTION:      <pipeline>:1:14: error: pass 'canonicalize' has no option 'bogus'
// OPTION-NEXT: canonicalize{bogus=1}
// OPTION:      hint: its options are: max-iterations (an integer), fold (true or false)

// VALUE:      error: option 'max-iterations' of pass 'canonicalize' expects an integer, but got 'many'

// FIXPOINT:      error: rewriting did not converge after 1 iterations
// FIXPOINT:      hint:
// FIXPOINT-NOT:  Traceback
