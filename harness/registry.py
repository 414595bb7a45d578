"""The claims registry: load claims files and validate every entry before anything runs.

A claim is data: what is claimed (source, published value), how to measure it (protocol, with
the interpretation chosen where the paper is ambiguous and the alternatives also evaluated),
and the tolerance rule with its justification. A malformed entry raises :class:`ClaimError`
naming the claim id and the field.

The shipped registry is the folder :data:`SHIPPED`, one file per source paper; a run may use
other files beside it or instead of it (:func:`load_registry`), their claim ids unique across them.

The claim's ``kind`` is looked up in :mod:`harness.kinds` (one module per kind, each with its
typed protocol) and its tolerance ``rule`` in :mod:`harness.rules`; this module checks the
fields every claim has and holds the field checks the kinds share (``choice``,
``positive_int``, ``integer``, ``known_fields``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
import re
import stat
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.kinds import get_kind, kind_names
from harness.markdown import CLAIM_ID_RULE, valid_claim_id
from harness.outcome import Divergence
from harness.registration import FILE_NAME as REGISTRATION_FILE
from harness.registration import Registration, RegistrationError, check_coverage, read_registration
from harness.rules import get_rule
from harness.verdicts import INCONCLUSIVE, NOT_REPRODUCED, Estimate, Tolerance
from tfnas.bounded import read_file
from tfnas.checks import MAX_SEED, WHY_SEED
from tfnas.datasets import TARGET_DATASETS
from tfnas.errors import TfnasError, one_line, shown, shown_path

SHIPPED = Path(__file__).with_name("claims")
"""The shipped registry: a folder of claims files, one per source paper (every ``*.toml``)."""
DEFAULT_PATH = SHIPPED
SHIPPED_NAME = "shipped"
"""The word that names the shipped registry among claims files (``--claims shipped``)."""

DATASETS = TARGET_DATASETS
METRICS = ("valid12", "test200")
SELECTIONS = ("best", "all", "population", "unselected")
QUANTITIES = ("accuracy", "score", "time")
MAX_BYTES = 4 * 2**20
"""Largest registry file read (4 MiB; the shipped one is about 100 KB)."""
MAX_SIZE = 100_000
"""Largest N, population, sample or cycle count: 100x the paper's largest (N = 1000)."""
MAX_MAGNITUDE = 10**7
"""Largest magnitude of a published value, its std, a margin or a band edge: over 80x
NATS-Bench's largest time budget (120,000 s), the largest quantity a claim publishes."""
WHY_MAGNITUDE = "the largest quantity a claim publishes is seconds, well under 10^7"
MAX_FACTOR = 100.0
"""Largest tolerance ``factor``: a ratio rule with a larger one accepts anything two orders of
magnitude off, which is no test (the registry uses 1.5 to 4)."""
MAX_PUBLISHED_N = 10**6
"""Largest published ``n`` (runs or cells behind a published number; the registry's largest is
the 15,625 cells of the space)."""


class ClaimError(TfnasError, ValueError):
    """A claims-registry entry is malformed; the message names the claim and the field."""


class ClaimsNotFoundError(ClaimError, FileNotFoundError):
    """No registry file at the path given."""


def __getattr__(name: str) -> tuple[str, ...]:
    """``KINDS``, ``PROXIES``, ``ALGORITHMS``: the registered names, read when first asked."""
    if name == "KINDS":
        return kind_names()
    if name == "PROXIES":
        return proxy_names()
    if name == "ALGORITHMS":
        from tfnas.search.registry import algorithm_names

        return algorithm_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def proxy_names() -> tuple[str, ...]:
    """The registered proxies (imported when a claim is parsed: the proxies load torch)."""
    from tfnas.proxies import PROXY_NAMES

    return tuple(PROXY_NAMES)


@dataclass(frozen=True)
class Alternative:
    """Another reading of an ambiguous protocol: overrides applied to the claim's protocol, and
    the typed protocol they give."""

    label: str
    overrides: dict[str, Any]
    protocol: Any = None


@dataclass(frozen=True)
class Derivation:
    """A claim's value declared a function of another claim's measurement (``derived_from`` in
    the claims file): it counts as that measurement, not as independent evidence."""

    claim: str
    because: str


