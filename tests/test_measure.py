"""tfnas.measure: any torch model, every general proxy, a DataLoader, the network left bit for bit.

The general model is a torchvision-style ResNet written here (torchvision is not a dependency);
where torchvision is installed, its resnet18 is scored too.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import seeds
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import tfnas
from tfnas.batches import gather
from tfnas.checks import ArgumentError
from tfnas.datasets import load_batch
from tfnas.errors import TfnasError
from tfnas.measuring import MeasureError, general_proxies, measure
from tfnas.network import UnsupportedNetworkError, build_network
from tfnas.proxies import get_proxy, proxies
from tfnas.proxies.naswot import naswot_reference
from tfnas.proxies.zen import pooled_input, pre_gap
from tfnas.scoring import batch_for, cell_seed, score, score_many
from tfnas.spaces import get_space

AZ = ("az_expressivity", "az_progressivity", "az_trainability")


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_torch_thread):
    """One torch thread: on the shared 2-core machine two threads spin against each other."""


# --- a torchvision-style ResNet, by hand ----------------------------------------------------------


class BasicBlock(nn.Module):
    """torchvision's BasicBlock: conv-BN-ReLU-conv-BN, + identity or a 1x1 conv-BN downsample."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                            nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    """A small torchvision-style ResNet: stem, two stages of BasicBlocks, global pooling, Linear."""

    def __init__(self, num_classes: int = 10, width: int = 8, dropout: float = 0.0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(BasicBlock(width, width, 1), BasicBlock(width, width, 1))
        self.layer2 = nn.Sequential(BasicBlock(width, 2 * width, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(2 * width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer2(self.layer1(x))
        return self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))


def resnet(seed: int = 0, **kwargs: object) -> ResNet:
    with torch.random.fork_rng(devices=[]):  # torch's initialisers draw from the global RNG
        torch.manual_seed(seed)
        return ResNet(**kwargs)


def lived_in(net: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> nn.Module:
    """``net`` as a caller might hand it over: gradients set, BatchNorm statistics moved, one
    parameter frozen, some modules in eval mode."""
    net.train()
    nn.functional.cross_entropy(net(images[:8]), labels[:8]).backward()
    net.layer1[0].conv1.weight.requires_grad_(False)
    net.layer2.eval()
    return net


def snapshot(net: nn.Module) -> dict[str, object]:
    """Everything measure must leave alone, as exact copies."""
    return {
        "state": {k: v.detach().clone() for k, v in net.state_dict(keep_vars=True).items()},
        "grads": {k: None if p.grad is None else p.grad.clone() for k, p in net.named_parameters()},
        "requires_grad": {k: p.requires_grad for k, p in net.named_parameters()},
        "training": {k: m.training for k, m in net.named_modules()},
        "ids": [id(p) for p in net.parameters()],
    }


def assert_same(before: dict, after: dict) -> None:
    assert before["state"].keys() == after["state"].keys()
    for key, value in before["state"].items():
        other = after["state"][key]
        assert value.dtype == other.dtype and torch.equal(value, other), key
    for key, grad in before["grads"].items():
        other = after["grads"][key]
        assert (grad is None) == (other is None), key
        assert grad is None or torch.equal(grad, other), key
    assert before["requires_grad"] == after["requires_grad"]
    assert before["training"] == after["training"]
    assert before["ids"] == after["ids"]


@pytest.fixture(scope="module")
def cifar():
    batch = load_batch("cifar10", 0, 64)
    return batch.images, batch.labels


def loader(images: torch.Tensor, labels: torch.Tensor, batch_size: int = 32) -> DataLoader:
    # its own generator: a DataLoader draws a base seed per iteration, else from the global RNG
    return DataLoader(TensorDataset(images, labels), batch_size=batch_size, shuffle=False,
                      generator=torch.Generator().manual_seed(0))


def one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and text
    return text


# --- the done-when test ----------------------------------------------------------------------------


def test_a_resnet_through_a_dataloader_gets_every_general_proxy_and_stays_as_it_was(cifar):
    images, labels = cifar
    net = lived_in(resnet(), images, labels)
    before = snapshot(net)
    rng = torch.get_rng_state()
    scores = measure(net, loader(images, labels), num_batches=2)
    assert tuple(scores) == general_proxies()
    assert all(isinstance(v, float) and not math.isnan(v) for v in scores.values())
    assert all(math.isfinite(v) for v in scores.values()), scores
    assert_same(before, snapshot(net))
    assert torch.equal(rng, torch.get_rng_state())  # the caller's global RNG too
    assert scores["params"] == sum(p.numel() for p in net.parameters())


def test_the_general_set_is_every_single_network_proxy_but_the_structured_ones():
    names = general_proxies()
    for p in proxies():
        if p.ensemble or p.structure is not None or not p.table:
            assert p.name not in names
        else:
            assert p.name in names
    assert {"naswot", "synflow", "zen", "az_complexity", "grasp", "nwot"} <= set(names)
    assert not set(AZ) & set(names) and "naswot_reference" not in names
    assert tfnas.measure is measure


# --- general networks in the proxies ------------------------------------------------------------


def test_naswot_on_a_general_network_is_the_reference_hook_computation(cifar):
    images, _ = cifar
    net = resnet(1)
    assert measure(net, images, ["naswot"])["naswot"] == naswot_reference(net, images)


def test_zen_reads_the_input_of_the_global_pooling(cifar):
    images, _ = cifar
    net = resnet(2).train()
    seen = []
    handle = net.avgpool.register_forward_pre_hook(lambda m, inputs: seen.append(inputs[0].clone()))
    with torch.no_grad():
        feature = pooled_input(net, images[:4])
    handle.remove()
    assert torch.equal(feature, seen[0])
    # on a NATS network the hook finds what the cell walk computes (the NATS path stays the walk)
    nats = build_network(
        "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|nor_conv_3x3~1|skip_connect~2|",
        10, torch.Generator().manual_seed(0), space=get_space("tss")).train()
    with torch.no_grad():
        assert torch.equal(pooled_input(nats, images[:4]), pre_gap(nats, images[:4]))


class FunctionalPool(nn.Module):
    """Pools with a function (as torchvision's MobileNetV2 does): no module to hook."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(nn.functional.adaptive_avg_pool2d(self.conv(x).relu(), 1).flatten(1))


class SqueezeExcite(nn.Module):
    """A block that pools inside (squeeze-excitation) and a functional final pooling."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv2 = nn.Conv2d(4, 4, 1)
        self.fc = nn.Linear(4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.conv(x))
        x = self.conv2(x * self.pool(x))
        return self.fc(x.mean((2, 3)))


@pytest.mark.parametrize("model", [FunctionalPool, SqueezeExcite])
def test_zen_refuses_a_network_without_a_global_pooling_module_in_one_line(model, cifar):
    images, _ = cifar
    with pytest.raises(UnsupportedNetworkError, match="global pooling") as exc:
        measure(model(), images[:8], ["zen"])
    one_line(exc)
    assert set(measure(model(), images[:8], ["synflow", "params", "jacob_cov"])) == {
        "synflow", "params", "jacob_cov"}


class Swish(nn.Module):
    """A ReLU-free network (SiLU, as EfficientNet): no rectified unit for naswot/nwot to code."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.act = nn.SiLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.act(self.conv(x))).flatten(1))


@pytest.mark.parametrize("name", ["naswot", "nwot"])
def test_a_relu_free_network_has_no_codes_and_says_so(name, cifar):
    images, _ = cifar
    with pytest.raises(UnsupportedNetworkError, match=f"proxy '{name}' cannot score Swish: .*ReLU") as exc:
        measure(Swish(), images[:8], [name])
    assert "leave it out of proxies=" in one_line(exc)


class _Once(torch.autograd.Function):
    """Doubles its input; its backward has no derivative of its own (create_graph refused)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return x * 2

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if torch.is_grad_enabled():
            raise RuntimeError("derivative for _Once's backward is not implemented")
        return grad * 2


class OnceDifferentiable(ResNet):
    """An op torch can differentiate once only (as hardsigmoid in torch's MobileNetV3)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _Once.apply(super().forward(x))


def test_a_proxy_that_fails_on_the_model_says_which_and_why_in_one_line(cifar):
    images, labels = cifar
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = OnceDifferentiable()
    with pytest.raises(MeasureError, match="proxy 'grasp' failed on OnceDifferentiable: "
                                           "RuntimeError: derivative for _Once") as exc:
        measure(net, (images, labels), ["grasp"])
    one_line(exc)
    with pytest.raises(MeasureError, match="in the shared pass, which computes the products of "
                                           "grad_norm, grasp at once") as exc:
        measure(net, (images, labels), ["grad_norm", "grasp"])
    one_line(exc)
    assert set(measure(net, (images, labels), ["grad_norm", "snip"])) == {"grad_norm", "snip"}


@pytest.mark.parametrize("name", AZ)
def test_the_az_components_refuse_a_general_network_in_one_line(name, cifar):
    images, _ = cifar
    with pytest.raises(UnsupportedNetworkError, match="NATS-Bench cell structure") as exc:
        measure(resnet(), images[:8], [name])
    assert name in one_line(exc)
    # called directly, too: one line instead of AttributeError: ... has no attribute 'stem'
    with pytest.raises(UnsupportedNetworkError, match="general model") as exc:
        get_proxy(name)(resnet(), images[:8], generator=torch.Generator())
    one_line(exc)


# --- a NATS network: measure is the scoring rule ---------------------------------------------------

CELL = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"


@pytest.mark.integration  # every general proxy through measure and through score_many (~9 s)
def test_on_a_nats_network_measure_gives_the_bits_of_score():
    """The network and the random proxies' generator as tfnas.scoring builds them: the init
    generator seeded by cell_seed, whose state after the build the random proxies continue."""
    dataset, seed, space = "ImageNet16-120", 4, get_space("tss")
    names = [*general_proxies(), *AZ]
    expected = score_many(CELL, names, dataset, seed)  # == score() bit for bit (test_score_many)
    generator = torch.Generator().manual_seed(cell_seed(CELL, seed, space))
    net = build_network(CELL, 120, generator, space=space).train()
    before = snapshot(net)
    groups: dict[int, list[str]] = {}
    for name in names:
        groups.setdefault(batch_for(name), []).append(name)
    for size, group in groups.items():
        batch = load_batch(dataset, seed, size)
        got = measure(net, (batch.images, batch.labels), group, generator=generator)
        for name in group:
            assert got[name] == expected[name].score or (
                math.isinf(got[name]) and got[name] == expected[name].score), name
    assert_same(before, snapshot(net))
    assert measure(net, load_batch(dataset, seed, 16).images, ["naswot"])["naswot"] == score(
        CELL, "naswot", dataset, seed, batch_size=16)
    wide = ["naswot", "synflow", "grad_norm"]  # zen draws its own batch: its reference 16
    expected = score_many(CELL, wide, dataset, seed, batch_size=32, precision="float64")
    expected["zen"] = score_many(CELL, ["zen"], dataset, seed, precision="float64")["zen"]
    batch = load_batch(dataset, seed, 32)
    got = measure(net, (batch.images, batch.labels), [*wide, "zen"], generator=generator,
                  precision="float64")
    assert got == {name: expected[name].score for name in [*wide, "zen"]}


# --- data: tensors, pairs, loaders, grouped batches ---------------------------------------------


@settings(max_examples=25, deadline=None)
@given(num_classes=st.integers(1, 10), per_class=st.integers(1, 3), batch=st.integers(1, 40))
def test_grouped_takes_the_first_images_of_each_class_in_class_order(num_classes, per_class, batch):
    loaded = load_batch("cifar10", 0, 128)  # at least 6 images of each class
    kept = loaded.labels < num_classes  # other labels are refused: not a class of num_classes
    images, labels = loaded.images[kept], loaded.labels[kept]
    got = gather(loader(images, labels, batch), dataload="grouped", num_classes=num_classes,
                 samples_per_class=per_class)
    assert got.labels.tolist() == [c for c in range(num_classes) for _ in range(per_class)]
    for c in range(num_classes):
        first = images[labels == c][:per_class]
        assert torch.equal(got.images[c * per_class:(c + 1) * per_class], first)


def test_grouped_measures_that_batch(cifar):
    images, labels = cifar
    net = resnet()
    got = measure(net, loader(images, labels, 16), ["naswot", "grad_norm"], dataload="grouped",
                  num_classes=10, samples_per_class=2)
    picked = gather(loader(images, labels, 16), dataload="grouped", num_classes=10,
                    samples_per_class=2)
    assert got == measure(net, (picked.images, picked.labels), ["naswot", "grad_norm"])


def test_a_tensor_a_pair_and_a_loader_give_the_same_scores(cifar):
    images, labels = cifar
    net = resnet()
    names = ["naswot", "jacob_cov", "snip"]
    by_tensor = measure(net, images, names, labels=labels)
    assert by_tensor == measure(net, (images, labels), names)
    assert by_tensor == measure(net, loader(images, labels, 16), names, num_batches=4)
    assert by_tensor == measure(net, [(images[:32], labels[:32]), (images[32:], labels[32:])],
                                names, num_batches=2)
    # the first batch only, by default
    assert measure(net, loader(images, labels, 16), names) == measure(
        net, images[:16], names, labels=labels[:16])


@settings(max_examples=5, deadline=None)
@given(seed=seeds)
def test_the_same_seed_gives_the_same_bits_and_the_draws_follow_it(seed):
    images = load_batch("cifar10", 0, 16).images
    net = resnet()
    first = measure(net, images, ["zen", "naswot"], seed=seed)
    assert first == measure(net, images, ["zen", "naswot"], seed=seed)
    other = measure(net, images, ["zen"], seed=(seed + 1) % 2**63)
    assert other["zen"] != first["zen"]
    generator = torch.Generator().manual_seed(seed)
    assert measure(net, images, ["zen"], generator=generator)["zen"] == first["zen"]
    assert torch.equal(generator.get_state(), torch.Generator().manual_seed(seed).get_state())


def test_dropout_is_off_and_random_modules_draw_from_the_seed(cifar):
    images, labels = cifar
    net = resnet(dropout=0.5)
    plain = resnet(dropout=0.0)
    names = ["jacob_cov", "grad_norm", "naswot"]
    assert measure(net, images, names, labels=labels) == measure(plain, images, names, labels=labels)
    assert net.dropout.training


def test_devices_and_precisions(cifar):
    images, labels = cifar
    net = resnet()
    names = ["naswot", "synflow", "zen", "grad_norm", "nwot", "flops"]
    default = measure(net, images, names, labels=labels)
    assert default == measure(net, images, names, labels=labels, device="cpu")
    assert default == measure(net, images, names, labels=labels, device=torch.device("cpu"))
    wide = measure(net, images, names, labels=labels, precision="float64")
    for name in names:
        assert math.isclose(wide[name], default[name], rel_tol=1e-3), name
    assert next(net.parameters()).dtype == torch.float32


# --- one-line errors -------------------------------------------------------------------------------


def _errors(images: torch.Tensor, labels: torch.Tensor) -> list[tuple[object, dict, str]]:
    net = resnet()
    return [
        ("not a net", {"data": images}, "net must be a torch.nn.Module"),
        (net, {"data": DataLoader(TensorDataset(images[:0], labels[:0]))}, "no batch"),
        (net, {"data": images[0]}, r"\(N, C, H, W\)"),
        (net, {"data": images[:, :2], "proxies": ["params"]}, "net failed on one image of shape"),
        (net, {"data": images.to(torch.int64)}, "floating-point"),
        (net, {"data": "images"}, "data must be"),
        (net, {"data": images, "proxies": ["nope"]}, "unknown proxy 'nope'"),
        (net, {"data": images, "proxies": "naswot"}, r"pass \[name\]"),
        (net, {"data": images, "proxies": ["vote"]}, "population"),
        (net, {"data": images, "proxies": ["grad_norm"]}, "need the images' labels"),
        (net, {"data": images, "labels": labels[:3]}, r"labels must have shape \(64,\)"),
        (net, {"data": images, "labels": labels + 10, "proxies": ["snip"]}, r"lie in 0\.\.9"),
        (net, {"data": (images, labels), "labels": labels}, "labels were given twice"),
        (net, {"data": images, "device": "meta"}, "meta"),
        (net, {"data": images, "device": "nonsense"}, "not a torch device name"),
        (net, {"data": images, "device": 3}, "device must be a str or a torch.device"),
        (net, {"data": images, "precision": "float16"}, "precision must be one of"),
        (net, {"data": images, "seed": -1}, "seed must be >= 0"),
        (net, {"data": images, "dataload": "grasp"}, "dataload must be one of random, grouped"),
        (net, {"data": loader(images, labels), "num_batches": 3}, "holds only 2 batch"),
        (net, {"data": images, "dataload": "grouped", "num_classes": 10}, "needs samples_per_class"),
        (net, {"data": images, "samples_per_class": 2}, "go with dataload='grouped'"),
        (net, {"data": images, "dataload": "grouped", "num_classes": 10, "samples_per_class": 1},
         "must have labels"),
        (net, {"data": loader(images, labels), "dataload": "grouped", "num_classes": 10,
               "samples_per_class": 50}, "ran out before every class had 50 images"),
        (net, {"data": images, "proxies": ["az_trainability"]}, "lacks it"),
        (nn.Sequential(nn.Conv2d(3, 4, 3)), {"data": images, "proxies": ["naswot"]},
         r"logits of shape \(N, classes\)"),
    ]


def test_each_bad_input_is_one_line_naming_what_was_wrong(cifar):
    images, labels = cifar
    for net, kwargs, words in _errors(images, labels):
        data = kwargs.pop("data")
        with pytest.raises(TfnasError, match=words) as exc:
            measure(net, data, **kwargs)  # type: ignore[arg-type]
        one_line(exc)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_an_unavailable_device_is_one_line(cifar):
    images, _ = cifar
    for device in ("cuda", "cuda:0", torch.device("cuda", 1)):
        with pytest.raises(ArgumentError, match="not available") as exc:
            measure(resnet(), images, ["params"], device=device)
        one_line(exc)


# --- torchvision, where it is installed ------------------------------------------------------------


def test_torchvision_resnet18_gets_every_general_proxy_and_stays_as_it_was(cifar):
    models = pytest.importorskip("torchvision.models")
    images, labels = cifar
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = models.resnet18(num_classes=10)
    net.train()
    nn.functional.cross_entropy(net(images[:4]), labels[:4]).backward()
    net.layer4.eval()
    before = snapshot(net)
    scores = measure(net, loader(images, labels, 32))
    assert tuple(scores) == general_proxies()
    assert all(not math.isnan(v) for v in scores.values()), scores
    assert_same(before, snapshot(net))
    assert scores["params"] == 11_181_642.0


def test_torchvision_mobilenet_v2_pools_with_a_function_and_has_no_relu_so_zen_and_nwot_say_so(
        cifar):
    models = pytest.importorskip("torchvision.models")
    images, labels = cifar
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = models.mobilenet_v2(num_classes=10)
    with pytest.raises(UnsupportedNetworkError, match="global pooling") as exc:
        measure(net, images[:16], ["zen"])
    one_line(exc)
    with pytest.raises(UnsupportedNetworkError, match="no nn.ReLU") as exc:  # ReLU6 only
        measure(net, images[:16], ["nwot"])
    one_line(exc)
    names = [n for n in general_proxies() if n not in ("zen", "nwot")]
    scores = measure(net, (images[:32], labels[:32]), names)
    assert all(not math.isnan(v) for v in scores.values()), scores
