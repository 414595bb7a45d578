"""Third-party proxies: real throw-away packages, built as wheels and installed with pip.

Each wheel is written by hand (``zipfile``: the module, and a ``.dist-info`` with METADATA, WHEEL,
RECORD and ``entry_points.txt`` declaring ``[tfnas.proxies]``) and installed with ``pip install
--no-deps --no-index --target``. The command line, ``tfnas.score``, a search and a sweep then run
in subprocesses with that folder on ``PYTHONPATH``; the refusals (a name taken by a built-in, an
entry point that does not load, one that is not callable) are checked in-process on the real
``importlib.metadata`` lookup.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from tfnas.datasets import load_batch
from tfnas.proxies import Needs, ProxyEntryPointError, get_proxy, proxy_names
from tfnas.proxies import proxies as _all_proxies
from tfnas.proxies import registry as reg
from tfnas.scoring import score

pytestmark = pytest.mark.integration  # builds wheels, installs them with pip, runs python

CELL = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"
FIRST = ("naswot", "naswot_reference", "synflow", "params", "flops")  # listed first, in this order
BUILTINS = tuple(p.name for p in _all_proxies() if p.builtin)  # then every other built-in file

GOOD = textwrap.dedent('''
    """Proxies of a third-party package (a tfnas test fixture)."""
    from tfnas.proxies import register_proxy


    def _size(network):
        return float(sum(p.numel() for p in network.parameters()))


    @register_proxy("labelsum", data=True, labels=True)
    def labelsum(network, images, labels):
        """Sum of the batch's labels plus the parameter count."""
        return float(labels.sum()) + _size(network)


    def meanpix(network, images):
        """Mean pixel of the batch plus the parameter count (a plain callable)."""
        return float(images.double().mean()) + _size(network)
