"""The proxy registry: built-ins registered where they are defined, third-party ones by entry point.

A proxy module decorates its scoring function with :func:`register_proxy`, declaring what the
proxy needs (:class:`Needs`). Every module of the :mod:`tfnas.proxies` package is imported on the
first lookup, so a new built-in proxy is one new file. Installed packages add proxies through the
entry-point group ``tfnas.proxies`` (loaded on the same first lookup, after the built-ins).

A broken entry point (its name taken, its module failing to import, its object not callable) is
refused loudly, as pytest refuses a broken plugin: every lookup and listing then raises a one-line
:class:`ProxyEntryPointError` naming the entry point and its package, instead of silently dropping
the proxy and letting a run score something else.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from tfnas.checks import ArgumentError, ArgumentTypeError, check_batch_size
from tfnas.errors import TfnasError, one_line, shown, shown_path

ENTRY_POINT_GROUP = "tfnas.proxies"
DEFAULT_PROXY = "naswot"

_PACKAGE = "tfnas.proxies"
_FIRST_MODULES = ("naswot", "synflow", "counts")
"""Modules whose proxies are listed first, in this order (the order tfnas has always listed its
five original proxies in); every other module of the package follows in file-name order."""


class UnknownProxyError(ArgumentError):
    """A proxy name that no module or entry point registered."""


class ProxyRegistrationError(TfnasError, ValueError):
    """A registration that cannot stand: a taken name, or needs that contradict each other."""


class ProxyEntryPointError(ProxyRegistrationError):
    """A ``tfnas.proxies`` entry point that collides with a known proxy, fails to load or is unusable."""


@dataclass(frozen=True)
class Needs:
    """What a proxy needs to score a network; :meth:`Proxy.__call__` passes exactly that.

    ``data``: a batch of images (the function is called ``f(network, images)``); ``labels``: the
    batch's int64 labels too (``f(network, images, labels)``); ``resolution``: for a data-free proxy,
    the input size (``f(network, resolution, channels)``; with neither, ``f(network)``).
    ``bn_free`` (it scores a BatchNorm-free copy) and ``float64`` (it computes in float64) are
    informational.
    """

    data: bool = False
    labels: bool = False
    resolution: bool = False
    bn_free: bool = False
    float64: bool = False
    random: bool = False
    """It draws random numbers (Gaussian inputs or weights): the function also gets the keyword
    ``generator=<torch.Generator>``, which the scoring rule seeds from the cell and run seed."""

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            if not isinstance(getattr(self, field.name), bool):
                raise ProxyRegistrationError(
                    f"Needs.{field.name} must be a bool, got {shown(getattr(self, field.name))}")
        if self.labels and not self.data:
            raise ProxyRegistrationError("a proxy that needs labels needs data too: pass data=True")
        if self.data and self.resolution:
            raise ProxyRegistrationError(
                "a proxy needs data or a resolution, not both: a data proxy reads the input size "
                "from its images")


@dataclass(frozen=True)
class Proxy:
    """A named scoring function of an initialised network (higher = predicted better).

    ``origin`` is the defining module (``tfnas.proxies.naswot``) or, for a proxy from an entry
    point, ``"<distribution>==<version>"``.
    """

    name: str
    function: Callable[..., float]
    needs: Needs
    help: str = ""
    origin: str = ""
    table: bool = True
    """Whether ``scripts/sweep-all`` sweeps it into a committed score table by default."""
    batch_size: int | None = None
    """The batch size of the proxy's reference recipe (e.g. 64 for zero-cost-nas' gradient
    proxies); ``None``: the scoring default (:data:`tfnas.scoring.DEFAULT_BATCH`). For a data-free
    proxy it says that the proxy draws an input batch of its own (zen, the AZ-NAS components):
    its function then takes the keyword ``batch_size=`` (this value by default); a data-free proxy
    without one takes no batch at all (:attr:`takes_batch`)."""
    max_batch_size: int | None = None
    """The largest batch the scoring rule accepts for it (its measured peak memory on the largest
    cell at 32x32 fits :data:`tfnas.scoring.MEMORY_BUDGET_GIB` up to there); ``None``: every
    batch up to :data:`tfnas.checks.MAX_BATCH_SIZE`."""
    uses: frozenset[str] = frozenset()
    """Products of the shared forward/backward pass (:mod:`tfnas.proxies.passes`) the proxy reads;
    proxies scored together on one cell with the same batch get them from one pass."""
    reference: str = ""
    """Where the definition comes from: paper and the anchor's code file, in one line."""
    variant: str = ""
    """The recipe's variant choices in one paragraph (network, batch, labels, loss, mode, init,
    sign, aggregation, non-finite rule); written into every score table's provenance."""
    tolerance: tuple[float, float] = (0.0, 1e-6)
    """``(relative, absolute)``: how far a recomputation on another machine (another BLAS, another
    summation order) may land from a committed table's score (the spot check's rule). The
    proxy's docstring says why its values are right."""
    members: tuple[str, ...] = ()
    """For an ensemble (``vote``, ``az_nas``): the proxies it combines. Its function then maps
    ``{member: scores of a population of cells}`` to the population's scores (or, for a pairwise
    rule, to a ranking score) instead of scoring one network."""
    structure: str | None = None
    """``None``: defined for any network that maps images to logits. Else the key of
    :data:`STRUCTURES` naming the structure it reads (``"cells"``: the NATS-Bench cell network's
    stem and cell feature maps), which a general model lacks."""

    @property
    def ensemble(self) -> bool:
        """True for a proxy that combines other proxies' scores over a population of cells."""
        return bool(self.members)

    @property
    def builtin(self) -> bool:
        """True for a proxy defined in the :mod:`tfnas.proxies` package."""
        return self.origin.startswith(_PACKAGE + ".")

    @property
    def draws_batch(self) -> bool:
        """True for a data-free proxy that draws its own input batch (it registers a batch size)."""
        return not self.needs.data and not self.ensemble and self.batch_size is not None

    @property
    def takes_batch(self) -> bool:
        """True when its value depends on a batch size: it reads a batch of images or draws one.

        The scoring rule keys and scores a proxy that takes none at one fixed batch, whatever
        batch is asked for (:func:`tfnas.scoring.batch_for`).
        """
        return self.needs.data or self.draws_batch

    @property
    def needs_data(self) -> bool:
        """Shorthand for ``needs.data`` (the name the callers used before :class:`Needs`)."""
        return self.needs.data

    def __call__(
        self,
        network: nn.Module,
        images: torch.Tensor | None = None,
        resolution: int | tuple[int, int] | None = None,
        labels: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        batch_size: int | None = None,
    ) -> float:
        """The score of ``network``; passes the function what :attr:`needs` declares.

        ``images`` is an NCHW float batch; ``labels`` its int64 labels, shape ``(N,)``; a
        data-free proxy takes the size from ``resolution`` (int or ``(h, w)``) or else from
        ``images``; a proxy that draws random numbers needs ``generator``; ``batch_size`` is the
        size of the batch a proxy that :attr:`draws_batch` draws (default: its registered one),
        refused for any other proxy (its batch, if any, is ``images``).
        """
        extra: dict[str, object] = {}
        if batch_size is not None:
            if not self.draws_batch:
                raise ArgumentError(
                    f"proxy {self.name!r} draws no input batch of its own: pass no batch_size= "
                    "(a data proxy's batch is its images)")
            extra["batch_size"] = check_batch_size(batch_size)
        if self.needs.random:
            if not isinstance(generator, torch.Generator):
                raise ArgumentTypeError(
                    f"proxy {self.name!r} draws random numbers: pass generator=<torch.Generator>, "
                    f"got {type(generator).__name__}")
            extra["generator"] = generator
        if self.ensemble:
            raise ArgumentError(
                f"proxy {self.name!r} combines {', '.join(self.members)} over a population of "
                "cells, not one network: score it with tfnas.members.score_population")
        if images is not None and not isinstance(images, torch.Tensor):
            raise ArgumentTypeError(
                f"images must be a torch.Tensor or None, got {type(images).__name__}")
        if images is not None and images.dim() != 4:
            raise ArgumentError(
                f"images must be an NCHW batch (4 dimensions), got shape {tuple(images.shape)}")
        if labels is not None:
            if images is None:
                raise ArgumentError("labels were given without images; pass the batch they label")
            check_labels(labels, images.shape[0])
        if self.needs.data:
            if images is None:
                raise ArgumentError(f"proxy {self.name!r} needs a batch of images, got images=None")
            if not self.needs.labels:
                return float(self.function(network, images, **extra))
            if labels is None:
                raise ArgumentError(
                    f"proxy {self.name!r} needs the batch's labels, got labels=None; pass "
                    "labels=<int64 tensor of shape (N,)>")
            return float(self.function(network, images, labels, **extra))
        if not self.needs.resolution:
            return float(self.function(network, **extra))
        if resolution is None:
            if images is None:
                raise ArgumentError(
                    f"proxy {self.name!r} is data-free but needs the input size: pass "
                    "resolution=<int or (h, w)> or a batch of images")
            resolution = (images.shape[2], images.shape[3])
        channels = images.shape[1] if images is not None else 3
        return float(self.function(network, resolution, channels, **extra))


