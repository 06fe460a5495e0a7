// Integer and float scalar arithmetic across two functions and a call.
module {
  func.func @square_plus(%a: i32, %b: i32) -> i32 {
    %0 = arith.muli %a, %a : i32
    %zero = arith.constant 0 : i32
    %1 = arith.addi %0, %zero : i32
    %2 = arith.addi %1, %b : i32
    func.return %2 : i32
  }
  func.func @main(%x: i32) -> (i32, i1) {
    %c3 = arith.constant 3 : i32
    %c4 = arith.constant 4 : i32
    %k = arith.addi %c3, %c4 : i32
    %r = func.call @square_plus(%x, %k) : (i32, i32) -> i32
    %lt = arith.cmpi slt, %r, %k : i32
    func.return %r, %lt : i32, i1
  }
}
