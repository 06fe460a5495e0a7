// nn.fused, the group op the fuse pass makes (dialects/nn/fused.py): its custom form (operands,
// attributes, function type, then the body with its block arguments, ended by nn.yield) and the
// generic form read back into it; `fuse` leaves existing groups alone (a second run changes nothing).
// RUN: lamina opt %s | filecheck %s
// RUN: lamina opt %s -p fuse | filecheck %s
// RUN: lamina opt %s -p fuse,fuse | filecheck %s

// The generic form prints as the custom form; the group's arguments keep their own names.
// CHECK-LABEL: func.func @generic(%x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:    %r = nn.fused %x, %y attributes {sources = ["exp", "add"]} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> {
// CHECK-NEXT:    ^bb0(%a: tensor<4xf32>, %b: tensor<4xf32>):
// CHECK-NEXT:      %e = nn.exp %a : (tensor<4xf32>) -> tensor<4xf32> loc("exp")
// CHECK-NEXT:      %s = nn.add %e, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> loc("add")
// CHECK-NEXT:      nn.yield %s : tensor<4xf32>
// CHECK-NEXT:    } loc("add")
// CHECK-NEXT:    return %r : tensor<4xf32>
// CHECK-NEXT:  }
func.func @generic(%x: tensor<4xf32>, %y: tensor<4xf32>) -> tensor<4xf32> {
  %r = "nn.fused"(%x, %y) <{sources = ["exp", "add"]}> ({
  ^bb0(%a: tensor<4xf32>, %b: tensor<4xf32>):
    %e = "nn.exp"(%a) : (tensor<4xf32>) -> tensor<4xf32> loc("exp")
    %s = "nn.add"(%e, %b) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> loc("add")
    "nn.yield"(%s) : (tensor<4xf32>) -> ()
  }) : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> loc("add")
  func.return %r : tensor<4xf32>
}

// Two chain groups in a row stay two groups: fuse does not merge nn.fused ops.
// CHECK-LABEL: func.func @two_groups(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
// CHECK-NEXT:    %t = nn.fused %x : (tensor<2x3xf32>) -> tensor<3x2xf32> {
// CHECK-NEXT:    ^bb0(%x_1: tensor<2x3xf32>):
// CHECK-NEXT:      %n = nn.neg %x_1 : (tensor<2x3xf32>) -> tensor<2x3xf32>
// CHECK-NEXT:      %t_1 = nn.transpose %n attributes {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
// CHECK-NEXT:      nn.yield %t_1 : tensor<3x2xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    %r = nn.fused %t : (tensor<3x2xf32>) -> tensor<3x2xf32> {
// CHECK-NEXT:    ^bb0(%t_1: tensor<3x2xf32>):
// CHECK-NEXT:      %e = nn.exp %t_1 : (tensor<3x2xf32>) -> tensor<3x2xf32>
// CHECK-NEXT:      %r_1 = nn.relu %e : (tensor<3x2xf32>) -> tensor<3x2xf32>
// CHECK-NEXT:      nn.yield %r_1 : tensor<3x2xf32>
// CHECK-NEXT:    }
// CHECK-NEXT:    return %r : tensor<3x2xf32>
// CHECK-NEXT:  }
func.func @two_groups(%x: tensor<2x3xf32>) -> tensor<3x2xf32> {
  %t = nn.fused %x : (tensor<2x3xf32>) -> tensor<3x2xf32> {
  ^bb0(%x: tensor<2x3xf32>):
    %n = nn.neg %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
    %t = nn.transpose %n attributes {perm = array<i64: 1, 0>} : (tensor<2x3xf32>) -> tensor<3x2xf32>
    nn.yield %t : tensor<3x2xf32>
  }
  %r = nn.fused %t : (tensor<3x2xf32>) -> tensor<3x2xf32> {
  ^bb0(%t: tensor<3x2xf32>):
    %e = nn.exp %t : (tensor<3x2xf32>) -> tensor<3x2xf32>
    %r = nn.relu %e : (tensor<3x2xf32>) -> tensor<3x2xf32>
    nn.yield %r : tensor<3x2xf32>
  }
  func.return %r : tensor<3x2xf32>
}