def check_labels(labels: object, count: int) -> torch.Tensor:
    """``labels`` if they are an int64 tensor of shape ``(count,)``, one per image; else one line."""
    if not isinstance(labels, torch.Tensor):
        raise ArgumentTypeError(f"labels must be a torch.Tensor or None, got {type(labels).__name__}")
    if labels.dtype != torch.int64:
        raise ArgumentTypeError(f"labels must be int64 class indices, got {labels.dtype}")
    if tuple(labels.shape) != (count,):
        raise ArgumentError(
            f"labels must have shape ({count},), one per image, got {tuple(labels.shape)}")
    return labels


STRUCTURES = {
    "cells": "the NATS-Bench cell structure (a stem, cells and lastact whose feature maps it reads)",
}
"""What a proxy's ``structure`` may name, and what that structure is, in words."""


_PROXIES: dict[str, Proxy] = {}
_discovered = False  # the package's modules are imported
_entry_points_loaded = False


def _add(proxy: Proxy) -> None:
    known = _PROXIES.get(proxy.name)
    if known is not None and known.function is not proxy.function:
        raise ProxyRegistrationError(
            f"a proxy {shown(proxy.name)} is already registered ({_where(known)}); "
            "choose another name")
    _PROXIES.setdefault(proxy.name, proxy)  # the same function again (a re-import): as it was


