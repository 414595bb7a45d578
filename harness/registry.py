"""The claims registry: load claims files and validate every entry before anything runs.

A claim is data: what is claimed (source, published value), how to measure it (protocol, with
the interpretation chosen where the paper is ambiguous and the alternatives also evaluated),
and the tolerance rule with its justification. A malformed entry raises :class:`ClaimError`
naming the claim id and the field.

The shipped registry is the folder :data:`SHIPPED`, one file per source paper; a run may use
other files beside it or instead of it (:func:`load_registry`), their claim ids unique across them.
"""

from __future__ import annotations

import hashlib
import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.results import CLAIM_ID_RULE, valid_claim_id
from harness.stats import COEFFICIENTS
from harness.verdicts import Estimate, Tolerance
from tfnas.bounded import read_file
from tfnas.datasets import TARGET_DATASETS
from tfnas.errors import TfnasError, one_line, shown

SHIPPED = Path(__file__).with_name("claims")
"""The shipped registry: a folder of claims files, one per source paper (every ``*.toml``)."""
DEFAULT_PATH = SHIPPED
SHIPPED_NAME = "shipped"
"""The word that names the shipped registry among claims files (``--claims shipped``)."""

KINDS = ("correlation", "search", "comparison", "scaling", "best_dataset")
DATASETS = TARGET_DATASETS
PROXIES = ("naswot", "naswot_reference", "synflow", "params", "flops")
METRICS = ("valid12", "test200")
ALGORITHMS = ("random", "rea")
SELECTIONS = ("best", "all", "population")
QUANTITIES = ("accuracy", "score", "time")
MAX_BYTES = 4 * 2**20
"""Largest registry file read (4 MiB; the shipped one is about 100 KB)."""
MAX_REPETITIONS = 10_000
"""Most repetitions of a protocol: the paper's largest is 500; more would run for days."""
MAX_SIZE = 100_000
"""Largest N, population, sample or cycle count: 100x the paper's largest (N = 1000)."""


class ClaimError(TfnasError, ValueError):
    """A claims-registry entry is malformed; the message names the claim and the field."""


class ClaimsNotFoundError(ClaimError, FileNotFoundError):
    """No registry file at the path given."""


@dataclass(frozen=True)
class Alternative:
    """Another reading of an ambiguous protocol: overrides applied to the claim's protocol."""

    label: str
    overrides: dict[str, Any]


@dataclass(frozen=True)
class Claim:
    id: str
    title: str
    source: str
    kind: str
    protocol: dict[str, Any]
    published: Estimate
    tolerance: Tolerance
    interpretation: str
    alternatives: tuple[Alternative, ...] = ()
    fast: bool = False
    live: bool = False
    known_divergence: str | None = None
    notes: str = ""
    table: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def protocol_for(self, alternative: Alternative | None = None) -> dict[str, Any]:
        """The protocol under the chosen interpretation, or under an alternative."""
        if alternative is None:
            return dict(self.protocol)
        return _merge(self.protocol, alternative.overrides)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "source": self.source, "kind": self.kind,
            "table": self.table, "protocol": self.protocol, "published": self.published.to_dict(),
            "tolerance": self.tolerance.__dict__, "interpretation": self.interpretation,
            "alternatives": [{"label": a.label, **a.overrides} for a in self.alternatives],
            "known_divergence": self.known_divergence, "notes": self.notes,
        }


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@dataclass(frozen=True)
class RegistryFile:
    """One claims file in use: its path as recorded, its sha256, its claim ids in file order."""

    path: str
    sha256: str
    claims: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "claims": list(self.claims)}


@dataclass(frozen=True)
class Registry:
    """The claims of every file in use, keyed by id (unique across the files), and the files."""

    claims: dict[str, Claim]
    files: tuple[RegistryFile, ...]

    @property
    def sha256(self) -> str:
        """sha256 over the files' hex sha256s, one a line in order (``sha256sum F... | cut -c1-64
        | sha256sum``): one hash that changes when any file in use, or their order, changes."""
        return hashlib.sha256("".join(f"{f.sha256}\n" for f in self.files).encode()).hexdigest()

    def file_of(self, cid: str) -> str | None:
        """The path (as recorded) of the file that defines claim ``cid``."""
        return next((f.path for f in self.files if cid in f.claims), None)


