"""The zoo's opt-in classic ImageNet nets (examples/models/zoo.py CLASSIC_MODELS) and the bench's
handling of them: each net is valid ONNX with the real architecture's parameter count and output
shape and runs in onnxruntime; `lamina bench` resolves their names and the `classic` shorthand and
prints the geometric mean of lamina/ort over the seven classic architectures.

VGG-19 (548 MiB) is never written here; the others take a few seconds each. Nothing here compiles
a classic net with lamina or times anything (`lamina bench --models classic` does, by hand).
"""

import math

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from lamina.runtime import benchmark

zoo = benchmark.zoo_module()

SEVEN = ["alexnet", "vgg19", "resnet50", "inception_v1", "densenet121", "squeezenet", "shufflenet"]

# name -> (trainable parameters, as torchvision counts them: BN's scale and bias, not its running
# statistics; op types the model must contain; Concat nodes)
REAL = {
    # torchvision.models.resnet50: 25,557,032
    "resnet50": (25_557_032, {"Conv", "BatchNormalization", "Relu", "MaxPool", "Add",
                              "GlobalAveragePool", "Flatten", "Gemm"}, 0),
    # torchvision.models.googlenet without aux heads has 6,624,904 with a 3x3 conv in each
    # "5x5" branch; the paper's 5x5 adds (25 - 9) * reduce * out weights per module
    "inception_v1": (6_624_904 + 16 * sum(r * c for r, c in [(16, 32), (32, 96), (16, 48), (24, 64),
                                                             (24, 64), (32, 64), (32, 128),
                                                             (32, 128), (48, 128)]),
                     {"Conv", "BatchNormalization", "Relu", "MaxPool", "Concat",
                      "GlobalAveragePool", "Flatten", "Gemm"}, 9),
    # torchvision.models.densenet121: 7,978,856; a Concat per dense layer but the first of each
    # block, and one closing each block
    "densenet121": (7_978_856, {"Conv", "BatchNormalization", "Relu", "MaxPool", "Concat",
                                "AveragePool", "GlobalAveragePool", "Flatten", "Gemm"},
                    (6 + 12 + 24 + 16) - 4 + 4),
}


def _params(model: onnx.ModelProto) -> int:
    return sum(int(np.prod(t.dims)) for t in model.graph.initializer
               if not t.name.endswith((".running_mean", ".running_var")))


def test_the_classic_nets_are_opt_in():
    """The default zoo (what tests and CI write, what `lamina bench` runs) has none of them."""
    assert set(zoo.CLASSIC_MODELS) == {"vgg19", "resnet50", "inception_v1", "densenet121"}
    assert not set(zoo.CLASSIC_MODELS) & set(zoo.MODELS)
    assert list(zoo.CLASSIC_SET) == SEVEN
    assert set(zoo.CLASSIC_SET) <= set(zoo.MODELS) | set(zoo.CLASSIC_MODELS)
    assert set(benchmark.zoo_models()) == set(zoo.MODELS)


@pytest.mark.parametrize("name", list(REAL))
def test_classic_net_is_valid_and_real_sized(name, tmp_path):
    """Written on first use into the zoo folder as `lamina bench` writes it (zoo.py in a
    subprocess), then checked: opset 17, unique node names, the real parameter count, 1x1000
    finite logits in onnxruntime that depend on the input."""
    params, ops, concats = REAL[name]
    path = benchmark.model_path(tmp_path, name, generate=True)
    assert path == tmp_path / f"{name}.onnx" and path.is_file()
    onnx.checker.check_model(str(path), full_check=True)
    model = onnx.load(str(path))
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
    names = [n.name for n in model.graph.node]
    assert all(names) and len(set(names)) == len(names)
    assert ops <= {n.op_type for n in model.graph.node}
    assert sum(n.op_type == "Concat" for n in model.graph.node) == concats
    assert _params(model) == params
    assert all(t.data_type == onnx.TensorProto.FLOAT for t in model.graph.initializer)
    (out,) = model.graph.output
    assert [d.dim_value for d in out.type.tensor_type.shape.dim] == [1, 1000]

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1      # pytest -n 2 already keeps both cores busy
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1234)
    x, other = (rng.standard_normal((1, 3, 224, 224)).astype(np.float32) for _ in range(2))
    (y,) = session.run(None, {"input": x})
    assert y.shape == (1, 1000) and np.isfinite(y).all()
    assert 1e-2 < float(y.std()) < 1e2, f"output std {y.std()}"
    (z,) = session.run(None, {"input": other})
    assert float((y - z).std()) > 5e-3 * float(y.std())