@dataclass(frozen=True)
class Lineage:
    """A published value the claim's source copied from an earlier paper (``lineage`` in the
    claims file): the number is the origin's, checked once however many papers quote it."""

    origin: str
    """The paper (and table) where the number first appeared."""
    quoted_by: str
    """The source that quotes it (the claim's ``source``)."""
    because: str
    """How the copy is known (the quoting table says so, identical digits, ...)."""

    def to_dict(self) -> dict[str, str]:
        return {"origin": self.origin, "quoted_by": self.quoted_by, "because": self.because}


EXPECTATIONS = (NOT_REPRODUCED, INCONCLUSIVE)
"""The primary verdicts a recorded divergence may expect."""
DIRECTIONS = ("above", "below")
"""Which side of the published value a divergence expects ours on (reproduced − published)."""
DEFAULT_READING = "as interpreted"
"""The reading name of a claim's own interpretation when its ``reading`` field is not given."""
_RUN_NUMBER = re.compile(r"\d+\.\d+|±|\+/-|\d\s*%")
"""What a number a run produces looks like in prose: decimals, '±', percentages."""


def _divergence(cid: str, value: Any, labels: Sequence[str]) -> Divergence | None:
    where = f"claim {cid!r}: field 'known_divergence"
    if value is None:
        return None
    if isinstance(value, str):
        value = {"because": value}
    if not isinstance(value, dict):
        raise ClaimError(f"{where}' must be a table {{expect, direction, reading, because}}, "
                         f"got {type(value).__name__}")
    known = ("because", "direction", "expect", "no_reading_fits", "reading")
    unknown = set(value) - set(known)
    if unknown:
        raise ClaimError(f"{where}' has unknown field(s) {shown(sorted(map(str, unknown)))}; "
                         f"expected some of {list(known)}")
    because = value.get("because")
    if not isinstance(because, str) or not because.strip():
        raise ClaimError(f"{where}.because' must say why in words, not be empty")
    found = _RUN_NUMBER.search(because)
    if found:
        raise ClaimError(f"{where}.because' types a number a run produces ({shown(found[0])}); "
                         "say why in words: the harness renders the numbers from the run")
    expect = value.get("expect", NOT_REPRODUCED)
    if expect not in EXPECTATIONS:
        raise ClaimError(f"{where}.expect' is {shown(expect)}, expected one of {EXPECTATIONS}")
    direction = value.get("direction")
    if direction is not None and direction not in DIRECTIONS:
        raise ClaimError(f"{where}.direction' is {shown(direction)}, expected one of "
                         f"{DIRECTIONS}")
    reading = value.get("reading")
    if reading is not None and reading not in labels:
        raise ClaimError(f"{where}.reading' is {shown(reading)}, expected the label of one of "
                         f"the claim's alternatives {shown(list(labels))}")
    no_fit = value.get("no_reading_fits", False)
    if not isinstance(no_fit, bool):
        raise ClaimError(f"{where}.no_reading_fits' is {shown(no_fit)}, expected true or false")
    if no_fit and reading is not None:
        raise ClaimError(f"{where}' names a reading that fits and says no reading fits; "
                         "expected one of 'reading' and 'no_reading_fits'")
    if no_fit and not labels:
        raise ClaimError(f"{where}.no_reading_fits' needs alternatives to reject")
    return Divergence(because, expect, direction, reading, no_fit)


