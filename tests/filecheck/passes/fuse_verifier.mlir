// The verifier's rules for nn.fused groups: block arguments match the operands, the body ends with
// nn.yield of the results' types, nothing is read from outside the group (isolated from above),
// and nn.yield only ends a group.
// RUN: lamina opt %s --split-input-file --verify-diagnostics

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'nn.fused' op has block arguments of types (tensor<2xf32>) but operands of types (tensor<4xf32>); they must match one for one}}
  %r = nn.fused %x : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<2xf32>):
    %e = nn.exp %a : (tensor<2xf32>) -> tensor<2xf32>
    nn.yield %e : tensor<2xf32>
  }
  func.return %r : tensor<4xf32>
}

// -----

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'nn.fused' op yields (tensor<4xi32>) but has results (tensor<4xf32>)}}
  %r = nn.fused %x : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    %e = nn.cast %a : (tensor<4xf32>) -> tensor<4xi32>
    nn.yield %e : tensor<4xi32>
  }
  func.return %r : tensor<4xf32>
}

// -----

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %r = nn.fused %x : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    // expected-error @+1 {{use of %x, which is defined outside an isolated-from-above op}}
    %e = nn.exp %x : (tensor<4xf32>) -> tensor<4xf32>
    nn.yield %e : tensor<4xf32>
  }
  func.return %r : tensor<4xf32>
}

// -----

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'nn.yield' op expects its parent op to be 'nn.fused'}}
  nn.yield %x : tensor<4xf32>
}

// -----

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{'nn.fused' op has a block in region 'body' that ends with 'nn.exp', which is not a terminator}}
  %r = nn.fused %x : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    %e = nn.exp %a : (tensor<4xf32>) -> tensor<4xf32>
  }
  func.return %r : tensor<4xf32>
}
