"""lamina's model zoo: real ONNX models with random weights, written without downloads.

Each model is one function returning an `onnx.ModelProto` built with `onnx.helper` and
`onnx.numpy_helper` (no torch). Weights come from a fixed seed, so every run writes the same
bytes. All models use opset 17 (LayerNormalization needs it), the default domain only, and are
checked with `onnx.checker.check_model(full_check=True)` and shape-inferred, so every
intermediate tensor has a `value_info` entry.

    python examples/models/zoo.py                      # every model into examples/models/
    python examples/models/zoo.py --out /tmp/zoo mlp   # just mlp.onnx into /tmp/zoo
    python examples/models/zoo.py --classic            # the seven classic ImageNet nets
    python examples/models/zoo.py resnet50             # one classic net, by name

| model               | input       | output (name)              | exercises                              |
|---------------------|-------------|----------------------------|----------------------------------------|
| `resnet18`          | 1x3x224x224 | 1x1000 (`logits`)          | Conv+BN+Relu, MaxPool, Add             |
| `mobilenetv2`       | 1x3x224x224 | 1x1000 (`logits`)          | depthwise Conv, Clip as ReLU6          |
| `alexnet` (1)       | 1x3x224x224 | 1x1000 (`logits`)          | group=2 Conv, LRN, 11x11/4 Conv, Gemm  |
| `shufflenet`        | 1x3x224x224 | 1x1000 (`logits`)          | group=3 1x1 Conv, channel shuffle (2)  |
| `squeezenet`        | 1x3x224x224 | 1x1000 (`logits`)          | fire Concat, MaxPool ceil_mode, no BN  |
| `mlp`               | 1x784       | 1x10 (`probs`)             | MatMul+Add+Relu, Softmax               |
| `transformer_block` | 1x128x256   | 1x128x256 (`output`)       | attention, LayerNorm, Erf GELU         |
| `tiny_yolo`         | 1x3x128x128 | 1x75x16x16 (`predictions`) | Focus Slices, LeakyRelu, Resize        |
| `glue`              | 1x16x4x4    | 1x10 (`logits`)            | Shape arithmetic, Constant(s)          |

(1) Not the paper's classifier: its fully connected layers are 9216 -> 512 -> 512 -> 1000, 1/8
    of the paper's 4096 width, so the file is ~31 MB instead of ~240 MB (the 4096-wide layers
    hold 58M of AlexNet's 61M parameters; CI writes every model and runs it many times). The
    convolutions are the paper's (96, 256, 384, 384, 256 channels; conv2/4/5 with group=2).
(2) ShuffleNet v1, g=3, 1x, with the paper's 4/8/4 units per stage: Reshape -> Transpose ->
    Reshape as PyTorch exports the shuffle (lamina's -O3 turns it into nn.channel_shuffle),
    depthwise 3x3, AveragePool 3x3/2 + Concat in the downsampling units.

The classic set, written only when named or with `--classic` (CLASSIC_MODELS: at their papers'
sizes they are too big for every test run; `lamina bench --models classic` runs them with
alexnet, squeezenet and shufflenet, CLASSIC_SET, and prints the geometric mean of lamina/ort):

| model               | input       | output (name)              | exercises                              |
|---------------------|-------------|----------------------------|----------------------------------------|
| `vgg19`             | 1x3x224x224 | 1x1000 (`logits`)          | 16 3x3 Convs, 4096-wide Gemms, 548 MiB |
| `resnet50`          | 1x3x224x224 | 1x1000 (`logits`)          | bottleneck 1x1/3x3/1x1, BN, Add        |
| `inception_v1`      | 1x3x224x224 | 1x1000 (`logits`)          | 4-branch Concat, 5x5 Conv, ceil pool   |
| `densenet121`       | 1x3x224x224 | 1x1000 (`logits`)          | BN+Relu before Conv, Concats, AvgPool  |

Node names follow the PyTorch modules they imitate (`layer1.0.conv1`, `features.3.conv.1.bn`).
A node's output tensor has the node's name (graph outputs excepted) and its parameters are
`<node>.weight`, `<node>.bias`, ...

`.onnx` files are generated, never committed.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # the IR version that came with opset 17 (onnx 1.12): readable by most tools
INT64_MAX = np.iinfo(np.int64).max  # what PyTorch exporters write for an open-ended Slice


class GraphBuilder:
    """Collects the nodes and initializers of one graph.

    Every helper takes the name of its input tensor(s) and returns the name of its output, so a
    model reads as a chain of calls: `x = g.relu(g.conv(x, "conv1", 3, 64, 7, 2), "relu")`.
    A node's output tensor has the node's name (until `build` renames the graph outputs);
    node names must be unique.
    """

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: dict[str, onnx.TensorProto] = {}
        self._node_names: set[str] = set()

    # --- tensors -------------------------------------------------------------------------------

    def const(self, name: str, value, dtype=np.float32) -> str:
        """An initializer; adding the same name twice reuses the first one (shared constants)."""
        if name not in self.initializers:
            self.initializers[name] = numpy_helper.from_array(np.asarray(value, dtype=dtype), name)
        return name

    def ints(self, name: str, values) -> str:
        """A 1-D int64 initializer (shapes, axes, Slice bounds)."""
        return self.const(name, values, dtype=np.int64)

    def randn(self, name: str, shape, std: float, mean: float = 0.0) -> str:
        """A float32 initializer drawn from N(mean, std^2)."""
        return self.const(name, mean + std * self.rng.standard_normal(shape))

    def uniform(self, name: str, shape, low: float, high: float) -> str:
        """A float32 initializer drawn from U(low, high)."""
        return self.const(name, self.rng.uniform(low, high, size=shape))

    # --- nodes ---------------------------------------------------------------------------------

    def op(self, op_type: str, inputs: list[str], name: str, **attrs) -> str:
        """One node with a single output tensor named `name`; returns that name."""
        assert name not in self._node_names, f"duplicate node name {name!r}"
        self._node_names.add(name)
        self.nodes.append(helper.make_node(op_type, inputs, [name], name=name, **attrs))
        return name

    def conv(self, x: str, name: str, cin: int, cout: int, k: int, stride: int = 1,
             groups: int = 1, bias: bool = False, pad: int | None = None) -> str:
        """Conv2d with padding `pad` on every side ('same'-style k//2 unless given);
        He-initialised weight [cout, cin/groups, k, k]."""
        fan_in = cin // groups * k * k
        inputs = [x, self.randn(f"{name}.weight", (cout, cin // groups, k, k),
                                std=math.sqrt(2.0 / fan_in))]
        if bias:
            inputs.append(self.randn(f"{name}.bias", (cout,), std=0.01))
        return self.op("Conv", inputs, name, kernel_shape=[k, k], strides=[stride, stride],
                       pads=[k // 2 if pad is None else pad] * 4, group=groups)

    def batch_norm(self, x: str, name: str, c: int, gamma: tuple[float, float] = (0.8, 1.2)) -> str:
        """Inference-mode BatchNormalization with plausible statistics.

        scale ~ U(gamma), bias and running mean ~ N(0, 0.05^2), running variance ~ U(0.8, 1.2):
        variances are positive and near 1, so activations keep their scale through the network.
        """
        inputs = [x,
                  self.uniform(f"{name}.weight", (c,), *gamma),
                  self.randn(f"{name}.bias", (c,), std=0.05),
                  self.randn(f"{name}.running_mean", (c,), std=0.05),
                  self.uniform(f"{name}.running_var", (c,), 0.8, 1.2)]
        return self.op("BatchNormalization", inputs, name, epsilon=1e-5, momentum=0.9)

    def relu(self, x: str, name: str) -> str:
        return self.op("Relu", [x], name)

    def relu6(self, x: str, name: str) -> str:
        """ReLU6 as PyTorch exports it: Clip with min/max as (shared, scalar) initializer inputs."""
        return self.op("Clip", [x, self.const("relu6.min", 0.0), self.const("relu6.max", 6.0)],
                       name)

    def leaky_relu(self, x: str, name: str, alpha: float = 0.1) -> str:
        return self.op("LeakyRelu", [x], name, alpha=alpha)

    def conv_bn_act(self, x: str, prefix: str, cin: int, cout: int, k: int, stride: int = 1,
                    groups: int = 1, act: str | None = "relu") -> str:
        """Conv -> BatchNormalization -> activation, named `<prefix>.conv/.bn/.act`.

        act: "relu", "relu6", "leaky_relu" or None (a linear bottleneck).
        """
        x = self.conv(x, f"{prefix}.conv", cin, cout, k, stride, groups)
        x = self.batch_norm(x, f"{prefix}.bn", cout)
        if act is None:
            return x
        activation = {"relu": self.relu, "relu6": self.relu6, "leaky_relu": self.leaky_relu}[act]
        return activation(x, f"{prefix}.act")

    def add(self, a: str, b: str, name: str) -> str:
        return self.op("Add", [a, b], name)

    def mul(self, a: str, b: str, name: str) -> str:
        return self.op("Mul", [a, b], name)

    def linear(self, x: str, name: str, cin: int, cout: int) -> str:
        """x @ W + b as MatMul then Add (nodes `<name>.matmul`, `<name>.add`; W is [cin, cout])."""
        w = self.randn(f"{name}.weight", (cin, cout), std=1.0 / math.sqrt(cin))
        b = self.randn(f"{name}.bias", (cout,), std=0.02)
        return self.add(self.op("MatMul", [x, w], f"{name}.matmul"), b, f"{name}.add")

    def gemm(self, x: str, name: str, cin: int, cout: int) -> str:
        """A fully connected layer as one Gemm with transB=1 (W is [cout, cin], as in PyTorch)."""
        w = self.randn(f"{name}.weight", (cout, cin), std=1.0 / math.sqrt(cin))
        b = self.randn(f"{name}.bias", (cout,), std=0.02)
        return self.op("Gemm", [x, w, b], name, transB=1)

    def layer_norm(self, x: str, name: str, c: int) -> str:
        """LayerNormalization over the last axis (opset 17)."""
        scale = self.randn(f"{name}.weight", (c,), std=0.05, mean=1.0)
        bias = self.randn(f"{name}.bias", (c,), std=0.02)
        return self.op("LayerNormalization", [x, scale, bias], name, axis=-1, epsilon=1e-5)

    # --- the model -----------------------------------------------------------------------------

    def build(self, name: str, doc: str, inputs: dict[str, list[int]],
              outputs: dict[str, tuple[str, list[int]]]) -> onnx.ModelProto:
        """Wraps the graph in an opset-17 model, checks it and runs shape inference.

        inputs: graph input name -> shape. outputs: graph output name -> (the tensor it is,
        its shape); the producing node's output is renamed, so `{"logits": ("fc", [1, 1000])}`
        makes node `fc` write `logits`. The declared shapes are checked against the inferred
        ones (full_check), so a wrong shape in a model function fails here.
        """
        for out_name, (tensor, _) in outputs.items():
            producer = next(n for n in self.nodes if n.output[0] == tensor)
            producer.output[0] = out_name
        f32 = TensorProto.FLOAT
        graph = helper.make_graph(
            self.nodes, name,
            inputs=[helper.make_tensor_value_info(n, f32, s) for n, s in inputs.items()],
            outputs=[helper.make_tensor_value_info(n, f32, s) for n, (_, s) in outputs.items()],
            initializer=list(self.initializers.values()), doc_string=doc)
        model = helper.make_model(graph, producer_name="lamina-zoo", ir_version=IR_VERSION,
                                  opset_imports=[helper.make_opsetid("", OPSET)])
        model.doc_string = doc
        onnx.checker.check_model(model, full_check=True)
        return onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True,
                                                 data_prop=True)


# --- ResNet-18 -------------------------------------------------------------------------------

def _basic_block(g: GraphBuilder, x: str, name: str, cin: int, cout: int, stride: int) -> str:
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).

    The shortcut is x itself, or a strided 1x1 conv + bn when the shape changes.
    """
    out = g.conv(x, f"{name}.conv1", cin, cout, 3, stride)
    out = g.relu(g.batch_norm(out, f"{name}.bn1", cout), f"{name}.relu1")
    out = g.conv(out, f"{name}.conv2", cout, cout, 3)
    # A small scale on the branch's last BN keeps the residual sum from doubling per block
    # (trained ResNets look like this too; "zero-init residual" is the extreme).
    out = g.batch_norm(out, f"{name}.bn2", cout, gamma=(0.2, 0.5))
    if stride != 1 or cin != cout:
        x = g.conv(x, f"{name}.downsample.0", cin, cout, 1, stride)
        x = g.batch_norm(x, f"{name}.downsample.1", cout)
    return g.relu(g.add(out, x, f"{name}.add"), f"{name}.relu2")


def resnet18(seed: int = 0) -> onnx.ModelProto:
    """ImageNet ResNet-18 (He et al. 2015, torchvision layout): 1x3x224x224 -> 1x1000 logits.

    conv1 7x7/2 + bn + relu, maxpool 3x3/2, four stages of two basic blocks (64, 128, 256, 512
    channels; stages 2-4 downsample with a strided 1x1 conv shortcut), global average pool,
    flatten, fully connected layer.

    Ops: Conv (no bias), BatchNormalization, Relu, MaxPool, Add, GlobalAveragePool, Flatten, Gemm.
    """
    g = GraphBuilder(seed)
    x = g.conv("input", "conv1", 3, 64, 7, stride=2)
    x = g.relu(g.batch_norm(x, "bn1", 64), "relu")
    x = g.op("MaxPool", [x], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = 64
    for stage, cout in enumerate([64, 128, 256, 512], start=1):
        for block in range(2):
            stride = 2 if stage > 1 and block == 0 else 1
            x = _basic_block(g, x, f"layer{stage}.{block}", cin, cout, stride)
            cin = cout
    x = g.op("GlobalAveragePool", [x], "avgpool")
    x = g.op("Flatten", [x], "flatten", axis=1)
    x = g.gemm(x, "fc", 512, 1000)
    return g.build("resnet18", resnet18.__doc__, {"input": [1, 3, 224, 224]},
                   {"logits": (x, [1, 1000])})


# --- MobileNetV2 -----------------------------------------------------------------------------

# (expansion t, output channels c, repeats n, first stride s), from the MobileNetV2 paper, table 2
_MOBILENETV2_STAGES = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def _inverted_residual(g: GraphBuilder, x: str, name: str, cin: int, cout: int, stride: int,
                       expand: int) -> str:
    """1x1 expand (skipped when t=1) -> 3x3 depthwise -> 1x1 linear project [-> + x]."""
    hidden = cin * expand
    h, i = x, 0
    if expand != 1:
        h = g.conv_bn_act(h, f"{name}.conv.{i}", cin, hidden, 1, act="relu6")
        i += 1
    h = g.conv_bn_act(h, f"{name}.conv.{i}", hidden, hidden, 3, stride, groups=hidden, act="relu6")
    h = g.conv_bn_act(h, f"{name}.conv.{i + 1}", hidden, cout, 1, act=None)
    if stride == 1 and cin == cout:
        h = g.add(h, x, f"{name}.add")
    return h


def mobilenetv2(seed: int = 0) -> onnx.ModelProto:
    """ImageNet MobileNetV2 (Sandler et al. 2018, width 1.0): 1x3x224x224 -> 1x1000 logits.

    A 3x3/2 stem, 17 inverted-residual blocks (pointwise expand, depthwise 3x3 with group = C,
    linear pointwise projection, residual Add when shapes allow), a 1x1 conv to 1280 channels,
    global average pool, Reshape to [-1, 1280] through a shape initializer, and a Gemm.

    Ops: Conv (incl. depthwise, group=C), BatchNormalization, Clip (ReLU6, min/max given as
    initializer inputs), Add, GlobalAveragePool, Reshape, Gemm.
    """
    g = GraphBuilder(seed)
    x = g.conv_bn_act("input", "features.0", 3, 32, 3, stride=2, act="relu6")
    cin, index = 32, 1
    for expand, cout, repeats, first_stride in _MOBILENETV2_STAGES:
        for r in range(repeats):
            stride = first_stride if r == 0 else 1
            x = _inverted_residual(g, x, f"features.{index}", cin, cout, stride, expand)
            cin, index = cout, index + 1
    x = g.conv_bn_act(x, f"features.{index}", cin, 1280, 1, act="relu6")
    x = g.op("GlobalAveragePool", [x], "avgpool")
    x = g.op("Reshape", [x, g.ints("flatten.shape", [-1, 1280])], "flatten")
    x = g.gemm(x, "classifier.1", 1280, 1000)  # classifier.0 is Dropout, absent at inference
    return g.build("mobilenetv2", mobilenetv2.__doc__, {"input": [1, 3, 224, 224]},
                   {"logits": (x, [1, 1000])})


# --- AlexNet ---------------------------------------------------------------------------------

def alexnet(seed: int = 0, hidden: int = 512) -> onnx.ModelProto:
    """ImageNet AlexNet (Krizhevsky et al. 2012) with grouped convs: 1x3x224x224 -> 1x1000 logits.

    The two-GPU net as one graph, with the paper's widths and grouping: conv1 11x11/4 96 (pad 2,
    as torchvision) -> ReLU -> LRN (size 5, alpha 1e-4, beta 0.75, bias 2) -> MaxPool 3x3/2;
    conv2 5x5 256 group=2 -> ReLU -> LRN -> MaxPool; conv3 3x3 384 (ungrouped: the layer that
    talks across GPUs); conv4 3x3 384 group=2; conv5 3x3 256 group=2 -> MaxPool to 256x6x6
    (no AdaptiveAvgPool: at 224 it is the identity). Every conv has a bias and a ReLU. Flatten
    to 9216, then the classifier Gemm -> ReLU -> Gemm -> ReLU -> Gemm (Dropout is absent at
    inference) at 1/8 of the paper's width, 9216 -> 512 -> 512 -> 1000: the 4096-wide layers
    hold 58M of the paper's 61M parameters (230 MB); these hold 5.5M (7.8M in all, ~31 MB).

    Ops: Conv (with bias, group=2), Relu, LRN, MaxPool (no padding), Flatten, Gemm.
    """
    g = GraphBuilder(seed)

    def lrn(t: str, name: str) -> str:
        return g.op("LRN", [t], name, size=5, alpha=1e-4, beta=0.75, bias=2.0)

    def maxpool(t: str, name: str) -> str:  # overlapping pooling, no padding
        return g.op("MaxPool", [t], name, kernel_shape=[3, 3], strides=[2, 2])

    x = g.conv("input", "features.0", 3, 96, 11, stride=4, bias=True, pad=2)       # 96 x 55 x 55
    x = maxpool(lrn(g.relu(x, "features.1"), "features.2"), "features.3")         # 96 x 27 x 27
    x = g.conv(x, "features.4", 96, 256, 5, groups=2, bias=True)                  # 256 x 27 x 27
    x = maxpool(lrn(g.relu(x, "features.5"), "features.6"), "features.7")         # 256 x 13 x 13
    x = g.relu(g.conv(x, "features.8", 256, 384, 3, bias=True), "features.9")
    x = g.relu(g.conv(x, "features.10", 384, 384, 3, groups=2, bias=True), "features.11")
    x = g.relu(g.conv(x, "features.12", 384, 256, 3, groups=2, bias=True), "features.13")
    x = maxpool(x, "features.14")                                                 # 256 x 6 x 6
    x = g.op("Flatten", [x], "flatten", axis=1)                                   # 9216
    x = g.relu(g.gemm(x, "classifier.1", 256 * 6 * 6, hidden), "classifier.2")
    x = g.relu(g.gemm(x, "classifier.4", hidden, hidden), "classifier.5")
    x = g.gemm(x, "classifier.6", hidden, 1000)
    return g.build("alexnet", alexnet.__doc__, {"input": [1, 3, 224, 224]},
                   {"logits": (x, [1, 1000])})


# --- ShuffleNet v1 ---------------------------------------------------------------------------

# (output channels, units) per stage for g = 3, from the ShuffleNet paper's table 1; the first
# unit of a stage has stride 2. The paper has 4, 8 and 4 units.
_SHUFFLENET_STAGES = [(240, 4), (480, 8), (960, 4)]


def _channel_shuffle(g: GraphBuilder, x: str, name: str, c: int, hw: int, groups: int) -> str:
    """x.view(1, g, C/g, H, W).transpose(1, 2).reshape(1, C, H, W), as PyTorch exports it."""
    x = g.op("Reshape", [x, g.ints(f"shuffle.{c}x{hw}.grouped", [1, groups, c // groups, hw, hw])],
             f"{name}.reshape")
    x = g.op("Transpose", [x], f"{name}.transpose", perm=[0, 2, 1, 3, 4])
    return g.op("Reshape", [x, g.ints(f"shuffle.{c}x{hw}.flat", [1, c, hw, hw])],
                f"{name}.reshape_back")


def _shuffle_unit(g: GraphBuilder, x: str, name: str, cin: int, cout: int, hw: int, stride: int,
                  groups: int, first_group: bool) -> str:
    """ShuffleNet unit (the paper's figure 2 b/c; names from megvii's ShuffleNet-Series).

    Grouped 1x1 conv + BN + ReLU (ungrouped when first_group: 24 input channels), channel
    shuffle, depthwise 3x3 (stride s) + BN, grouped 1x1 conv + BN. Stride 1: relu(branch + x);
    stride 2: relu(concat(avgpool3x3/2(x), branch)), the branch giving cout - cin channels.
    """
    mid = cout // 4
    out = cout - cin if stride == 2 else cout
    h = g.conv(x, f"{name}.branch_main_1.0", cin, mid, 1, groups=1 if first_group else groups)
    h = g.relu(g.batch_norm(h, f"{name}.branch_main_1.1", mid), f"{name}.branch_main_1.2")
    h = _channel_shuffle(g, h, f"{name}.channel_shuffle", mid, hw, groups)
    h = g.conv(h, f"{name}.branch_main_1.3", mid, mid, 3, stride, groups=mid)
    h = g.batch_norm(h, f"{name}.branch_main_1.4", mid)
    h = g.conv(h, f"{name}.branch_main_2.0", mid, out, 1, groups=groups)
    if stride == 1:
        # A small scale on the branch's last BN keeps the residual sum from growing per unit
        # (ResNet-18's (0.2, 0.5) would let 12 such units grow the activations 15x).
        h = g.batch_norm(h, f"{name}.branch_main_2.1", out, gamma=(0.1, 0.3))
        return g.relu(g.add(h, x, f"{name}.add"), f"{name}.relu")
    h = g.batch_norm(h, f"{name}.branch_main_2.1", out)
    proj = g.op("AveragePool", [x], f"{name}.branch_proj", kernel_shape=[3, 3], strides=[2, 2],
                pads=[1, 1, 1, 1], count_include_pad=1)
    return g.relu(g.op("Concat", [proj, h], f"{name}.concat", axis=1), f"{name}.relu")


def shufflenet(seed: int = 0, groups: int = 3) -> onnx.ModelProto:
    """ImageNet ShuffleNet v1 (Zhang et al. 2017, g=3, 1.0x): 1x3x224x224 -> 1x1000 logits.

    A 3x3/2 stem conv to 24 channels + BN + ReLU, MaxPool 3x3/2, three stages of ShuffleNet
    units (240, 480, 960 channels; 4, 8, 4 units, the first of each with stride 2; bottlenecks
    of a quarter of the stage's width), global average pool, flatten, a fully connected layer.
    Each channel shuffle is Reshape [1, 3, C/3, H, W] -> Transpose (0, 2, 1, 3, 4) -> Reshape
    back, with the shapes as initializers.

    Ops: Conv (grouped 1x1 with group=3, depthwise 3x3), BatchNormalization, Relu, MaxPool,
    Reshape, Transpose, Add, AveragePool (pad 1, count_include_pad=1), Concat,
    GlobalAveragePool, Flatten, Gemm.
    """
    g = GraphBuilder(seed)
    x = g.conv_bn_act("input", "first_conv", 3, 24, 3, stride=2)                # 24 x 112 x 112
    x = g.op("MaxPool", [x], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin, hw, index = 24, 56, 0
    for cout, units in _SHUFFLENET_STAGES:
        for unit in range(units):
            stride = 2 if unit == 0 else 1
            x = _shuffle_unit(g, x, f"features.{index}", cin, cout, hw, stride, groups,
                              first_group=index == 0)
            cin, hw, index = cout, hw // stride, index + 1
    x = g.op("GlobalAveragePool", [x], "globalpool")
    x = g.op("Flatten", [x], "flatten", axis=1)
    x = g.gemm(x, "classifier.0", cin, 1000)
    return g.build("shufflenet", shufflenet.__doc__, {"input": [1, 3, 224, 224]},
                   {"logits": (x, [1, 1000])})


# --- SqueezeNet 1.1 --------------------------------------------------------------------------

# (squeeze, expand 1x1 = expand 3x3) per fire module, from torchvision's squeezenet1_1
_SQUEEZENET_FIRES = [(16, 64), (16, 64), None, (32, 128), (32, 128), None,
                     (48, 192), (48, 192), (64, 256), (64, 256)]   # None: MaxPool 3x3/2


def _fire(g: GraphBuilder, x: str, name: str, cin: int, squeeze: int, expand: int) -> str:
    """relu(squeeze 1x1) -> concat(relu(expand 1x1), relu(expand 3x3, pad 1)) on channels."""
    s = g.relu(g.conv(x, f"{name}.squeeze", cin, squeeze, 1, bias=True),
               f"{name}.squeeze_activation")
    e1 = g.relu(g.conv(s, f"{name}.expand1x1", squeeze, expand, 1, bias=True),
                f"{name}.expand1x1_activation")
    e3 = g.relu(g.conv(s, f"{name}.expand3x3", squeeze, expand, 3, bias=True),
                f"{name}.expand3x3_activation")
    return g.op("Concat", [e1, e3], f"{name}.cat", axis=1)


def squeezenet(seed: int = 0) -> onnx.ModelProto:
    """ImageNet SqueezeNet 1.1 (Iandola et al. 2016, torchvision layout): 1x3x224x224 -> 1x1000.

    conv1 3x3/2 64 (no padding) + ReLU, MaxPool 3x3/2 (ceil_mode=1, as exported), fire2-3,
    MaxPool, fire4-5, MaxPool, fire6-9 (squeeze 16/16/32/32/48/48/64/64, expands 4x that each),
    then the classifier: a 1x1 conv to 1000 channels + ReLU, global average pool, Flatten.
    All convs have biases.

    Ops: Conv (with bias, 1x1 and 3x3), Relu, MaxPool (ceil_mode), Concat, GlobalAveragePool,
    Flatten.
    """
    g = GraphBuilder(seed)
    x = g.relu(g.conv("input", "features.0", 3, 64, 3, stride=2, bias=True, pad=0),
               "features.1")                                                    # 64 x 111 x 111
    x = g.op("MaxPool", [x], "features.2", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    cin = 64
    for index, fire in enumerate(_SQUEEZENET_FIRES, start=3):
        if fire is None:
            x = g.op("MaxPool", [x], f"features.{index}", kernel_shape=[3, 3], strides=[2, 2],
                     ceil_mode=1)
            continue
        squeeze, expand = fire
        x = _fire(g, x, f"features.{index}", cin, squeeze, expand)
        cin = 2 * expand                                                        # 512 x 13 x 13
    x = g.relu(g.conv(x, "classifier.1", cin, 1000, 1, bias=True), "classifier.2")
    x = g.op("GlobalAveragePool", [x], "classifier.3")
    x = g.op("Flatten", [x], "flatten", axis=1)
    return g.build("squeezenet", squeezenet.__doc__, {"input": [1, 3, 224, 224]},
                   {"logits": (x, [1, 1000])})


# --- MLP -------------------------------------------------------------------------------------

def mlp(seed: int = 0) -> onnx.ModelProto:
    """A three-layer perceptron for MNIST: 1x784 -> 256 -> 128 -> 10 class probabilities.

    Each layer is MatMul + Add (bias); Relu between layers, Softmax over the classes at the end.

    Ops: MatMul, Add, Relu, Softmax.
    """
    g = GraphBuilder(seed)
    x = g.relu(g.linear("input", "fc1", 784, 256), "relu1")
    x = g.relu(g.linear(x, "fc2", 256, 128), "relu2")
    x = g.linear(x, "fc3", 128, 10)
    x = g.op("Softmax", [x], "softmax", axis=-1)
    return g.build("mlp", mlp.__doc__, {"input": [1, 784]}, {"probs": (x, [1, 10])})


# --- Transformer encoder block ---------------------------------------------------------------

def transformer_block(seed: int = 0, seq: int = 128, hidden: int = 256, heads: int = 4,
                      ffn: int = 1024) -> onnx.ModelProto:
    """One post-norm Transformer encoder block (BERT layout): 1x128x256 -> 1x128x256.

    Self-attention with 4 heads of 64: Q/K/V projections (MatMul + Add), Reshape to
    [1, 128, 4, 64] and Transpose to [1, 4, 128, 64]; K^T comes from a second Transpose
    (perm 0,1,3,2) as exporters emit `k.transpose(-2, -1)` -- a transpose pair for a folding
    pass. Scores = Q K^T / sqrt(64), Softmax, times V, Transpose/Reshape back to [1, 128, 256],
    output projection, residual Add, LayerNormalization. Then a 256 -> 1024 -> 256 feed-forward
    with exact GELU written out as 0.5 * x * (1 + erf(x / sqrt(2))), a second residual Add and
    LayerNormalization.

    Ops: MatMul, Add, Reshape, Transpose, Div, Softmax, LayerNormalization, Erf, Mul.
    """
    g = GraphBuilder(seed)
    head_dim = hidden // heads
    x = "input"

    def split_heads(t: str, name: str) -> str:  # [1, seq, hidden] -> [1, heads, seq, head_dim]
        t = g.op("Reshape", [t, g.ints("attention.heads_shape", [1, seq, heads, head_dim])],
                 f"{name}.reshape")
        return g.op("Transpose", [t], f"{name}.transpose", perm=[0, 2, 1, 3])

    q = split_heads(g.linear(x, "attention.query", hidden, hidden), "attention.query")
    k = split_heads(g.linear(x, "attention.key", hidden, hidden), "attention.key")
    v = split_heads(g.linear(x, "attention.value", hidden, hidden), "attention.value")
    k_t = g.op("Transpose", [k], "attention.key.transpose_last", perm=[0, 1, 3, 2])
    scores = g.op("MatMul", [q, k_t], "attention.scores")
    scores = g.op("Div", [scores, g.const("attention.sqrt_head_dim", math.sqrt(head_dim))],
                  "attention.scale")
    probs = g.op("Softmax", [scores], "attention.softmax", axis=-1)
    ctx = g.op("MatMul", [probs, v], "attention.context")
    ctx = g.op("Transpose", [ctx], "attention.context.transpose", perm=[0, 2, 1, 3])
    ctx = g.op("Reshape", [ctx, g.ints("attention.merged_shape", [1, seq, hidden])],
               "attention.context.reshape")
    attn = g.linear(ctx, "attention.output", hidden, hidden)
    x = g.layer_norm(g.add(attn, x, "attention.residual"), "attention.norm", hidden)

    h = g.linear(x, "ffn.fc1", hidden, ffn)
    erf = g.op("Erf", [g.op("Div", [h, g.const("gelu.sqrt2", math.sqrt(2.0))], "ffn.gelu.div")],
               "ffn.gelu.erf")
    gate = g.op("Add", [erf, g.const("gelu.one", 1.0)], "ffn.gelu.add")
    h = g.mul(g.mul(h, gate, "ffn.gelu.mul"), g.const("gelu.half", 0.5), "ffn.gelu.mul_half")
    h = g.linear(h, "ffn.fc2", ffn, hidden)
    x = g.layer_norm(g.add(h, x, "ffn.residual"), "ffn.norm", hidden)
    return g.build("transformer_block", transformer_block.__doc__, {"input": [1, seq, hidden]},
                   {"output": (x, [1, seq, hidden])})


# --- tiny YOLO -------------------------------------------------------------------------------

def tiny_yolo(seed: int = 0, num_classes: int = 20, anchors: int = 3) -> onnx.ModelProto:
    """A small YOLOv5-style detector: 1x3x128x128 -> 1x75x16x16 raw predictions.

    Focus: four stride-2 Slices (x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2],
    x[..., 1::2, 1::2]; starts/ends/axes/steps as initializers, ends = INT64_MAX as exporters
    write them) concatenated on channels -> 12x64x64. Then Conv+BN+LeakyRelu(0.1) blocks
    downsampling with stride 2 to 128x8x8, a 1x1 conv, a nearest-neighbour Resize x2 (scales
    as an initializer, empty roi) back to 16x16, a Concat with the 16x16 backbone feature map,
    a 3x3 conv, and a 1x1 Conv head giving anchors * (5 + num_classes) = 75 channels.

    Ops: Slice, Concat, Conv (with and without bias), BatchNormalization, LeakyRelu, Resize.
    """
    g = GraphBuilder(seed)
    # x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]: YOLOv5's order
    ends = g.ints("focus.ends", [INT64_MAX, INT64_MAX])
    axes = g.ints("focus.axes", [2, 3])
    steps = g.ints("focus.steps", [2, 2])
    pieces = []
    for i, (row, col) in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)]):
        starts = g.ints(f"focus.slice{i}.starts", [row, col])
        pieces.append(g.op("Slice", ["input", starts, ends, axes, steps], f"focus.slice{i}"))
    x = g.op("Concat", pieces, "focus.concat", axis=1)                       # 12 x 64 x 64
    x = g.conv_bn_act(x, "focus.conv", 12, 16, 3, act="leaky_relu")          # 16 x 64 x 64
    x = g.conv_bn_act(x, "backbone.1", 16, 32, 3, 2, act="leaky_relu")       # 32 x 32 x 32
    x = g.conv_bn_act(x, "backbone.2", 32, 32, 3, act="leaky_relu")          # 32 x 32 x 32
    x = g.conv_bn_act(x, "backbone.3", 32, 64, 3, 2, act="leaky_relu")       # 64 x 16 x 16
    skip = g.conv_bn_act(x, "backbone.4", 64, 64, 3, act="leaky_relu")       # 64 x 16 x 16
    x = g.conv_bn_act(skip, "backbone.5", 64, 128, 3, 2, act="leaky_relu")   # 128 x 8 x 8
    x = g.conv_bn_act(x, "neck.lateral", 128, 64, 1, act="leaky_relu")      # 64 x 8 x 8
    x = g.op("Resize", [x, g.const("neck.upsample.roi", np.zeros(0)),
                        g.const("neck.upsample.scales", [1.0, 1.0, 2.0, 2.0])],
             "neck.upsample", mode="nearest", coordinate_transformation_mode="asymmetric",
             nearest_mode="floor")                                          # 64 x 16 x 16
    x = g.op("Concat", [x, skip], "neck.concat", axis=1)                     # 128 x 16 x 16
    x = g.conv_bn_act(x, "neck.conv", 128, 64, 3, act="leaky_relu")          # 64 x 16 x 16
    out_channels = anchors * (5 + num_classes)
    x = g.conv(x, "detect", 64, out_channels, 1, bias=True)                  # 75 x 16 x 16
    return g.build("tiny_yolo", tiny_yolo.__doc__, {"input": [1, 3, 128, 128]},
                   {"predictions": (x, [1, out_channels, 16, 16])})


# --- exporter glue ---------------------------------------------------------------------------

def glue(seed: int = 0) -> onnx.ModelProto:
    """The shape arithmetic PyTorch exporters emit around `x.view(x.size(0), -1)`: 1x16x4x4 -> 1x10.

    Shape(x) -> Gather(index 0) -> Unsqueeze -> Concat with a Constant node's [-1] -> Reshape
    flattens the input to [1, 256]. A ConstantOfShape (as `torch.full((x.size(0), 256), 0.5)`)
    builds a [1, 256] offset from the same batch size; the result goes through a Gemm.
    With static shapes all of this folds to constants: a target for constant folding and
    shape propagation.

    Ops: Shape, Gather, Unsqueeze, Constant, Concat, Reshape, ConstantOfShape, Add, Gemm.
    """
    g = GraphBuilder(seed)
    shape = g.op("Shape", ["input"], "shape")
    batch = g.op("Gather", [shape, g.const("batch_index", 0, dtype=np.int64)], "batch", axis=0)
    batch = g.op("Unsqueeze", [batch, g.ints("unsqueeze.axes", [0])], "batch.unsqueeze")
    minus_one = g.op("Constant", [], "minus_one",
                     value=numpy_helper.from_array(np.array([-1], dtype=np.int64)))
    view_shape = g.op("Concat", [batch, minus_one], "view_shape", axis=0)
    flat = g.op("Reshape", ["input", view_shape], "view")                   # [1, 256]
    offset_shape = g.op("Concat", [batch, g.ints("features", [256])], "offset_shape", axis=0)
    offset = g.op("ConstantOfShape", [offset_shape], "offset",
                  value=numpy_helper.from_array(np.array([0.5], dtype=np.float32)))
    x = g.add(flat, offset, "shifted")
    x = g.gemm(x, "fc", 256, 10)
    return g.build("glue", glue.__doc__, {"input": [1, 16, 4, 4]}, {"logits": (x, [1, 10])})


# --- the classic set: big ImageNet nets, written only when asked for --------------------------
#
# VGG-19, ResNet-50, Inception v1 and DenseNet-121 at their papers' sizes (VGG-19 alone is
# ~550 MiB of weights), so they are not in MODELS: tests and CI never write them. With AlexNet,
# SqueezeNet and ShuffleNet from the default zoo they make CLASSIC_SET, the seven classic ImageNet
# architectures that `lamina bench --models classic` runs (and takes the geometric mean over).

# VGG-19 (configuration E): output channels of each 3x3 conv, "M" a 2x2/2 max pool
_VGG19_CONFIG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]


def vgg19(seed: int = 0) -> onnx.ModelProto:
    """ImageNet VGG-19 (Simonyan & Zisserman 2014, configuration E, torchvision layout, no BN):
    1x3x224x224 -> 1x1000 logits.

    Sixteen 3x3 convs (pad 1, with bias) + ReLU in five stages of 64, 128, 256, 512, 512
    channels (2, 2, 4, 4, 4 convs), each stage closed by a 2x2/2 MaxPool, to 512x7x7; Flatten to
    25088 (torchvision's AdaptiveAvgPool to 7x7 is the identity at 224 and left out), then
    the classifier Gemm 4096 -> ReLU -> Gemm 4096 -> ReLU -> Gemm 1000 (Dropout is absent at
    inference). 143.7M parameters, 103M of them in the first Gemm: ~548 MiB.

    Ops: Conv (3x3 with bias), Relu, MaxPool, Flatten, Gemm.
    """
    g = GraphBuilder(seed)
    x, cin, index = "input", 3, 0
    for item in _VGG19_CONFIG:
        if item == "M":
            x = g.op("MaxPool", [x], f"features.{index}", kernel_shape=[2, 2], strides=[2, 2])
            index += 1
            continue
        x = g.relu(g.conv(x, f"features.{index}", cin, item, 3, bias=True), f"features.{index + 1}")
        cin, index = item, index + 2                                            # 512 x 7 x 7
    x = g.op("Flatten", [x], "flatten", axis=1)                                 # 25088
    x = g.relu(g.gemm(x, "classifier.0", 512 * 7 * 7, 4096), "classifier.1")
    x = g.relu(g.gemm(x, "classifier.3", 4096, 4096), "classifier.4")
    x = g.gemm(x, "classifier.6", 4096, 1000)
    return g.build("vgg19", vgg19.__doc__, {"input": [1, 3, 224, 224]},
                   {"logits": (x, [1, 1000])})


def _bottleneck(g: GraphBuilder, x: str, name: str, cin: int, width: int, stride: int) -> str:
    """relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))) + shortcut(x)), 4 * width out.

    conv1 1x1 to `width`, conv2 3x3 with the block's stride (ResNet v1.5, as torchvision),
    conv3 1x1 to 4 * width; the shortcut is x, or a strided 1x1 conv + bn when the shape changes.
    """
    cout = 4 * width
    out = g.relu(g.batch_norm(g.conv(x, f"{name}.conv1", cin, width, 1), f"{name}.bn1", width),
                 f"{name}.relu1")
    out = g.relu(g.batch_norm(g.conv(out, f"{name}.conv2", width, width, 3, stride),
                              f"{name}.bn2", width), f"{name}.relu2")
    out = g.conv(out, f"{name}.conv3", width, cout, 1)
    # as ResNet-18's bn2: a small scale keeps 16 residual sums from growing the activations
    out = g.batch_norm(out, f"{name}.bn3", cout, gamma=(0.2, 0.5))
    if stride != 1 or cin != cout:
        x = g.conv(x, f"{name}.downsample.0", cin, cout, 1, stride)
        x = g.batch_norm(x, f"{name}.downsample.1", cout)
    return g.relu(g.add(out, x, f"{name}.add"), f"{name}.relu3")


def resnet50(seed: int = 0) -> onnx.ModelProto:
    """ImageNet ResNet-50 (He et al. 2015, v1.5, torchvision layout): 1x3x224x224 -> 1x1000 logits.

    conv1 7x7/2 + bn + relu, maxpool 3x3/2, four stages of 3, 4, 6, 3 bottleneck blocks (widths
    64, 128, 256, 512, outputs 4x that; the first block of every stage has a 1x1 conv + bn
    downsample shortcut, strided in stages 2-4, where the block's 3x3 conv has stride 2),
    global average pool, flatten, fully connected layer. 25.6M parameters (~98 MiB).

    Ops: Conv (1x1 and 3x3, no bias), BatchNormalization, Relu, MaxPool, Add, GlobalAveragePool,
    Flatten, Gemm.
    """
    g = GraphBuilder(seed)
    x = g.conv("input", "conv1", 3, 64, 7, stride=2)
    x = g.relu(g.batch_norm(x, "bn1", 64), "relu")
    x = g.op("MaxPool", [x], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = 64
    for stage, (width, blocks) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)], start=1):
        for block in range(blocks):
            stride = 2 if stage > 1 and block == 0 else 1
            x = _bottleneck(g, x, f"layer{stage}.{block}", cin, width, stride)
            cin = 4 * width                                                     # 2048 x 7 x 7
    x = g.op("GlobalAveragePool", [x], "avgpool")
    x = g.op("Flatten", [x], "flatten", axis=1)
    x = g.gemm(x, "fc", 2048, 1000)
    return g.build("resnet50", resnet50.__doc__, {"input": [1, 3, 224, 224]},
                   {"logits": (x, [1, 1000])})


# (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj) per inception module, from the GoogLeNet
# paper's table 1; None: MaxPool 3x3/2 (ceil_mode) between stages
_INCEPTION_V1_MODULES = [
    ("inception3a", (64, 96, 128, 16, 32, 32)), ("inception3b", (128, 128, 192, 32, 96, 64)),
    ("maxpool3", None),
    ("inception4a", (192, 96, 208, 16, 48, 64)), ("inception4b", (160, 112, 224, 24, 64, 64)),
    ("inception4c", (128, 128, 256, 24, 64, 64)), ("inception4d", (112, 144, 288, 32, 64, 64)),
    ("inception4e", (256, 160, 320, 32, 128, 128)),
    ("maxpool4", None),
    ("inception5a", (256, 160, 320, 32, 128, 128)), ("inception5b", (384, 192, 384, 48, 128, 128)),
]


def _inception(g: GraphBuilder, x: str, name: str, cin: int, widths: tuple) -> tuple[str, int]:
    """concat(1x1, 1x1 -> 3x3, 1x1 -> 5x5, maxpool 3x3/1 -> 1x1 pool proj) on channels; each
    conv a torchvision BasicConv2d (conv + bn + relu). Returns the output and its channels."""
    c1, c3r, c3, c5r, c5, proj = widths
    b1 = g.conv_bn_act(x, f"{name}.branch1", cin, c1, 1)
    b2 = g.conv_bn_act(x, f"{name}.branch2.0", cin, c3r, 1)
    b2 = g.conv_bn_act(b2, f"{name}.branch2.1", c3r, c3, 3)
    b3 = g.conv_bn_act(x, f"{name}.branch3.0", cin, c5r, 1)
    b3 = g.conv_bn_act(b3, f"{name}.branch3.1", c5r, c5, 5)
    b4 = g.op("MaxPool", [x], f"{name}.branch4.0", kernel_shape=[3, 3], strides=[1, 1],
              pads=[1, 1, 1, 1], ceil_mode=1)
    b4 = g.conv_bn_act(b4, f"{name}.branch4.1", cin, proj, 1)
    return g.op("Concat", [b1, b2, b3, b4], f"{name}.cat", axis=1), c1 + c3 + c5 + proj


def inception_v1(seed: int = 0) -> onnx.ModelProto:
    """ImageNet Inception v1 / GoogLeNet (Szegedy et al. 2014, torchvision layout):
    1x3x224x224 -> 1x1000 logits.

    conv1 7x7/2 64, maxpool1 3x3/2, conv2 1x1 64, conv3 3x3 192, maxpool2 3x3/2, inception
    3a-3b, maxpool3, 4a-4e, maxpool4 (2x2/2), 5a-5b (every max pool ceil_mode, as exported),
    global average pool, flatten, fully connected layer. Each inception module concatenates four
    branches: 1x1; 1x1 -> 3x3; 1x1 -> 5x5; max pool 3x3/1 -> 1x1 (the paper's widths). Every
    conv is torchvision's BasicConv2d: conv (no bias) + BatchNormalization + ReLU; unlike
    torchvision, whose "5x5" branch has a 3x3 conv, the 5x5 branch is 5x5 as in the paper. No
    LRN, no auxiliary classifiers (absent at inference). 7.0M parameters (~27 MiB).

    Ops: Conv (1x1, 3x3, 5x5, 7x7/2, no bias), BatchNormalization, Relu, MaxPool (ceil_mode),
    Concat (four inputs), GlobalAveragePool, Flatten, Gemm.
    """
    g = GraphBuilder(seed)

    def maxpool(t: str, name: str, k: int) -> str:
        return g.op("MaxPool", [t], name, kernel_shape=[k, k], strides=[2, 2], ceil_mode=1)

    x = g.conv_bn_act("input", "conv1", 3, 64, 7, stride=2)                      # 64 x 112 x 112
    x = maxpool(x, "maxpool1", 3)                                                # 64 x 56 x 56
    x = g.conv_bn_act(x, "conv2", 64, 64, 1)
    x = g.conv_bn_act(x, "conv3", 64, 192, 3)
    x = maxpool(x, "maxpool2", 3)                                                # 192 x 28 x 28
    cin = 192
    for name, widths in _INCEPTION_V1_MODULES:
        if widths is None:                                      # 480 x 14 x 14, 832 x 7 x 7
            x = maxpool(x, name, 3 if name == "maxpool3" else 2)
            continue
        x, cin = _inception(g, x, name, cin, widths)                             # 1024 x 7 x 7
    x = g.op("GlobalAveragePool", [x], "avgpool")
    x = g.op("Flatten", [x], "flatten", axis=1)
    x = g.gemm(x, "fc", cin, 1000)                              # "dropout" is absent at inference
    return g.build("inception_v1", inception_v1.__doc__, {"input": [1, 3, 224, 224]},
                   {"logits": (x, [1, 1000])})


def _bn_relu_conv(g: GraphBuilder, x: str, name: str, index: str, cin: int, cout: int,
                  k: int) -> str:
    """DenseNet's pre-activation: `<name>.norm<index>` -> `.relu<index>` -> `.conv<index>`."""
    x = g.relu(g.batch_norm(x, f"{name}.norm{index}", cin), f"{name}.relu{index}")
    return g.conv(x, f"{name}.conv{index}", cin, cout, k)


def densenet121(seed: int = 0, growth: int = 32, bn_size: int = 4) -> onnx.ModelProto:
    """ImageNet DenseNet-121 (Huang et al. 2016, torchvision layout): 1x3x224x224 -> 1x1000.

    conv0 7x7/2 64 + norm0 + relu0, pool0 max 3x3/2 pad 1, four dense blocks of 6, 12, 24, 16
    layers with growth rate 32, transitions between them, then norm5, ReLU, global average
    pool, flatten, classifier. A dense layer is BN -> ReLU -> 1x1 conv to 128 (bn_size *
    growth) -> BN -> ReLU -> 3x3 conv to 32 on the concatenation of the block's input and every
    earlier layer's output: as torchvision exports it, each layer from the second on has its own
    Concat of all of them, and the block ends with a Concat of all. A transition is BN -> ReLU ->
    1x1 conv halving the channels -> AveragePool 2x2/2. 8.0M parameters (~31 MiB).

    Ops: Conv (1x1 and 3x3, no bias), BatchNormalization, Relu, MaxPool, Concat (up to 24
    inputs), AveragePool, GlobalAveragePool, Flatten, Gemm.
    """
    g = GraphBuilder(seed)
    x = g.conv("input", "features.conv0", 3, 64, 7, stride=2)
    x = g.relu(g.batch_norm(x, "features.norm0", 64), "features.relu0")
    x = g.op("MaxPool", [x], "features.pool0", kernel_shape=[3, 3], strides=[2, 2],
             pads=[1, 1, 1, 1])                                                 # 64 x 56 x 56
    cin = 64
    for b, layers in enumerate([6, 12, 24, 16], start=1):
        block = f"features.denseblock{b}"
        features = [x]
        for i in range(1, layers + 1):
            name = f"{block}.denselayer{i}"
            h = features[0] if i == 1 else g.op("Concat", features, f"{name}.cat", axis=1)
            h = _bn_relu_conv(g, h, name, "1", cin + (i - 1) * growth, bn_size * growth, 1)
            features.append(_bn_relu_conv(g, h, name, "2", bn_size * growth, growth, 3))
        x = g.op("Concat", features, f"{block}.cat", axis=1)
        cin += layers * growth
        if b < 4:
            name = f"features.transition{b}"
            x = g.relu(g.batch_norm(x, f"{name}.norm", cin), f"{name}.relu")
            x = g.conv(x, f"{name}.conv", cin, cin // 2, 1)
            x = g.op("AveragePool", [x], f"{name}.pool", kernel_shape=[2, 2], strides=[2, 2])
            cin //= 2                                                # 1024 x 7 x 7 at the end
    x = g.relu(g.batch_norm(x, "features.norm5", cin), "relu")
    x = g.op("GlobalAveragePool", [x], "avgpool")
    x = g.op("Flatten", [x], "flatten", axis=1)
    x = g.gemm(x, "classifier", cin, 1000)
    return g.build("densenet121", densenet121.__doc__, {"input": [1, 3, 224, 224]},
                   {"logits": (x, [1, 1000])})


MODELS: dict[str, Callable[[], onnx.ModelProto]] = {
    "resnet18": resnet18,
    "mobilenetv2": mobilenetv2,
    "alexnet": alexnet,
    "shufflenet": shufflenet,
    "squeezenet": squeezenet,
    "mlp": mlp,
    "transformer_block": transformer_block,
    "tiny_yolo": tiny_yolo,
    "glue": glue,
}

# written only when named (or with --classic): too big for every test run and CI
CLASSIC_MODELS: dict[str, Callable[[], onnx.ModelProto]] = {
    "vgg19": vgg19,
    "resnet50": resnet50,
    "inception_v1": inception_v1,
    "densenet121": densenet121,
}

# the classic ImageNet architectures (issue 11's geometric mean): `--classic`, and
# `lamina bench --models classic`
CLASSIC_SET = ("alexnet", "vgg19", "resnet50", "inception_v1", "densenet121", "squeezenet",
               "shufflenet")


def main(argv: list[str] | None = None) -> int:
    builders = {**MODELS, **CLASSIC_MODELS}
    parser = argparse.ArgumentParser(description="Write the lamina model zoo as .onnx files.")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent,
                        help="output folder (default: examples/models/)")
    parser.add_argument("--classic", action="store_true",
                        help=f"also write the classic ImageNet set: {', '.join(CLASSIC_SET)} "
                             f"(~745 MiB; {', '.join(CLASSIC_MODELS)} are written only when "
                             "named or with this flag)")
    parser.add_argument("names", nargs="*", metavar="name",
                        help=f"models to write (default: all of {', '.join(MODELS)}; on request: "
                             f"{', '.join(CLASSIC_MODELS)})")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in builders]
    if unknown:
        parser.error(f"unknown model {', '.join(unknown)}; choose from {', '.join(builders)}")
    names = list(args.names) + list(CLASSIC_SET if args.classic else ())
    args.out.mkdir(parents=True, exist_ok=True)
    for name in dict.fromkeys(names or MODELS):
        model = builders[name]()
        path = args.out / f"{name}.onnx"
        onnx.save(model, path)
        print(f"{path}: {len(model.graph.node)} nodes, "
              f"{path.stat().st_size / 2**20:.1f} MiB")
    return 0

if __name__ == "__main__":
    sys.exit(main())
