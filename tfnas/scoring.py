"""Score one cell with one proxy under the project's fixed scoring rule.

For ``(arch, proxy, dataset, seed, batch_size)``: the network is built for the dataset's class
count and initialised from a ``torch.Generator`` seeded with :func:`cell_seed` (a function of the
arch string and the seed only, so any order or partition of work gives the same bits); it stays
in train mode (NASWOT's setting: BatchNorm uses batch statistics); data-dependent proxies see
``load_batch(dataset, seed, batch_size).images``, one batch shared by all cells; data-free ones
see only the dataset's resolution.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from tfnas.checks import (
    ArgumentError,
    ArgumentTypeError,
    check_batch_size,
    check_seed,
)
from tfnas.network import build_network
from tfnas.proxies import get_proxy
from tfnas.space import Arch, as_arch

SCORING_VERSION = "1"
"""Bumped whenever a proxy's numbers change meaning; part of every store key."""

_SEED_BITS = 63  # fits every consumer of a seed (torch, numpy, signed 64-bit SQLite)


def cell_seed(arch: Arch | str, seed: int) -> int:
    """The network-init seed of ``arch`` under run seed ``seed``: 63 bits of sha256(f"{seed}|{arch}")."""
    arch = as_arch(arch)
    check_seed(seed)
    digest = hashlib.sha256(f"{seed}|{arch}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - _SEED_BITS)


@dataclass(frozen=True)
class ScoreSettings:
    """Everything besides (proxy, dataset, arch) that a stored score depends on."""

    seed: int
    batch_size: int
    data: str  # identity of the proxy batch (sha256 of source + selection); "" when data-free
    scoring_version: str = SCORING_VERSION

    def key(self) -> str:
        """Canonical JSON text (sorted keys, no spaces): the store key's "settings" part."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))


def settings_key(proxy: str, dataset: str, seed: int, batch_size: int) -> str:
    """The store key's settings for scoring with ``proxy`` on ``dataset`` (loads the batch once)."""
    from tfnas.datasets import get_dataset, load_batch

    spec = get_proxy(proxy)
    get_dataset(dataset)
    check_seed(seed)
    check_batch_size(batch_size)
    data = load_batch(dataset, seed, batch_size).identity if spec.needs_data else ""
    return ScoreSettings(seed=seed, batch_size=batch_size, data=data).key()


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


@functools.lru_cache(maxsize=8)
def _shared_batch(root: Path | None, dataset: str, seed: int, batch_size: int) -> torch.Tensor:
    # One batch serves every cell of a run; normalising it again per cell cost ~20% of a NASWOT
    # score. ``root`` keys the cache on TFNAS_DATA; proxies never write into their input.
    from tfnas.datasets import load_batch

    return load_batch(dataset, seed, batch_size).images


def score(
    arch: Arch | str,
    proxy: str,
    dataset: str,
    seed: int = 0,
    batch_size: int = 128,
    batch: torch.Tensor | None = None,
) -> float:
    """The ``proxy`` score of ``arch`` on ``dataset`` under the scoring rule (module docstring).

    ``batch`` replaces the loaded images (float32, shape ``(batch_size, 3, R, R)`` with the
    dataset's resolution ``R``); data-free proxies use it only for its size.
    """
    from tfnas.config import data_root
    from tfnas.datasets import get_dataset

    arch = as_arch(arch)
    spec = get_proxy(proxy)
    data = get_dataset(dataset)
    check_seed(seed)
    check_batch_size(batch_size)
    images = None
    if batch is not None:
        images = _check_batch(batch, batch_size, data.resolution, dataset)
    elif spec.needs_data:
        images = _shared_batch(data_root(required=False), dataset, seed, batch_size)
    generator = torch.Generator().manual_seed(cell_seed(arch, seed))
    network = build_network(arch, data.num_classes, generator).train()
    return spec(network, images, resolution=data.resolution)
