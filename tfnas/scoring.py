"""Score one cell with one proxy under the project's fixed scoring rule.

For ``(arch, proxy, dataset, seed, batch_size)``: the network is built for the dataset's class
count and initialised from a ``torch.Generator`` seeded with :func:`cell_seed` (a function of the
arch string and the seed only, so any order or partition of work gives the same bits); it stays
in train mode (NASWOT's setting: BatchNorm uses batch statistics); data-dependent proxies see
``load_batch(dataset, seed, batch_size).images`` (and its ``.labels`` when they need labels), one
batch shared by all cells; data-free ones see only the dataset's resolution.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from tfnas.checks import (
    ArgumentError,
    ArgumentTypeError,
    check_batch_size,
    check_seed,
)
from tfnas.proxies import get_proxy
from tfnas.proxies.registry import check_labels
from tfnas.space import Arch
from tfnas.spaces import SearchSpace, resolve

if TYPE_CHECKING:
    from tfnas.datasets import ImageBatch

SCORING_VERSION = "1"
"""Bumped whenever a proxy's numbers change meaning; part of every store key."""

_SEED_BITS = 63  # fits every consumer of a seed (torch, numpy, signed 64-bit SQLite)


def cell_seed(arch: Arch | str, seed: int, space: str | SearchSpace | None = None) -> int:
    """The network-init seed of ``arch`` under run seed ``seed``: 63 bits of sha256(f"{seed}|{arch}")."""
    arch, _ = resolve(arch, space)
    check_seed(seed)
    digest = hashlib.sha256(f"{seed}|{arch}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - _SEED_BITS)


@dataclass(frozen=True)
class ScoreSettings:
    """Everything besides (proxy, dataset, arch) that a stored score depends on."""

    seed: int
    batch_size: int
    # Identity of the proxy batch (sha256 of the source files' bytes + the selected indices);
    # "" when data-free. It covers the labels too: they are read from the same files at the
    # same indices.
    data: str
    scoring_version: str = SCORING_VERSION
    origin: str = ""
    """``"<distribution>==<version>"`` of a proxy from an installed package (an upgrade then
    gives new keys); "" for the built-ins and left out of their key, which stays as it was."""

    def key(self) -> str:
        """Canonical JSON text (sorted keys, no spaces): the store key's "settings" part."""
        fields = asdict(self)
        if not fields["origin"]:
            del fields["origin"]
        return json.dumps(fields, sort_keys=True, separators=(",", ":"))


def settings_key(proxy: str, dataset: str, seed: int, batch_size: int) -> str:
    """The store key's settings for scoring with ``proxy`` on ``dataset`` (loads the batch once)."""
    from tfnas.datasets import get_dataset, load_batch

    spec = get_proxy(proxy)
    get_dataset(dataset)
    check_seed(seed)
    check_batch_size(batch_size)
    data = load_batch(dataset, seed, batch_size).identity if spec.needs.data else ""
    origin = "" if spec.builtin else spec.origin
    return ScoreSettings(seed=seed, batch_size=batch_size, data=data, origin=origin).key()


def _check_batch(batch: object, batch_size: int, resolution: int, dataset: str) -> torch.Tensor:
    if not isinstance(batch, torch.Tensor):
        raise ArgumentTypeError(
            f"batch must be a torch.Tensor or None, got {type(batch).__name__}"
        )
    if batch.dtype != torch.float32:
        raise ArgumentTypeError(f"batch must be float32 (normalised images), got {batch.dtype}")
    expected = (batch_size, 3, resolution, resolution)
    if tuple(batch.shape) != expected:
        raise ArgumentError(
            f"batch for {dataset} must have shape (batch_size, 3, {resolution}, {resolution}) = "
            f"{expected}, got {tuple(batch.shape)}"
        )
    return batch


def _check_labels(labels: object, batch_size: int, num_classes: int, dataset: str) -> torch.Tensor:
    labels = check_labels(labels, batch_size)
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ArgumentError(
            f"labels for {dataset} must lie in 0..{num_classes - 1}, got "
            f"{int(labels.min())}..{int(labels.max())}")
    return labels


@functools.lru_cache(maxsize=8)
def _shared_batch(root: Path | None, dataset: str, seed: int, batch_size: int) -> ImageBatch:
    # One batch (images and labels) serves every cell of a run; normalising it again per cell
    # cost ~20% of a NASWOT score. ``root`` keys the cache on TFNAS_DATA; proxies never write
    # into their input.
    from tfnas.datasets import load_batch

    return load_batch(dataset, seed, batch_size)


def score(
    arch: Arch | str,
    proxy: str,
    dataset: str,
    seed: int = 0,
    batch_size: int = 128,
    batch: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
    space: str | SearchSpace | None = None,
) -> float:
    """The ``proxy`` score of ``arch`` on ``dataset`` under the scoring rule (module docstring).

    ``arch`` is a cell of ``space`` (an architecture object names its own space; a string is read
    in the topology space unless ``space`` says otherwise, e.g. ``space="sss"``).

    ``batch`` replaces the loaded images (float32, shape ``(batch_size, 3, R, R)`` with the
    dataset's resolution ``R``); data-free proxies use it only for its size. ``labels`` (int64,
    shape ``(batch_size,)``, in ``0..classes-1``) go with ``batch``; a proxy that needs labels
    then requires them.
    """
    from tfnas.config import data_root
    from tfnas.datasets import get_dataset

    arch, searched = resolve(arch, space)
    spec = get_proxy(proxy)
    data = get_dataset(dataset)
    check_seed(seed)
    check_batch_size(batch_size)
    images = targets = None
    if labels is not None:
        if batch is None:
            raise ArgumentError("labels= goes with batch=: the loaded batch has its own labels")
        targets = _check_labels(labels, batch_size, data.num_classes, dataset)
    if batch is not None:
        images = _check_batch(batch, batch_size, data.resolution, dataset)
        if spec.needs.labels and targets is None:
            raise ArgumentError(f"proxy {proxy!r} needs labels: pass labels= with batch=")
    elif spec.needs.data:
        loaded = _shared_batch(data_root(required=False), dataset, seed, batch_size)
        images, targets = loaded.images, loaded.labels
        if not spec.builtin:  # the cached batch serves every cell: keep it safe from others' code
            images, targets = images.clone(), targets.clone()
    generator = torch.Generator().manual_seed(cell_seed(arch, seed, searched))
    network = searched.build_network(arch, data.num_classes, generator).train()
    return spec(network, images, resolution=data.resolution,
                labels=targets if spec.needs.labels else None)