def _where(proxy: Proxy) -> str:
    function = proxy.function
    qualname = getattr(function, "__qualname__", type(function).__name__)
    return f"{getattr(function, '__module__', proxy.origin)}.{qualname}"


_ATTRIBUTE = "__tfnas_proxy__"


def register_proxy(name: str, *, data: bool = False, labels: bool = False,
                   resolution: bool = False, bn_free: bool = False, float64: bool = False,
                   random: bool = False, help: str = "", table: bool = True, batch_size: int | None = None,
                   uses: tuple[str, ...] | frozenset[str] = (), reference: str = "", variant: str = "",
                   members: tuple[str, ...] = (), max_batch_size: int | None = None,
                   tolerance: tuple[float, float] = (0.0, 1e-6),
                   structure: str | None = None) -> Callable[[Callable[..., float]], Callable[..., float]]:
    """Decorator: register the decorated function as the proxy ``name`` with these needs.

    The function is returned unchanged (its :class:`Proxy` is also its ``__tfnas_proxy__``
    attribute, which an entry point may name). ``help`` defaults to the docstring's first line;
    ``table=False`` keeps it out of the default set of ``scripts/sweep-all``; ``batch_size`` is the
    reference recipe's batch (for a data-free proxy: the Gaussian batch it draws, passed to it as
    ``batch_size=``); ``max_batch_size`` the largest batch it may be scored with (memory); ``reference`` names the paper and anchor code; ``uses`` names the shared-pass products it reads; ``variant``
    states its recipe's choices; ``members`` makes it an ensemble of those proxies; ``tolerance``
    is ``(relative, absolute)`` agreement of a recomputation elsewhere with a committed table;
    ``structure`` names the network structure it needs (a key of :data:`STRUCTURES`; ``None``:
    any network). Registering
    another function under a taken name raises :class:`ProxyRegistrationError`.
    """
    _check_name(name, ProxyRegistrationError)
    needs = Needs(data=data, labels=labels, resolution=resolution, bn_free=bn_free, float64=float64,
                  random=random)
    for field, value in (("batch_size", batch_size), ("max_batch_size", max_batch_size)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ProxyRegistrationError(
                f"proxy {name!r}: {field} must be a positive int or None, got {shown(value)}")
    if max_batch_size is not None and max_batch_size < (batch_size or 1):
        raise ProxyRegistrationError(
            f"proxy {name!r}: max_batch_size {max_batch_size} is below its batch_size {batch_size}")
    if max_batch_size is not None and not (data or batch_size is not None):
        raise ProxyRegistrationError(
            f"proxy {name!r}: max_batch_size bounds a batch; a data-free proxy without batch_size "
            "takes none")
    if uses and not needs.data:
        raise ProxyRegistrationError(
            f"proxy {name!r}: the shared pass runs on a batch of images: pass data=True with uses=")
    if members and (needs.data or needs.resolution or uses):
        raise ProxyRegistrationError(
            f"proxy {name!r}: an ensemble combines its members' scores; it declares no data, "
            "resolution or pass products of its own")
    for member in members:
        _check_name(member, ProxyRegistrationError, f"proxy {name!r}: member: ")
    if (not isinstance(tolerance, tuple) or len(tolerance) != 2
            or not all(isinstance(t, int | float) and 0 <= t < 1 for t in tolerance)):
        raise ProxyRegistrationError(
            f"proxy {name!r}: tolerance must be (relative, absolute), each in [0, 1), got "
            f"{shown(tolerance)}")

    if structure is not None and structure not in STRUCTURES:
        raise ProxyRegistrationError(
            f"proxy {name!r}: structure must be None or one of {', '.join(STRUCTURES)}, got "
            f"{shown(structure)}")
    if structure is not None and members:
        raise ProxyRegistrationError(
            f"proxy {name!r}: an ensemble scores no network, so it needs no structure")

    def wrap(function: Callable[..., float]) -> Callable[..., float]:
        if not callable(function):
            raise ProxyRegistrationError(f"proxy {name!r}: expected a function, got {shown(function)}")
        text = help or _first_line(function)
        proxy = Proxy(name, function, needs, text, getattr(function, "__module__", "") or "", table,
                      batch_size=batch_size, max_batch_size=max_batch_size,
                      uses=frozenset(uses), reference=reference,
                      variant=variant, members=tuple(members),
                      tolerance=(float(tolerance[0]), float(tolerance[1])),
                      structure=structure)
        _add(proxy)
        setattr(function, _ATTRIBUTE, proxy)
        return function

    return wrap


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*", re.ASCII)


def _check_name(name: object, error: type[ProxyRegistrationError], where: str = "") -> None:
    if not isinstance(name, str) or len(name) > 64 or not _NAME.fullmatch(name):
        raise error(
            f"{where}a proxy name must be ASCII letters, digits and '_' (at most 64, a letter "
            f"first: it is a CLI value and part of a table's file name), got {shown(name)}")


def _first_line(function: object) -> str:
    doc = getattr(function, "__doc__", None) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _module_rank(module: str) -> tuple[int, str]:
    short = module.rpartition(".")[2]
    return (_FIRST_MODULES.index(short), "") if short in _FIRST_MODULES else (len(_FIRST_MODULES), short)


def _discover() -> None:
    """Import every public module of the :mod:`tfnas.proxies` package (once): they register."""
    global _discovered
    if _discovered:
        return
    package = importlib.import_module(_PACKAGE)
    names = sorted((info.name for info in pkgutil.iter_modules(package.__path__)
                    if not info.name.startswith("_")), key=_module_rank)
    for name in names:
        importlib.import_module(f"{_PACKAGE}.{name}")
    _discovered = True


def _distribution(entry: importlib.metadata.EntryPoint) -> str:
    dist = getattr(entry, "dist", None)
    if dist is None:
        return "an unknown distribution"
    # A package's metadata is input like any other: shown as it is only when short and printable.
    return shown_path(f"{dist.metadata['Name'] or dist.name}=={dist.version}")


def _from_entry_point(entry: importlib.metadata.EntryPoint, origin: str) -> Proxy:
    """The proxy an entry point names: a :class:`Proxy`, a decorated function or a plain callable."""
    where = f"entry point {entry.name!r} ({shown_path(entry.value)}) of {origin}"
    try:
        target = entry.load()
    except Exception as exc:  # any import-time failure of someone else's package
        raise ProxyEntryPointError(
            f"{where} failed to load: {type(exc).__name__}: {one_line(exc, 200)}; fix or uninstall "
            "that package") from exc
    proxy = target if isinstance(target, Proxy) else getattr(target, _ATTRIBUTE, None)
    if isinstance(proxy, Proxy):
        if proxy.name != entry.name:
            raise ProxyEntryPointError(
                f"{where} names the proxy registered as {proxy.name!r}; the entry point's name "
                "must be the proxy's name")
        return dataclasses.replace(proxy, origin=origin)
    if not callable(target):
        raise ProxyEntryPointError(
            f"{where} is not callable (a {type(target).__name__}); expected a function "
            "f(network, images) -> float or one decorated with tfnas.proxies.register_proxy")
    return Proxy(entry.name, target, Needs(data=True), _first_line(target), origin)


def _load_entry_points() -> None:
    """Register every ``tfnas.proxies`` entry point (once); refuse collisions and broken ones."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    builtins = {name: p for name, p in _PROXIES.items() if p.builtin}
    seen: dict[str, str] = {}
    loaded: list[Proxy] = []
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        origin = _distribution(entry)
        _check_name(entry.name, ProxyEntryPointError, f"entry point of {origin}: ")
        if entry.name in builtins:
            raise ProxyEntryPointError(
                f"entry point {entry.name!r} of {origin} collides with the built-in proxy "
                f"{entry.name!r} ({_where(builtins[entry.name])}); rename the entry point or "
                "uninstall that package")
        if entry.name in seen:
            raise ProxyEntryPointError(
                f"entry point {entry.name!r} is declared by both {seen[entry.name]} and {origin}; "
                "uninstall one of them")
        seen[entry.name] = origin
        loaded.append(_from_entry_point(entry, origin))
    for proxy in loaded:
        known = _PROXIES.get(proxy.name)
        if known is not None and known.function is not proxy.function:
            raise ProxyEntryPointError(
                f"entry point {proxy.name!r} of {proxy.origin} collides with the proxy "
                f"{proxy.name!r} registered by {_where(known)}")
        _PROXIES[proxy.name] = proxy
    _entry_points_loaded = True


def _registry() -> dict[str, Proxy]:
    _discover()
    _load_entry_points()
    return _PROXIES


def _order(proxy: Proxy) -> tuple:
    if not proxy.builtin:
        return (1, proxy.name)
    code = getattr(proxy.function, "__code__", None)
    line = code.co_firstlineno if code is not None else 0
    return (0, proxy.name != DEFAULT_PROXY, _module_rank(proxy.origin), line)


def proxy_names() -> tuple[str, ...]:
    """Every known proxy: the built-ins (the default first, then by module and definition order),
    then the others (entry points, registrations at run time) sorted by name."""
    return tuple(sorted(_registry(), key=lambda name: _order(_PROXIES[name])))


def get_proxy(name: str) -> Proxy:
    """The proxy called ``name`` (one of :func:`proxy_names`)."""
    if not isinstance(name, str):
        raise ArgumentTypeError(f"proxy name must be a str, got {type(name).__name__}")
    registry = _registry()
    if name not in registry:
        raise UnknownProxyError(f"unknown proxy {shown(name)}; known proxies: {', '.join(proxy_names())}")
    return registry[name]


def proxies() -> tuple[Proxy, ...]:
    """Every known :class:`Proxy`, in :func:`proxy_names` order."""
    return tuple(_PROXIES[name] for name in proxy_names())


__all__ = [
    "DEFAULT_PROXY", "ENTRY_POINT_GROUP", "STRUCTURES", "Needs", "Proxy", "ProxyEntryPointError",
    "ProxyRegistrationError", "UnknownProxyError", "get_proxy", "proxies", "proxy_names",
    "register_proxy",
]