''')

PACKAGES = {  # distribution -> (module source, entry points)
    "tfnas-goodproxies": (GOOD, {"labelsum": "tfnas_goodproxies:labelsum",
                                 "meanpix": "tfnas_goodproxies:meanpix"}),
    "tfnas-collide": ("def synflow(network, images):\n    return 0.0\n",
                      {"synflow": "tfnas_collide:synflow"}),
    "tfnas-broken": ("raise ImportError('tfnas_broken needs a library that is not installed')\n",
                     {"broken": "tfnas_broken:score"}),
    "tfnas-notcallable": ("VALUE = 3\n", {"constant": "tfnas_notcallable:VALUE"}),
    "tfnas-misnamed": ("from tfnas.proxies import register_proxy\n\n"
                       "@register_proxy('inner', data=True)\ndef f(network, images):\n    return 0.0\n",
                       {"outer": "tfnas_misnamed:f"}),
}


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(folder: Path, dist: str, source: str, entry_points: dict[str, str],
                version: str = "0.1") -> Path:
    """A pure-Python wheel of one module ``dist`` (``-`` → ``_``) declaring ``entry_points``."""
    name = dist.replace("-", "_")
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": source,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tfnas-tests\nRoot-Is-Purelib: true\n"
                         "Tag: py3-none-any\n",
        f"{info}/entry_points.txt": "[tfnas.proxies]\n"
                                    + "".join(f"{k} = {v}\n" for k, v in entry_points.items()),
    }
    record = [f"{path},{_digest(text.encode())},{len(text.encode())}" for path, text in files.items()]
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each package pip-installed into a folder of its own: distribution -> folder."""
    root = tmp_path_factory.mktemp("entry-points")
    out = {}
    for dist, (source, entry_points) in PACKAGES.items():
        wheel = build_wheel(root, dist, source, entry_points)
        target = root / f"site-{dist}"
        subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
                        "--disable-pip-version-check", "--no-compile", "--quiet",
                        "--target", str(target), str(wheel)], check=True, timeout=120)
        assert (target / f"{dist.replace('-', '_')}-0.1.dist-info" / "entry_points.txt").is_file()
        out[dist] = target
    return out


def run(target: Path, *args: str) -> subprocess.CompletedProcess:
    """``python *args`` with ``target`` first on PYTHONPATH (before the tfnas under test)."""
    path = os.pathsep.join(p for p in (str(target), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "PYTHONPATH": path})


def expected_scores(batch_size: int) -> dict[str, float]:
    batch = load_batch("cifar10", 0, batch_size)
    size = score(CELL, "params", "cifar10")
    return {"labelsum": float(batch.labels.sum()) + size,
            "meanpix": float(batch.images.double().mean()) + size}


# --- an installed package's proxies work everywhere a proxy name is taken ------------------------


def test_the_python_api_finds_and_scores_them(targets: dict[str, Path]) -> None:
    script = textwrap.dedent(f'''
        import json, tfnas
        from tfnas.proxies import get_proxy, proxy_names
        from tfnas.scoring import settings_key
        out = {{"names": list(proxy_names()), "tfnas_names": list(tfnas.PROXY_NAMES)}}
        for name in ("labelsum", "meanpix"):
            p = get_proxy(name)
            out[name] = {{"needs": [p.needs.data, p.needs.labels, p.needs.resolution],
                          "origin": p.origin, "builtin": p.builtin, "help": p.help,
                          "score": tfnas.score({CELL!r}, name, "cifar10", batch_size=16),
                          "key": json.loads(settings_key(name, "cifar10", 0, 16))}}
        out["naswot_key"] = json.loads(settings_key("naswot", "cifar10", 0, 16))
        print(json.dumps(out))
    ''')
    result = run(targets["tfnas-goodproxies"], "-c", script)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["names"] == out["tfnas_names"] == [*BUILTINS, "labelsum", "meanpix"]
    expected = expected_scores(16)
    for name, needs in (("labelsum", [True, True, False]), ("meanpix", [True, False, False])):
        assert out[name]["needs"] == needs and not out[name]["builtin"]
        assert out[name]["origin"] == "tfnas-goodproxies==0.1"
        assert out[name]["score"] == expected[name]
        assert out[name]["key"]["origin"] == "tfnas-goodproxies==0.1"
    assert out["labelsum"]["help"] == "Sum of the batch's labels plus the parameter count."
    assert "origin" not in out["naswot_key"]  # the built-ins' store keys are unchanged


def test_tfnas_score_takes_them(targets: dict[str, Path]) -> None:
    result = run(targets["tfnas-goodproxies"], "-m", "tfnas", "score", "--proxy", "labelsum",
                 "--dataset", "cifar10", "--arch", CELL, "--batch-size", "16", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["score"] == expected_scores(16)["labelsum"]


def test_tfnas_search_takes_them(targets: dict[str, Path]) -> None:
    result = run(targets["tfnas-goodproxies"], "-m", "tfnas", "search", "random", "--proxy",
                 "meanpix", "--dataset", "cifar10", "--n", "3", "--batch-size", "8", "--json", "-")
    assert result.returncode == 0, result.stderr
    (trace,) = json.loads(result.stdout)["traces"]
    assert len(trace["evaluations"]) == 3


def test_tfnas_sweep_takes_them(targets: dict[str, Path], tmp_path: Path) -> None:
    store = tmp_path / "scores.sqlite"
    result = run(targets["tfnas-goodproxies"], "-m", "tfnas", "sweep", "--proxy", "labelsum,meanpix",
                 "--dataset", "cifar10", "--indices", "0-2", "--batch-size", "8",
                 "--store", str(store))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name in ("labelsum", "meanpix"):
        assert any(line.split()[:4] == [name, "cifar10", "stored", "3/3"] for line in lines), lines


def test_without_the_package_the_names_are_unknown() -> None:
    assert "labelsum" not in proxy_names()
    with pytest.raises(ValueError, match="unknown proxy 'labelsum'"):
        get_proxy("labelsum")


# --- refusals ------------------------------------------------------------------------------------


def test_a_package_colliding_with_a_builtin_is_refused_in_one_line(targets: dict[str, Path]) -> None:
    """Loudly, for every proxy: an install that shadows ``synflow`` must not score anything."""
    for proxy in ("synflow", "params"):
        result = run(targets["tfnas-collide"], "-m", "tfnas", "score", "--proxy", proxy,
                     "--dataset", "cifar10", "--arch", CELL)
        assert result.returncode == 1 and result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0] == (
            "tfnas: error: entry point 'synflow' of tfnas-collide==0.1 collides with the built-in "
            "proxy 'synflow' (tfnas.proxies.synflow.synflow); rename the entry point or uninstall "
            "that package")


@pytest.fixture
def installed(targets: dict[str, Path], monkeypatch: pytest.MonkeyPatch):
    """Put one installed package on this process's path, with a fresh look at entry points."""
    proxy_names()  # the built-ins, before the table is copied
    monkeypatch.setattr(reg, "_PROXIES", dict(reg._PROXIES))
    monkeypatch.setattr(reg, "_entry_points_loaded", False)
    added: list[str] = []

    def install(dist: str) -> None:
        monkeypatch.syspath_prepend(str(targets[dist]))
        added.append(dist.replace("-", "_"))

    yield install
    for module in added:
        sys.modules.pop(module, None)


@pytest.mark.parametrize("dist, words", [
    ("tfnas-collide", "entry point 'synflow' of tfnas-collide==0.1 collides with the built-in proxy"),
    ("tfnas-broken", "entry point 'broken' (tfnas_broken:score) of tfnas-broken==0.1 failed to "
                     "load: ImportError: tfnas_broken needs a library that is not installed; fix "
                     "or uninstall that package"),
    ("tfnas-notcallable", "entry point 'constant' (tfnas_notcallable:VALUE) of "
                          "tfnas-notcallable==0.1 is not callable (a int)"),
    ("tfnas-misnamed", "entry point 'outer' (tfnas_misnamed:f) of tfnas-misnamed==0.1 names the "
                       "proxy registered as 'inner'"),
])
def test_a_broken_entry_point_is_refused_on_every_lookup(installed, dist: str, words: str) -> None:
    installed(dist)
    for lookup in (proxy_names, lambda: get_proxy("naswot"), lambda: get_proxy("nope")):
        with pytest.raises(ProxyEntryPointError) as info:
            lookup()
        assert words in str(info.value) and "\n" not in str(info.value)


def test_an_installed_package_loads_in_process(installed) -> None:
    installed("tfnas-goodproxies")
    assert proxy_names() == (*BUILTINS, "labelsum", "meanpix")
    assert get_proxy("meanpix").needs == Needs(data=True)
    assert get_proxy("labelsum").needs == Needs(data=True, labels=True)
    assert score(CELL, "meanpix", "cifar10", batch_size=8) == expected_scores(8)["meanpix"]