def test_inception_modules_concatenate_four_branches():
    model = zoo.inception_v1()
    inits = {t.name: t for t in model.graph.initializer}
    cats = [n for n in model.graph.node if n.op_type == "Concat"]
    assert [c.name for c in cats] == [f"inception{m}.cat" for m in
                                      ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")]
    assert all(len(c.input) == 4 for c in cats)
    assert list(inits["inception3a.branch3.1.conv.weight"].dims) == [32, 16, 5, 5]
    assert list(inits["fc.weight"].dims) == [1000, 1024]


def test_densenet_layers_see_every_earlier_feature_map():
    model = zoo.densenet121()
    nodes = {n.name: n for n in model.graph.node}
    assert len(nodes["features.denseblock3.denselayer24.cat"].input) == 24
    assert len(nodes["features.denseblock4.cat"].input) == 17
    inits = {t.name: list(t.dims) for t in model.graph.initializer}
    assert inits["features.denseblock1.denselayer1.conv1.weight"] == [128, 64, 1, 1]
    assert inits["features.denseblock1.denselayer1.conv2.weight"] == [32, 128, 3, 3]
    assert inits["features.transition3.conv.weight"] == [512, 1024, 1, 1]
    assert inits["classifier.weight"] == [1000, 1024]


def test_zoo_cli_offers_the_classic_set_and_rejects_unknown_names(capsys):
    with pytest.raises(SystemExit) as e:
        zoo.main(["--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0 and "--classic" in out and "vgg19" in out and "densenet121" in out
    with pytest.raises(SystemExit) as e:
        zoo.main(["--out", "/nonexistent", "resnet101"])
    assert e.value.code == 2 and "unknown model resnet101" in capsys.readouterr().err
    # vgg19 is never built here: its layer list is its architecture
    convs = [c for c in zoo._VGG19_CONFIG if c != "M"]
    assert len(convs) == 16 and zoo._VGG19_CONFIG.count("M") == 5


# --- the bench: names and the geometric mean (no model is built or timed) ---------------------


def test_bench_expands_classic_and_keeps_the_first_mention():
    assert benchmark.classic_set() == SEVEN
    assert benchmark.classic_models() == ["vgg19", "resnet50", "inception_v1", "densenet121"]
    assert benchmark.expand_models("classic") == SEVEN
    assert benchmark.expand_models("mlp,classic,alexnet") == ["mlp"] + SEVEN
    assert benchmark.expand_models("resnet50, ,glue") == ["resnet50", "glue"]


def test_bench_accepts_classic_names_and_rejects_others(capsys):
    with pytest.raises(SystemExit) as e:
        benchmark.main(["--models", "classic,resnet101"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "unknown model resnet101;" in err  # the classic names are known
    assert "vgg19" in err and "'classic'" in err                      # and offered


def test_a_missing_classic_model_in_a_given_zoo_folder_has_a_hint(tmp_path):
    with pytest.raises(benchmark.LaminaError) as e:
        benchmark.resolve_model("vgg19", tmp_path)
    assert "no model file" in str(e.value) and not (tmp_path / "vgg19.onnx").exists()


def _rows(ratios: dict) -> list:
    rows = []
    for name, ratio in ratios.items():
        row = benchmark.Row(name, ort_s=0.010)
        if ratio is None:
            row.lamina_status = "error"
        else:
            row.lamina_s = 0.010 * ratio
        rows.append(row)
    return rows


def test_geometric_mean_over_the_seven():
    ratios = dict(zip(SEVEN, [0.5, 2.0, 1.0, 0.8, 1.25, 0.9, 1.0]))
    rows = _rows({"mlp": 40.0, **ratios})          # a model outside the set does not count
    expected = math.exp(sum(math.log(r) for r in ratios.values()) / 7)
    assert benchmark.classic_geomean(rows) == pytest.approx(expected)
    line = benchmark.format_classic_geomean(rows)
    assert line.startswith("geometric mean of lamina/ort over the 7 classic ImageNet architectures")
    assert line.endswith(f": {expected:.3f}") and all(m in line for m in SEVEN)


def test_no_geometric_mean_unless_all_seven_ran():
    six = _rows(dict.fromkeys(SEVEN[:-1], 1.0))
    assert benchmark.classic_geomean(six) is None and benchmark.format_classic_geomean(six) is None
    failed = _rows({**dict.fromkeys(SEVEN, 1.0), "vgg19": None})
    assert benchmark.classic_geomean(failed) is None
    assert benchmark.format_classic_geomean(failed).endswith(": - (no ratio for vgg19)")
