"""Every proxy creates its tensors on the network's device: a scan of the proxies' source.

A tensor factory (``torch.zeros``, ``torch.randn``, ...) without ``device=`` makes a CPU tensor,
which breaks a network on an accelerator; ``.numpy()`` on a device tensor raises. The scan fails
on either, unless the line says why it is right (``# allow-cpu: <reason>``); the ``*_like``
factories follow their argument and are fine. CPU-only machines cannot run a GPU, so the scan is
what proves the rule there; ``tfnas.measure``'s tests prove the plumbing end to end on the CPU.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import tfnas.proxies

PROXY_FILES = sorted(Path(tfnas.proxies.__file__).parent.glob("*.py"))
FACTORIES = frozenset({"zeros", "ones", "empty", "full", "randn", "rand", "randint", "arange",
                       "eye", "tensor", "linspace", "as_tensor"})
ALLOW = re.compile(r"#\s*allow-cpu:\s*\S")


def _is_torch(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "torch"


def _cpu_first(call: ast.Call) -> bool:
    """``x.cpu().numpy()``: the receiver of ``.numpy()`` is itself a ``.cpu()`` call."""
    receiver = call.func.value  # type: ignore[attr-defined]
    return (isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Attribute)
            and receiver.func.attr == "cpu")


def violations(source: str) -> list[tuple[int, str]]:
    """``(line, what)`` of every device-unsafe call in ``source``."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        attr = node.func.attr
        if (attr in FACTORIES and _is_torch(node.func.value)
                and not any(k.arg == "device" for k in node.keywords)):
            what = f"torch.{attr}(...) without device="
        elif attr == "numpy" and not node.args and not _cpu_first(node):
            what = ".numpy() not preceded by .cpu()"
        else:
            continue
        if not ALLOW.search(lines[node.lineno - 1]):
            found.append((node.lineno, what))
    return found


@pytest.mark.parametrize("path", PROXY_FILES, ids=lambda p: p.name)
def test_proxies_create_tensors_on_the_networks_device(path: Path) -> None:
    bad = violations(path.read_text(encoding="utf-8"))
    assert not bad, "; ".join(f"{path.name}:{line}: {what}" for line, what in bad)


def test_the_scan_catches_what_it_is_for() -> None:
    source = "\n".join([
        "import torch",
        "a = torch.zeros(3)",
        "b = torch.zeros(3, device=x.device)",
        "c = torch.zeros_like(x)",
        "d = x.numpy()",
        "e = x.cpu().numpy()",
        "f = torch.tensor([1.0])  # allow-cpu: a constant compared on the CPU",
        "g = torch.full((2,), 0.5)  # allow-cpu:",
        "h = np.zeros(3)",
    ])
    assert violations(source) == [(2, "torch.zeros(...) without device="),
                                  (5, ".numpy() not preceded by .cpu()"),
                                  (8, "torch.full(...) without device=")]
