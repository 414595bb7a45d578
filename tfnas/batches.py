"""One batch of images (and labels) taken from a tensor, a pair or a loader.

:func:`gather` is how :func:`tfnas.measuring.measure` reads its ``data``: an NCHW float tensor
(labels separately), an ``(images, labels)`` pair, or any iterable of batches such as a torch
``DataLoader`` (each batch an ``(images, labels)`` pair, or images alone). From a loader it takes
the batch in one of the two ways zero-cost-nas' ``dataload_info`` offers (``find_measures`` in
``foresight/pruners/predictive.py``):

* ``"random"``: the first ``num_batches`` batches, concatenated (a shuffling loader makes them a
  random sample; ``get_some_data``);
* ``"grouped"``: ``samples_per_class`` images of each of the classes ``0..num_classes-1``, in
  class order, each class in the order the loader yields it (GraSP's data loading,
  ``get_some_data_grasp``). Batches are read until every class is full; unlike zero-cost-nas,
  which reads until each class has been seen once more after it is full, reading stops as soon
  as the last class is full, and a loader that runs out first is a one-line error rather than a
  ``StopIteration``.

Reading a loader is the caller's iteration: a shuffling ``DataLoader`` draws its order as it
always does (from its own generator or torch's global RNG).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch

from tfnas.checks import ArgumentError, ArgumentTypeError, check_int
from tfnas.errors import shown
from tfnas.proxies.registry import check_labels

DATALOADS = ("random", "grouped")
"""The ways to take a batch from a loader (module docstring)."""


@dataclass(frozen=True)
class Batch:
    """Images ``(N, C, H, W)`` (floating point) and their int64 labels ``(N,)``, or ``None``."""

    images: torch.Tensor
    labels: torch.Tensor | None


def _one(images: object, labels: object, where: str) -> Batch:
    """A checked batch: 4-D non-empty floating-point images, labels (if any) one int64 per image."""
    if not isinstance(images, torch.Tensor):
        raise ArgumentTypeError(f"{where}: images must be a torch.Tensor, got {type(images).__name__}")
    if images.dim() != 4 or images.shape[0] < 1 or not images.is_floating_point():
        raise ArgumentError(
            f"{where}: images must be a non-empty (N, C, H, W) floating-point batch, got shape "
            f"{tuple(images.shape)} of {images.dtype}")
    if labels is not None:
        labels = check_labels(labels, int(images.shape[0]))
    return Batch(images, labels)


def _is_pair(data: object) -> bool:
    """``(images, labels)``: two items, a tensor of images and a 1-D tensor (or ``None``)."""
    return (isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], torch.Tensor)
            and data[0].dim() == 4
            and (data[1] is None or (isinstance(data[1], torch.Tensor) and data[1].dim() <= 1)))


def _split(item: object, where: str) -> Batch:
    """A loader's batch: images alone, ``(images,)`` or ``(images, labels)``."""
    if isinstance(item, torch.Tensor):
        return _one(item, None, where)
    if isinstance(item, (tuple, list)) and len(item) in (1, 2):
        return _one(item[0], item[1] if len(item) == 2 else None, where)
    raise ArgumentTypeError(
        f"{where} must be images or an (images, labels) pair, got {type(item).__name__}"
        + (f" of {len(item)} items" if isinstance(item, (tuple, list)) else ""))


def batches(data: object, labels: object = None) -> Iterator[Batch]:
    """The batches of ``data`` (module docstring), checked one by one as they are read."""
    if isinstance(data, torch.Tensor):
        yield _one(data, labels, "data")
        return
    if _is_pair(data):
        if labels is not None:
            raise ArgumentError("labels were given twice: in the (images, labels) pair and as labels=")
        yield _one(data[0], data[1], "data")
        return
    if labels is not None:
        raise ArgumentError(
            "labels= goes with a tensor of images; a loader yields its own (images, labels) batches")
    if isinstance(data, (str, bytes, dict)) or not isinstance(data, Iterable):
        raise ArgumentTypeError(
            "data must be an (N, C, H, W) tensor, an (images, labels) pair or an iterable of "
            f"batches such as a torch DataLoader, got {type(data).__name__}")
    for index, item in enumerate(data):
        yield _split(item, f"batch {index} of the data")