def measurement_key(kind: str, protocol: Mapping[str, Any]) -> str:
    """12 hex digits naming what a claim measures (its kind and protocol as written): claims with
    the same key share one measurement, so they are one piece of evidence, not several."""
    text = json.dumps({"kind": kind, "protocol": protocol}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Claim:
    """One registry entry, validated; ``protocol`` is its kind's typed protocol and
    ``raw_protocol`` the table as written (what the outcome records)."""

    id: str
    title: str
    source: str
    kind: str
    protocol: Any
    published: Estimate
    tolerance: Tolerance
    interpretation: str
    alternatives: tuple[Alternative, ...] = ()
    fast: bool = False
    live: bool = False
    known_divergence: Divergence | None = None
    notes: str = ""
    table: str = ""
    raw_protocol: dict[str, Any] = dataclasses.field(default_factory=dict)
    reading: str = DEFAULT_READING
    """The name of the claim's own interpretation among its table's readings."""
    derived_from: str | None = None
    """The first claim in the registry that has the same measurement, when that is another one."""
    derivation: Derivation | None = None
    """Declared in the claims file: the claim whose measurement this one's value is a function of."""
    lineage: Lineage | None = None
    """Declared in the claims file: the published value is a copy of another paper's number."""
    declared_measurement: str = ""
    """That claim's measurement key, resolved when the registry loads (:func:`with_derivations`)."""
    registered: Registration | None = None
    """When and why the tolerance numbers were set (the folder's ``registration.toml``); None
    for a claims file with no registration record beside it."""

    @property
    def measurement(self) -> str:
        """The key of what this claim measures: its declared origin's, else :func:`measurement_key`
        of its kind and protocol."""
        return self.declared_measurement or measurement_key(self.kind, self.raw_protocol)

    def protocol_for(self, alternative: Alternative | None = None) -> Any:
        """The typed protocol under the chosen interpretation, or under an alternative."""
        if alternative is None:
            return self.protocol
        if alternative.protocol is not None:
            return alternative.protocol
        kind = get_kind(self.kind)
        return kind.protocol.from_dict(self.id, "protocol",
                                       _merge(self.raw_protocol, alternative.overrides))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "source": self.source, "kind": self.kind,
            "table": self.table, "protocol": self.raw_protocol,
            "published": self.published.to_dict(), "tolerance": self.tolerance.to_dict(),
            "interpretation": self.interpretation,
            "alternatives": [{"label": a.label, **a.overrides} for a in self.alternatives],
            "known_divergence": (None if self.known_divergence is None
                                 else self.known_divergence.to_dict()),
            "notes": self.notes, "reading": self.reading,
            **({} if self.derivation is None else {"derived_from": {
                "claim": self.derivation.claim, "because": self.derivation.because}}),
            **({} if self.lineage is None else {"lineage": self.lineage.to_dict()}),
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
        return self._file_index.get(cid)

    @functools.cached_property
    def _file_index(self) -> dict[str, str]:
        """Claim id -> file path, built once: a lookup per claim stays constant-time."""
        return {cid: f.path for f in self.files for cid in f.claims}


def claim_files(spec: str | Path) -> list[Path]:
    """The files one ``--claims`` value names: the word ``shipped`` (the shipped folder), a folder
    (every ``*.toml`` in it that is not a folder, sorted by name: a FIFO or a broken link among
    them is refused when read, not skipped) or one file."""
    path = SHIPPED if str(spec) == SHIPPED_NAME else Path(spec)
    if not _is_dir(path):
        return [path]
    try:
        files = sorted(p for p in path.glob("*.toml")
                       if not _is_dir(p) and p.name != REGISTRATION_FILE)
    except OSError as exc:
        raise ClaimError(f"claims folder {shown_path(path)} cannot be listed: "
                         f"{exc.strerror or type(exc).__name__}") from exc
    if not files:
        raise ClaimsNotFoundError(f"claims folder {shown_path(path)} holds no *.toml file")
    return files


def _is_dir(path: Path) -> bool:
    """True for a folder (or a link to one); False for anything else, a path that cannot be
    looked at (a link loop, too long a name) included: reading it says why."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _identity(path: Path) -> tuple[int, int] | str:
    """What makes two paths one file: its device and inode; a path that cannot be looked at is
    itself (reading it says why)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return os.path.abspath(path)
    return (st.st_dev, st.st_ino)


@functools.cache
def _shipped_identity() -> tuple[int, int] | str:
    return _identity(SHIPPED)


def _file_name(path: Path) -> str:
    """A claims file as named in records: a shipped file as ``shipped/NAME``, others as given."""
    if _identity(path.parent) == _shipped_identity():
        return f"{SHIPPED_NAME}/{path.name}"
    return str(path)


def _read_claims_file(path: Path, name: str) -> tuple[bytes, dict[str, Claim]]:
    """The file's bytes and its validated claims; every failure is one ClaimError naming it
    (a path that is not a regular file, a FIFO or a link loop say, is refused when opened)."""
    raw = read_file(path, MAX_BYTES, ClaimError, "claims registry",
                    "a claims file holds a few hundred claims in well under that",
                    missing=ClaimsNotFoundError)
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


def registry_paths(specs: Sequence[str | Path]) -> list[Path]:
    """The files ``specs`` name, in order, each once (two paths to one file count once); linear
    in the number of files."""
    paths: list[Path] = []
    seen: set[tuple[int, int] | str] = set()
    for spec in specs:
        for path in claim_files(spec):
            key = _identity(path)
            if key not in seen:
                seen.add(key)
                paths.append(path)
    return paths


def load_registry(specs: Sequence[str | Path] = (SHIPPED_NAME,)) -> Registry:
    """Load the claims files that ``specs`` name (see :func:`claim_files`), in order; a file named
    twice is read once, and a claim id defined in two files is refused naming both. The work is
    linear in the number of files and claims (one parse each, one dictionary lookup per id)."""
    claims: dict[str, Claim] = {}
    origin: dict[str, str] = {}
    files: list[RegistryFile] = []
    defined: list[tuple[Path, tuple[str, ...]]] = []
    for path in registry_paths(specs):
        name = _file_name(path)
        raw, found = _read_claims_file(path, shown(name, 200))
        for cid in found:
            if cid in origin:
                raise ClaimError(f"claim {cid!r} is defined in both {shown(origin[cid], 200)} "
                                 f"and {shown(name, 200)}; claim ids must be unique across the "
                                 "claims files in use")
            origin[cid] = name
        claims.update(found)
        files.append(RegistryFile(name, hashlib.sha256(raw).hexdigest(), tuple(found)))
        defined.append((path, tuple(found)))
    check_table_readings(claims.values())
    claims = with_registrations(claims, defined)
    return Registry(with_derivations(claims), tuple(files))


def with_registrations(claims: dict[str, Claim], defined: Sequence[tuple[Path, Sequence[str]]]
                       ) -> dict[str, Claim]:
    """The claims with ``registered`` set from the ``registration.toml`` beside their file (a
    folder without one leaves them None). Every claim of a file beside a record must have one;
    when every claims file of that folder is loaded, every record must name a claim."""
    by_folder: dict[Path, list[tuple[Path, Sequence[str]]]] = {}
    for path, ids in defined:
        by_folder.setdefault(path.parent, []).append((path, ids))
    out = dict(claims)
    for folder, used in by_folder.items():
        record = folder / REGISTRATION_FILE
        if not record.exists():
            continue
        try:
            records = read_registration(record)
            ids = [cid for _, found in used for cid in found]
            complete = {p.name for p, _ in used} >= {p.name for p in claim_files(folder)}
            check_coverage(records, ids, complete=complete, where=shown(_file_name(record), 200))
        except RegistrationError as exc:
            raise ClaimError(str(exc)) from exc
        for cid in ids:
            out[cid] = dataclasses.replace(out[cid], registered=records[cid])
    return out



def _declared_origin(claims: dict[str, Claim], cid: str) -> Claim:
    """The claim at the end of ``cid``'s chain of declared derivations (itself without one)."""
    seen = [cid]
    claim = claims[cid]
    while claim.derivation is not None:
        origin = claim.derivation.claim
        if origin not in claims:
            raise ClaimError(f"claim {seen[-1]!r}: field 'derived_from.claim' names "
                             f"{shown(origin)}, which is not a claim in use")
        if origin in seen:
            raise ClaimError(f"claim {cid!r}: declared derivations form a cycle: "
                             f"{' -> '.join(seen + [origin])}")
        seen.append(origin)
        claim = claims[origin]
    return claim


def with_derivations(claims: dict[str, Claim]) -> dict[str, Claim]:
    """The claims with ``derived_from`` set: a claim measuring what an earlier one measures (the
    same kind and protocol, or declared a function of its measurement)."""
    claims = {cid: claim if claim.derivation is None else dataclasses.replace(
        claim, declared_measurement=_declared_origin(claims, cid).measurement)
        for cid, claim in claims.items()}
    first: dict[str, str] = {}
    out = {}
    for cid, claim in claims.items():
        origin = first.setdefault(claim.measurement, cid)
        out[cid] = dataclasses.replace(claim, derived_from=None if origin == cid else origin)
    return out


def check_table_readings(claims: Any) -> None:
    """Refuse diagnoses that judge one paper table under contradictory readings: every recorded
    divergence of a table that names a reading must name the same one."""
    named: dict[str, tuple[str, str]] = {}
    for claim in claims:
        kd = claim.known_divergence
        if kd is None or kd.reading is None or not claim.table or claim.reading == DEFAULT_READING:
            continue  # only the rows of a paper table (claims naming their reading) are one question
        seen = named.setdefault(claim.table, (kd.reading, claim.id))
        if seen[0] != kd.reading:
            raise ClaimError(f"claims {seen[1]!r} and {claim.id!r} of {claim.table} explain their "
                             f"divergence by different readings ({shown(seen[0])} and "
                             f"{shown(kd.reading)}); one table is one question: name one reading")


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
             "table", "reading", "derived_from", "lineage"}
    unknown = set(entry) - known
    if unknown:
        raise ClaimError(f"claim {cid!r}: unknown field(s) {shown(sorted(map(str, unknown)))}; "
                         f"expected {sorted(known)}")
    kind_name = need("kind", str)
    kind = get_kind(kind_name)
    if kind is None:
        raise ClaimError(f"claim {cid!r}: field 'kind' is {shown(kind_name)}, expected one of "
                         f"{kind_names()}")
    raw = need("protocol", dict)
    protocol = kind.protocol.from_dict(cid, "protocol", raw)
    try:
        tol = Tolerance(**need("tolerance", dict))
    except (TypeError, ValueError) as exc:
        raise ClaimError(f"claim {cid!r}: field 'tolerance': {one_line(exc, 300)}") from exc
    if not tol.justification.strip():
        raise ClaimError(f"claim {cid!r}: field 'tolerance.justification' must say why")
    _check_tolerance(cid, tol)
    published = _published(cid, need("published", dict), tol)
    alts = []
    for j, alt in enumerate(need("alternatives", list, [])):
        if not isinstance(alt, dict) or not isinstance(alt.get("label"), str):
            raise ClaimError(f"claim {cid!r}: field 'alternatives[{j}]' needs a string 'label'")
        over = {k: v for k, v in alt.items() if k != "label"}
        alt_protocol = kind.protocol.from_dict(cid, f"alternatives[{j}]", _merge(raw, over))
        alts.append(Alternative(alt["label"], over, alt_protocol))
    kd = _divergence(cid, entry.get("known_divergence"), [a.label for a in alts])
    reading = need("reading", str, DEFAULT_READING)
    if not reading.strip() or reading in {a.label for a in alts}:
        raise ClaimError(f"claim {cid!r}: field 'reading' must name the claim's own "
                         "interpretation, not be empty or an alternative's label")
    derivation = None
    if "derived_from" in entry:
        declared = need("derived_from", dict)
        origin, because = declared.get("claim"), declared.get("because")
        if set(declared) != {"claim", "because"} or not isinstance(origin, str) \
                or not isinstance(because, str) or not because.strip() or origin == cid:
            raise ClaimError(f"claim {cid!r}: field 'derived_from' must be {{ claim = \"<another "
                             "claim's id>\", because = \"<why this value is a function of its "
                             "measurement>\" }")
        derivation = Derivation(origin, because)
    lineage = None
    if "lineage" in entry:
        declared = need("lineage", dict)
        if set(declared) != {"origin", "quoted_by", "because"} or not all(
                isinstance(v, str) and v.strip() for v in declared.values()):
            raise ClaimError(f"claim {cid!r}: field 'lineage' must be {{ origin = \"<the paper "
                             "and table where the number first appeared>\", quoted_by = \"<the "
                             "source that copies it>\", because = \"<how the copy is known>\" }")
        lineage = Lineage(declared["origin"], declared["quoted_by"], declared["because"])
    return Claim(
        id=cid, title=need("title", str), source=need("source", str), kind=kind_name,
        protocol=protocol, raw_protocol=raw, published=published, tolerance=tol,
        interpretation=need("interpretation", str), alternatives=tuple(alts),
        fast=need("fast", bool, False), live=need("live", bool, False), known_divergence=kd,
        notes=need("notes", str, ""), table=need("table", str, ""), reading=reading,
        derivation=derivation, lineage=lineage,
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
    rule = get_rule(tol.rule)
    if rule.comparative and value is None:
        # comparative: the reference is the measured other side; a published value is optional
        return Estimate(float("nan"))
    if not _is_number(value):
        raise ClaimError(f"claim {cid!r}: field 'published.value' must be a number")
    std, n = pub.get("std"), pub.get("n")
    check_published(cid, "published", value, std, n)
    if rule.published_spread:
        if not isinstance(std, int | float) or std < 0:
            raise ClaimError(f"claim {cid!r}: field 'published.std' must be a number >= 0 "
                             f"(the {rule.name} rule needs it)")
        if not isinstance(n, int) or n < 2:
            raise ClaimError(f"claim {cid!r}: field 'published.n' must be an integer >= 2 "
                             f"(the {rule.name} rule needs it)")
    return Estimate(float(value), None if std is None else float(std), n)


def number_in(cid: str, field: str, value: Any, low: float, high: float, why: str = "",
              *, open_low: bool = False) -> float:
    """``value`` as a float if it is a number in ``[low, high]`` (``(low, high]`` when
    ``open_low``); else a ClaimError naming the claim, the field and the range."""
    inside = _is_number(value) and (low < value if open_low else low <= value) and value <= high
    if not inside:
        span = f"{'(' if open_low else '['}{low:g}, {high:g}]"
        raise ClaimError(f"claim {cid!r}: field {field!r} is {shown(value)}, expected a number in "
                         f"{span}" + (f" ({why})" if why else ""))
    return float(value)


def int_in(cid: str, field: str, value: Any, low: int, high: int, why: str = "") -> int:
    """``value`` if it is an integer (not a bool) in ``low..high``; else a ClaimError naming the
    claim, the field and the range."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ClaimError(f"claim {cid!r}: field {field!r} is {shown(value)}, expected an integer "
                         f"in {low}..{high}" + (f" ({why})" if why else ""))
    return value


def check_published(cid: str, where: str, value: Any, std: Any, n: Any) -> None:
    """A published value, std and n in range: |value| and std at most :data:`MAX_MAGNITUDE`,
    std >= 0, n in ``1..MAX_PUBLISHED_N``."""
    number_in(cid, f"{where}.value", value, -MAX_MAGNITUDE, MAX_MAGNITUDE, WHY_MAGNITUDE)
    if std is not None:
        number_in(cid, f"{where}.std", std, 0, MAX_MAGNITUDE, WHY_MAGNITUDE)
    if n is not None:
        int_in(cid, f"{where}.n", n, 1, MAX_PUBLISHED_N, "runs or cells behind the number")


def _check_tolerance(cid: str, tol: Tolerance) -> None:
    """The tolerance parameters' ranges beyond :class:`Tolerance`'s own (which keeps alpha in
    (0, 0.5), margin >= 0, factor >= 1): a margin or factor large enough to pass anything is
    refused."""
    if tol.margin is not None:
        number_in(cid, "tolerance.margin", tol.margin, 0, MAX_MAGNITUDE, WHY_MAGNITUDE)
    if tol.factor is not None:
        number_in(cid, "tolerance.factor", tol.factor, 1, MAX_FACTOR,
                  "a larger factor accepts anything two orders of magnitude off")


def choice(cid: str, where: str, proto: Mapping[str, Any], key: str, options: tuple,
            required: bool = True) -> None:
    """Refuse a field that is not one of ``options`` (or missing, when ``required``)."""
    if key not in proto:
        if required:
            raise ClaimError(f"claim {cid!r}: field '{where}.{key}' is missing")
        return
    if not isinstance(proto[key], str) or proto[key] not in options:
        raise ClaimError(f"claim {cid!r}: field '{where}.{key}' is {shown(proto[key])}, "
                         f"expected one of {options}")


def positive_int(cid: str, where: str, proto: Mapping[str, Any], key: str,
                  limit: int = MAX_SIZE) -> None:
    """Refuse a field that is not an integer in ``1..limit``."""
    v = proto.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise ClaimError(f"claim {cid!r}: field '{where}.{key}' must be a positive integer, "
                         f"got {shown(v)}")
    if v > limit:
        raise ClaimError(f"claim {cid!r}: field '{where}.{key}' is {v}, more than {limit}: "
                         "far beyond any protocol of the paper, it would run for days")


def integer(cid: str, where: str, proto: Mapping[str, Any], key: str) -> None:
    """Refuse a field that is not a seed: an integer in ``0..MAX_SEED`` (what
    :func:`tfnas.checks.check_seed` accepts)."""
    int_in(cid, f"{where}.{key}", proto.get(key), 0, MAX_SEED, WHY_SEED)


def known_fields(cid: str, where: str, proto: Mapping[str, Any], fields: type | set[str]) -> None:
    """Refuse fields a protocol does not have (``fields``: a dataclass or the names)."""
    names = ({f.name for f in dataclasses.fields(fields)} if isinstance(fields, type)
             else set(fields))
    unknown = set(proto) - names
    if unknown:
        raise ClaimError(f"claim {cid!r}: unknown field(s) {shown(sorted(map(str, unknown)))} "
                         f"in '{where}'; expected some of {sorted(names)}")
