"""Training-free proxies, by name: the registry (:mod:`tfnas.proxies.registry`) and its lookups.

A :class:`Proxy` is called as ``proxy(network, images=None, resolution=None, labels=None) ->
float`` and passes its function what its :class:`Needs` declare: data proxies get the NCHW float
``images`` (and, with ``labels=True``, the batch's int64 ``labels``); data-free ones get the input
size from ``resolution`` (int or ``(h, w)``) or else from the height and width of ``images``.
:func:`proxy_names` lists every proxy; :func:`get_proxy` looks one up; ``naswot`` is the default.

**Adding a built-in proxy** is one new file in this package (plus its tests), e.g.
``tfnas/proxies/gradnorm.py``::

    from tfnas.proxies.registry import register_proxy

    @register_proxy("grad_norm", data=True, labels=True)
    def grad_norm(network, images, labels) -> float:
        ...  # the docstring's first line becomes the proxy's help

Every module of the package is imported on the first lookup; nothing else is edited. The
signature follows the needs: ``f(network, images)`` (``data=True``), ``f(network, images,
labels)`` (``labels=True``), ``f(network, resolution, channels)`` (``resolution=True``) or
``f(network)``.

**A third-party proxy** lives in any installed package that declares the entry-point group
``tfnas.proxies``; in its ``pyproject.toml``::

    [project.entry-points."tfnas.proxies"]
    myproxy = "mypkg.module:fn"

``fn`` is either decorated with :func:`register_proxy` (``@register_proxy("myproxy", ...)``, the
same name as the entry point) or a plain callable ``fn(network, images) -> float`` (then it needs
data and no labels). ``tfnas score --proxy myproxy``, ``tfnas.score(...)``, ``tfnas sweep`` and
the searches then accept it. An entry point named like a built-in, or one that fails to import,
is refused with a one-line :class:`ProxyEntryPointError` on every lookup (see the registry).
"""

from __future__ import annotations

from typing import Any

from tfnas.proxies.registry import (
    DEFAULT_PROXY,
    ENTRY_POINT_GROUP,
    Needs,
    Proxy,
    ProxyEntryPointError,
    ProxyRegistrationError,
    UnknownProxyError,
    get_proxy,
    proxies,
    proxy_names,
    register_proxy,
)


def __getattr__(name: str) -> Any:
    # PROXY_NAMES is computed on each access: the registry fills on first lookup and may grow.
    if name == "PROXY_NAMES":
        return proxy_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_PROXY", "ENTRY_POINT_GROUP", "PROXY_NAMES", "Needs", "Proxy", "ProxyEntryPointError",
    "ProxyRegistrationError", "UnknownProxyError", "get_proxy", "proxies", "proxy_names",
    "register_proxy",
]