def _concatenate(parts: list[Batch]) -> Batch:
    shapes = {tuple(p.images.shape[1:]) for p in parts}
    if len(shapes) > 1:
        raise ArgumentError(
            f"the batches' images differ in shape (C, H, W): {', '.join(map(str, sorted(shapes)))}")
    dtypes = {p.images.dtype for p in parts}
    if len(dtypes) > 1:
        raise ArgumentError(f"the batches' images differ in dtype: {', '.join(map(str, dtypes))}")
    labelled = {p.labels is not None for p in parts}
    if len(labelled) > 1:
        raise ArgumentError("some batches have labels and others none; give labels with every batch")
    images = parts[0].images if len(parts) == 1 else torch.cat([p.images for p in parts])
    if not labelled.pop():
        return Batch(images, None)
    labels = parts[0].labels if len(parts) == 1 else torch.cat([p.labels for p in parts])  # type: ignore[misc]
    return Batch(images, labels)


def first_batches(data: object, labels: object = None, num_batches: int = 1) -> Batch:
    """The first ``num_batches`` batches of ``data``, concatenated (``dataload="random"``)."""
    num_batches = check_int("num_batches", num_batches, 1)
    parts: list[Batch] = []
    for batch in batches(data, labels):
        parts.append(batch)
        if len(parts) == num_batches:
            break
    if not parts:
        raise ArgumentError("data holds no batch: the loader is empty")
    if len(parts) < num_batches:
        raise ArgumentError(
            f"num_batches={num_batches} asked, but the data holds only {len(parts)} batch(es)")
    return _concatenate(parts)


def grouped(data: object, num_classes: int, samples_per_class: int, labels: object = None) -> Batch:
    """``samples_per_class`` images of each class ``0..num_classes-1``, in class order
    (``dataload="grouped"``, module docstring)."""
    num_classes = check_int("num_classes", num_classes, 1)
    samples_per_class = check_int("samples_per_class", samples_per_class, 1)
    taken: list[list[torch.Tensor]] = [[] for _ in range(num_classes)]
    missing = num_classes * samples_per_class
    shape = dtype = None
    for batch in batches(data, labels):
        if batch.labels is None:
            raise ArgumentError(
                "dataload='grouped' picks images by class: the data must have labels")
        if shape is None:
            shape, dtype = tuple(batch.images.shape[1:]), batch.images.dtype
        elif (tuple(batch.images.shape[1:]), batch.images.dtype) != (shape, dtype):
            raise ArgumentError(
                f"the batches' images differ: {shape} {dtype} then "
                f"{tuple(batch.images.shape[1:])} {batch.images.dtype}")
        low, high = int(batch.labels.min()), int(batch.labels.max())
        if low < 0 or high >= num_classes:
            raise ArgumentError(
                f"labels must lie in 0..{num_classes - 1} (num_classes={num_classes}), got "
                f"{low}..{high}")
        for index, label in enumerate(batch.labels.tolist()):
            if len(taken[label]) < samples_per_class:
                taken[label].append(batch.images[index : index + 1])
                missing -= 1
        if missing == 0:
            break
    if missing:
        short = [f"{c} ({len(t)})" for c, t in enumerate(taken) if len(t) < samples_per_class]
        raise ArgumentError(
            f"the data ran out before every class had {samples_per_class} images; short: "
            f"{shown(', '.join(short), 200)}")
    images = torch.cat([image for group in taken for image in group])
    classes = torch.arange(num_classes, device=images.device).repeat_interleave(samples_per_class)
    return Batch(images, classes)


def gather(data: object, *, labels: object = None, dataload: str = "random", num_batches: int = 1,
           samples_per_class: int | None = None, num_classes: int | None = None) -> Batch:
    """The batch ``data`` gives under ``dataload`` (module docstring); bad input in one line."""
    if dataload not in DATALOADS:
        raise ArgumentError(f"dataload must be one of {', '.join(DATALOADS)}, got {shown(dataload)}")
    if dataload == "random":
        if samples_per_class is not None or num_classes is not None:
            raise ArgumentError(
                "samples_per_class and num_classes go with dataload='grouped'; 'random' takes "
                "the first num_batches batches")
        return first_batches(data, labels, num_batches)
    if num_batches != 1:
        raise ArgumentError("num_batches goes with dataload='random'; 'grouped' reads what it needs")
    if samples_per_class is None or num_classes is None:
        raise ArgumentError("dataload='grouped' needs samples_per_class= and num_classes=")
    return grouped(data, num_classes, samples_per_class, labels)


__all__ = ["DATALOADS", "Batch", "batches", "first_batches", "gather", "grouped"]
