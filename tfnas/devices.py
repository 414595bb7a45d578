"""The devices tfnas scores on: ``"cpu"`` (the default), ``"cuda"``, ``"mps"`` or any other
torch device this process can compute on.

Networks are built and initialised on the CPU from the cell's generator (the same bits on every
machine) and then moved; proxies create their tensors on the network's device and draw their
random numbers on the CPU generator before moving them, so a device changes only the arithmetic's
rounding, never the realisation.
"""

from __future__ import annotations

import torch

from tfnas.checks import ArgumentError, ArgumentTypeError
from tfnas.errors import shown


def _available(device: torch.device) -> bool:
    if device.type == "cpu":
        return True
    if device.type == "mps":
        return bool(torch.backends.mps.is_available())
    backend = getattr(torch, device.type, None)
    is_available = getattr(backend, "is_available", None)
    if not callable(is_available) or not is_available():
        return False
    count = getattr(backend, "device_count", None)
    return device.index is None or not callable(count) or device.index < count()


def check_device(device: object = None) -> torch.device:
    """``device`` (``None`` for the CPU, a ``str`` such as ``"cuda:0"`` or a :class:`torch.device`)
    as a :class:`torch.device` this process can compute on; else a one-line error.

    ``"meta"`` is refused: a meta tensor has a shape but no values, so nothing can be scored there.
    """
    if device is None:
        return torch.device("cpu")
    if not isinstance(device, (str, torch.device)):
        raise ArgumentTypeError(
            f"device must be a str or a torch.device, got {type(device).__name__} {shown(device)}")
    try:
        resolved = torch.device(device)
    except (RuntimeError, ValueError):
        raise ArgumentError(
            f"device {shown(device)} is not a torch device name; expected e.g. 'cpu', 'cuda', "
            "'cuda:0' or 'mps'") from None
    if resolved.type == "meta":
        raise ArgumentError(
            "device 'meta' holds shapes without values, so nothing can be scored there; expected "
            "'cpu' or an available accelerator")
    if not _available(resolved):
        raise ArgumentError(
            f"device {shown(str(resolved))} is not available in this process (torch "
            f"{torch.__version__}); expected 'cpu' or an available accelerator")
    return resolved


__all__ = ["check_device"]