def claim_files(spec: str | Path) -> list[Path]:
    """The files one ``--claims`` value names: the word ``shipped`` (the shipped folder), a folder
    (every ``*.toml`` in it, sorted by name) or one file."""
    path = SHIPPED if str(spec) == SHIPPED_NAME else Path(spec)
    if not path.is_dir():
        return [path]
    files = sorted(p for p in path.glob("*.toml") if p.is_file())
    if not files:
        raise ClaimsNotFoundError(f"claims folder {shown(str(path), 200)} holds no *.toml file")
    return files


def _file_name(path: Path) -> str:
    """A claims file as named in records: a shipped file as ``shipped/NAME``, others as given."""
    if path.parent.resolve() == SHIPPED.resolve():
        return f"{SHIPPED_NAME}/{path.name}"
    return str(path)


def _read_claims_file(path: Path, name: str) -> tuple[bytes, dict[str, Claim]]:
    """The file's bytes and its validated claims; every failure is one ClaimError naming it."""
    if not path.is_file():
        if path.exists():
            raise ClaimError(f"claims registry {name} is not a regular file")
        raise ClaimsNotFoundError(f"claims registry {name} does not exist")
    raw = read_file(path, MAX_BYTES, ClaimError, "claims registry",
                    "a claims file holds a few hundred claims in well under that")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ClaimError(f"{name} is not UTF-8 text (byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ClaimError(f"{name} is not valid TOML: {one_line(exc, 200)}") from exc
    except RecursionError:
        raise ClaimError(f"{name} is not valid TOML: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise ClaimError(f"{name} is not valid TOML: {one_line(exc, 200)}") from exc
    return raw, parse_claims(data, where=name)


def load_registry(specs: Sequence[str | Path] = (SHIPPED_NAME,)) -> Registry:
    """Load the claims files that ``specs`` name (see :func:`claim_files`), in order; a file named
    twice is read once, and a claim id defined in two files is refused naming both."""
    paths: list[Path] = []
    for spec in specs:
        for path in claim_files(spec):
            if path.resolve() not in {p.resolve() for p in paths}:
                paths.append(path)
    claims: dict[str, Claim] = {}
    files: list[RegistryFile] = []
    for path in paths:
        name = _file_name(path)
        raw, found = _read_claims_file(path, shown(name, 200))
        for cid in found:
            if cid in claims:
                first = next(f.path for f in files if cid in f.claims)
                raise ClaimError(f"claim {cid!r} is defined in both {shown(first, 200)} and "
                                 f"{shown(name, 200)}; claim ids must be unique across the "
                                 "claims files in use")
        claims.update(found)
        files.append(RegistryFile(name, hashlib.sha256(raw).hexdigest(), tuple(found)))
    return Registry(claims, tuple(files))


def load_claims(path: str | Path | None = None) -> dict[str, Claim]:
    """Load and validate one claims file; the default is the whole shipped registry."""
    if path is None:
        return load_registry().claims
    path = Path(path)
    return _read_claims_file(path, shown(str(path), 200))[1]


def parse_claims(data: dict[str, Any], where: str = "<registry>") -> dict[str, Claim]:
    """Validate the decoded TOML (a table with a ``claim`` array) into claims keyed by id; an
    error names ``where`` (the file), then the claim and the field."""
    entries = data.get("claim") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ClaimError(f"{where}: expected a non-empty [[claim]] array")
    claims: dict[str, Claim] = {}
    for i, entry in enumerate(entries):
        try:
            claim = parse_claim(entry, position=i)
        except ClaimError as exc:
            raise ClaimError(one_line(f"{where}: {exc}", 500)) from exc
        if claim.id in claims:
            raise ClaimError(f"{where}: claim {claim.id!r}: duplicate id")
        claims[claim.id] = claim
    return claims


def parse_claim(entry: Any, position: int = 0) -> Claim:
    """Validate one ``[[claim]]`` table."""
    if not isinstance(entry, dict):
        raise ClaimError(f"claim #{position}: expected a table, got {type(entry).__name__}")
    cid = entry.get("id")
    if not isinstance(cid, str) or not cid.strip():
        raise ClaimError(f"claim #{position}: field 'id' must be a non-empty string")
    if not valid_claim_id(cid):
        raise ClaimError(f"claim #{position}: field 'id' is {shown(cid)}, expected "
                         f"{CLAIM_ID_RULE}")
    _check_finite(cid, entry, "")

    def need(name: str, typ: type | tuple[type, ...], default: Any = ...) -> Any:
        if name not in entry:
            if default is ...:
                raise ClaimError(f"claim {cid!r}: missing field {name!r}")
            return default
        value = entry[name]
        if not isinstance(value, typ) or isinstance(value, bool) and typ is not bool:
            raise ClaimError(f"claim {cid!r}: field {name!r} must be {_tname(typ)}, "
                             f"got {type(value).__name__}")
        return value

    known = {"id", "title", "source", "kind", "protocol", "published", "tolerance",
             "interpretation", "alternatives", "fast", "live", "known_divergence", "notes",
             "table"}
    unknown = set(entry) - known
    if unknown:
        raise ClaimError(f"claim {cid!r}: unknown field(s) {shown(sorted(map(str, unknown)))}; "
                         f"expected {sorted(known)}")
    kind = need("kind", str)
    if kind not in KINDS:
        raise ClaimError(f"claim {cid!r}: field 'kind' is {shown(kind)}, expected one of {KINDS}")
    protocol = need("protocol", dict)
    _check_protocol(cid, kind, protocol, "protocol")
    try:
        tol = Tolerance(**need("tolerance", dict))
    except (TypeError, ValueError) as exc:
        raise ClaimError(f"claim {cid!r}: field 'tolerance': {one_line(exc, 300)}") from exc
    if not tol.justification.strip():
        raise ClaimError(f"claim {cid!r}: field 'tolerance.justification' must say why")
    published = _published(cid, need("published", dict), tol)
    alts = []
    for j, alt in enumerate(need("alternatives", list, [])):
        if not isinstance(alt, dict) or not isinstance(alt.get("label"), str):
            raise ClaimError(f"claim {cid!r}: field 'alternatives[{j}]' needs a string 'label'")
        over = {k: v for k, v in alt.items() if k != "label"}
        _check_protocol(cid, kind, _merge(protocol, over), f"alternatives[{j}]")
        alts.append(Alternative(alt["label"], over))
    kd = need("known_divergence", str, None)
    if kd is not None and not kd.strip():
        raise ClaimError(f"claim {cid!r}: field 'known_divergence' must be a diagnosis, not empty")
    return Claim(
        id=cid, title=need("title", str), source=need("source", str), kind=kind,
        protocol=protocol, published=published, tolerance=tol,
        interpretation=need("interpretation", str), alternatives=tuple(alts),
        fast=need("fast", bool, False), live=need("live", bool, False), known_divergence=kd,
        notes=need("notes", str, ""), table=need("table", str, ""),
    )


def _tname(typ: type | tuple[type, ...]) -> str:
    names = {str: "a string", dict: "a table", list: "an array", bool: "true or false",
             int: "an integer", float: "a number"}
    if isinstance(typ, tuple):
        return " or ".join(names.get(t, t.__name__) for t in typ)
    return names.get(typ, typ.__name__)


def _check_finite(cid: str, value: Any, where: str) -> None:
    """Refuse NaN and infinities anywhere in an entry: ``margin = inf`` would pass anything."""
    stack = [(value, where)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            raise ClaimError(f"claim {cid!r}: field {path.lstrip('.')!r} is {node}, expected a "
                             "finite number")
        if isinstance(node, dict):
            stack.extend((v, f"{path}.{k}") for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(node))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _published(cid: str, pub: dict[str, Any], tol: Tolerance) -> Estimate:
    unknown = set(pub) - {"value", "std", "n"}
    if unknown:
        raise ClaimError(f"claim {cid!r}: unknown field(s) in 'published': "
                         f"{shown(sorted(map(str, unknown)))}; expected value, std, n")
    value = pub.get("value")
    if tol.rule in ("greater", "noninferior") and value is None:
        # comparative: the reference is the measured other side; a published value is optional
        return Estimate(float("nan"))
    if not _is_number(value):
        raise ClaimError(f"claim {cid!r}: field 'published.value' must be a number")
    std, n = pub.get("std"), pub.get("n")
    if std is not None and (not _is_number(std) or std < 0):
        raise ClaimError(f"claim {cid!r}: field 'published.std' must be a number >= 0, "
                         f"got {shown(std)}")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise ClaimError(f"claim {cid!r}: field 'published.n' must be a positive integer, "
                         f"got {shown(n)}")
    if tol.rule == "welch":
        if not isinstance(std, int | float) or std < 0:
            raise ClaimError(f"claim {cid!r}: field 'published.std' must be a number >= 0 "
                             "(the welch rule needs it)")
        if not isinstance(n, int) or n < 2:
            raise ClaimError(f"claim {cid!r}: field 'published.n' must be an integer >= 2 "
                             "(the welch rule needs it)")
    return Estimate(float(value), None if std is None else float(std), n)


def _choice(cid: str, where: str, proto: dict, key: str, options: tuple, required: bool = True):
    if key not in proto:
        if required:
            raise ClaimError(f"claim {cid!r}: field '{where}.{key}' is missing")
        return
    if not isinstance(proto[key], str) or proto[key] not in options:
        raise ClaimError(f"claim {cid!r}: field '{where}.{key}' is {shown(proto[key])}, "
                         f"expected one of {options}")


def _positive_int(cid: str, where: str, proto: dict, key: str, limit: int = MAX_SIZE) -> None:
    v = proto.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ClaimError(f"claim {cid!r}: field '{where}.{key}' must be a positive integer, "
                         f"got {shown(v)}")
    if v > limit:
        raise ClaimError(f"claim {cid!r}: field '{where}.{key}' is {v}, more than {limit}: "
                         "far beyond any protocol of the paper, it would run for days")


def _check_protocol(cid: str, kind: str, proto: dict, where: str) -> None:
    if kind == "correlation":
        _choice(cid, where, proto, "proxy", PROXIES)
        _choice(cid, where, proto, "dataset", DATASETS)
        _choice(cid, where, proto, "score_dataset", DATASETS, required=False)
        _choice(cid, where, proto, "metric", METRICS)
        _choice(cid, where, proto, "coefficient", COEFFICIENTS)
        sample = proto.get("sample", 0)
        if not isinstance(sample, int) or isinstance(sample, bool) or sample < 0:
            raise ClaimError(f"claim {cid!r}: field '{where}.sample' must be an integer >= 0 "
                             "(0 = the whole space)")
        seed = proto.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ClaimError(f"claim {cid!r}: field '{where}.seed' must be an integer")
    elif kind == "search":
        _check_search(cid, where, proto)
    elif kind in ("comparison", "scaling"):
        for side in ("a", "b"):
            sub = proto.get(side)
            if not isinstance(sub, dict):
                raise ClaimError(f"claim {cid!r}: field '{where}.{side}' must be a table")
            sub_kind = sub.get("kind", "search")
            if sub_kind not in ("search", "correlation"):
                raise ClaimError(f"claim {cid!r}: field '{where}.{side}.kind' is "
                                 f"{shown(sub_kind)}, expected 'search' or 'correlation'")
            if kind == "scaling" and sub_kind != "search":
                raise ClaimError(f"claim {cid!r}: field '{where}.{side}' of a scaling claim must "
                                 f"be a search, got kind {sub_kind!r}")
            _check_protocol(cid, sub_kind, {k: v for k, v in sub.items() if k != "kind"},
                            f"{where}.{side}")
    elif kind == "best_dataset":
        _choice(cid, where, proto, "expected", DATASETS)
        methods = proto.get("methods")
        if not isinstance(methods, list) or not methods:
            raise ClaimError(f"claim {cid!r}: field '{where}.methods' must be a non-empty array")
        for j, m in enumerate(methods):
            if not isinstance(m, dict):
                raise ClaimError(f"claim {cid!r}: field '{where}.methods[{j}]' must be a table")
            for d in DATASETS:
                _check_search(cid, f"{where}.methods[{j}]", {**m, "dataset": d})


def _check_search(cid: str, where: str, proto: dict) -> None:
    _choice(cid, where, proto, "algorithm", ALGORITHMS)
    _choice(cid, where, proto, "proxy", PROXIES)
    _choice(cid, where, proto, "dataset", DATASETS)
    _choice(cid, where, proto, "score_dataset", DATASETS, required=False)
    _choice(cid, where, proto, "metric", METRICS)
    _choice(cid, where, proto, "selection", SELECTIONS)
    _choice(cid, where, proto, "quantity", QUANTITIES)
    _positive_int(cid, where, proto, "repetitions", MAX_REPETITIONS)
    if not isinstance(proto.get("seed"), int) or isinstance(proto.get("seed"), bool):
        raise ClaimError(f"claim {cid!r}: field '{where}.seed' must be an integer")
    if proto["algorithm"] == "random":
        _positive_int(cid, where, proto, "n")
    else:
        for key in ("population", "sample", "cycles"):
            _positive_int(cid, where, proto, key)
        if proto["sample"] > proto["population"]:
            raise ClaimError(f"claim {cid!r}: field '{where}.sample' ({proto['sample']}) exceeds "
                             f"'population' ({proto['population']})")
        if proto["cycles"] < proto["population"]:
            raise ClaimError(f"claim {cid!r}: field '{where}.cycles' must be >= 'population' "
                             "(cycles count every evaluation, the initial population included)")
    if proto["selection"] == "population" and proto["algorithm"] != "rea":
        raise ClaimError(f"claim {cid!r}: field '{where}.selection' 'population' needs algorithm rea")
