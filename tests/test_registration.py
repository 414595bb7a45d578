"""The registration record (harness/claims/registration.toml) against the claims: every claim's
tolerance numbers equal its registered fingerprint, so a tolerance cannot change silently (a change
needs a new record: ``set``, ``reason``, ``fingerprint``), and the record's loading refuses
malformed or incomplete records in one line."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from harness.registration import (
    FILE_NAME,
    PENDING,
    fingerprint_changes,
    parse_registration,
    tolerance_numbers,
    words_digest,
)
from harness.registry import SHIPPED, Claim, ClaimError, load_registry

ROOT = Path(__file__).resolve().parent.parent


def silent_changes(claims: dict[str, Claim]) -> list[str]:
    """One line per claim whose tolerance numbers differ from its registered fingerprint, or whose
    justification differs from its registered words."""
    out = []
    for cid, claim in claims.items():
        if claim.registered is None:
            out.append(f"claim {cid!r}: no registration record")
            continue
        changes = fingerprint_changes(claim.registered.fingerprint,
                                      tolerance_numbers(claim.tolerance, claim.raw_protocol))
        out.extend(f"claim {cid!r}: tolerance field {c} without an updated registration (new "
                   f"'set', a 'reason' of the change, the new 'fingerprint') in {FILE_NAME}"
                   for c in changes)
        words = words_digest(claim.tolerance.justification or "")
        if words != claim.registered.words:
            out.append(f"claim {cid!r}: tolerance justification changed (words "
                       f"{claim.registered.words} -> {words}) without a recorded change (a "
                       f"'changes' entry: when, commit, why, results known; the new 'words') in "
                       f"{FILE_NAME}")
    return out


def test_every_shipped_tolerance_matches_its_registration():
    problems = silent_changes(load_registry().claims)
    assert not problems, problems[0] + (f" (and {len(problems) - 1} more)" if problems[1:] else "")


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "claims"
    shutil.copytree(SHIPPED, folder)
    return folder


def _new_changes(folder: Path, before: list[str]) -> list[str]:
    """The problems of ``folder`` beyond ``before`` (a tolerance another engineer is changing in
    the working tree must not decide these tests)."""
    return [p for p in silent_changes(load_registry([folder]).claims) if p not in before]


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_changed_margin_fails_naming_claim_and_field(tmp_path):
    folder = _copy(tmp_path)
    before = silent_changes(load_registry([folder]).claims)
    _edit(folder / "training-free-nas.toml",
          '[claim.fig3-corr-cifar10].changes\ntolerance = { rule = "equivalence", margin = 0.05,',
          '[claim.fig3-corr-cifar10].changes\ntolerance = { rule = "equivalence", margin = 0.03,')
    problems = _new_changes(folder, before)
    assert problems == [f"claim 'fig3-corr-cifar10': tolerance field margin: 0.05 -> 0.03 without "
                        f"an updated registration (new 'set', a 'reason' of the change, the new "
                        f"'fingerprint') in {FILE_NAME}"]


def test_a_changed_window_fails(tmp_path):
    folder = _copy(tmp_path)
    before = silent_changes(load_registry([folder]).claims)
    _edit(folder / "training-free-nas.toml", "low = 65.0, high = 75.0", "low = 60.0, high = 75.0")
    problems = _new_changes(folder, before)
    assert len(problems) == 1 and "window_low: 65.0 -> 60.0" in problems[0]


def test_a_changed_justification_fails_until_recorded(tmp_path):
    folder = _copy(tmp_path)
    before = silent_changes(load_registry([folder]).claims)
    claims = folder / "training-free-nas.toml"
    old_words = words_digest(load_registry([folder]).claims["table1-cifar10-n10-accuracy"]
                             .tolerance.justification)
    text = claims.read_text()
    start = text.index('id = "table1-cifar10-n10-accuracy"')
    at = text.index('justification = "', start) + len('justification = "')
    claims.write_text(text[:at] + "Fixed before looking. " + text[at:])
    problems = _new_changes(folder, before)
    assert len(problems) == 1 and problems[0].startswith(
        "claim 'table1-cifar10-n10-accuracy': tolerance justification changed")
    new_words = words_digest(load_registry([folder]).claims["table1-cifar10-n10-accuracy"]
                             .tolerance.justification)
    record = folder / FILE_NAME
    rec = record.read_text()
    block = rec.index("[claim.table1-cifar10-n10-accuracy]")
    at = rec.index(f'words = "{old_words}"', block)
    record.write_text(rec[:at] + f'words = "{new_words}"\nchanges = [{{ date = "2026-12-07", '
                      'commit = "pending", changed = ["justification"], results_known = true, '
                      'reason = "r" }]' + rec[at + len(f'words = "{old_words}"'):])
    assert _new_changes(folder, before) == []


def test_an_updated_record_passes(tmp_path):
    folder = _copy(tmp_path)
    before = silent_changes(load_registry([folder]).claims)
    _edit(folder / "training-free-nas.toml", "low = 65.0, high = 75.0", "low = 60.0, high = 75.0")
    _edit(folder / FILE_NAME, "window_low = 65.0", "window_low = 60.0")
    assert _new_changes(folder, before) == []


@pytest.mark.parametrize("old, new, message", [
    ("[claim.fig3-corr-cifar10]", "[claim.no-such-claim]", r"no record for claim\(s\)"),
    ('results_known = true', 'results_known = "maybe"', "field 'results_known'"),
    ('commit = "7a84bf0"', 'commit = "HEAD"', "field 'set.commit'"),
    ('date = "2026-12-01"', 'date = "yesterday"', "field 'set.date'"),
    ('changed = ["justification"]', 'changed = ["tone"]', r"changes\[0\]\.changed"),
    ('results_known = true, reason = "Words', 'results_known = 2, reason = "Words',
     r"changes\[0\]\.results_known"),
    ('fingerprint = { rule = "equivalence", alpha = 0.05, margin = 0.05 }',
     'fingerprint = { rule = "equivalence", alpha = 0.05, margin = "0.05" }', "fingerprint.margin"),
])
def test_malformed_records_are_refused_in_one_line(tmp_path, old, new, message):
    folder = _copy(tmp_path)
    _edit(folder / FILE_NAME, old, new)
    with pytest.raises(ClaimError, match=message) as info:
        load_registry([folder])
    assert "\n" not in str(info.value)


def test_a_record_for_an_unknown_claim_is_refused(tmp_path):
    folder = _copy(tmp_path)
    text = (folder / FILE_NAME).read_text()
    (folder / FILE_NAME).write_text(text + '\n[claim.ghost]\nset = { date = "2026-12-01", commit = '
                                    '"7a84bf0" }\nresults_known = false\nreason = "r"\n'
                                    'fingerprint = { rule = "holds" }\nwords = "000000000000"\n')
    with pytest.raises(ClaimError, match="unknown claim id"):
        load_registry([folder])
    # a partial load (one file of the folder) cannot tell an unknown id from another file's
    assert load_registry([folder / "dong-2021-nats-bench.toml"]).claims


def test_a_folder_without_a_record_leaves_claims_unregistered(tmp_path):
    folder = _copy(tmp_path)
    (folder / FILE_NAME).unlink()
    assert all(c.registered is None for c in load_registry([folder]).claims.values())


def test_parse_refuses_unknown_tables():
    with pytest.raises(ValueError, match="unknown top-level"):
        parse_registration({"claims": {}})


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout


def _numbers_at(commit: str) -> dict[str, dict]:
    """Every claim's tolerance numbers in the claims files at ``commit`` (old and new layout)."""
    names = [n for n in _git("ls-tree", "-r", "--name-only", commit, "harness").split()
             if n == "harness/claims.toml" or (n.startswith("harness/claims/")
                                                and n.endswith(".toml")
                                                and not n.endswith(FILE_NAME))]
    out = {}
    for name in names:
        for entry in tomllib.loads(_git("show", f"{commit}:{name}")).get("claim", []):
            tol = {k: v for k, v in entry.get("tolerance", {}).items() if k != "justification"}
            proto = entry.get("protocol", {})
            out[entry["id"]] = {**{k: float(v) if k != "rule" else v for k, v in tol.items()},
                                **{f"window_{k}": float(proto[k]) for k in ("low", "high")
                                   if k in proto}}
    return out


@pytest.mark.integration  # runs git in a subprocess
def test_set_commits_hold_the_registered_numbers():
    """``set`` is checkable: at the named commit the claim's tolerance had the registered numbers
    (a record that keeps an old ``set`` after a change fails here)."""
    try:
        if _git("rev-parse", "--is-shallow-repository").strip() == "true":
            pytest.skip("a shallow clone lacks the history the records name")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    at: dict[str, dict[str, dict]] = {}
    wrong = []
    for cid, claim in load_registry().claims.items():
        rec = claim.registered
        assert rec is not None, cid
        if rec.commit == PENDING:
            continue
        numbers = at.setdefault(rec.commit, _numbers_at(rec.commit)).get(cid)
        if numbers != dict(rec.fingerprint):
            wrong.append(f"claim {cid!r}: at {rec.commit} its tolerance was {numbers}, not the "
                         f"registered {dict(rec.fingerprint)}")
    assert not wrong, wrong[0]


def _words_at(commit: str) -> dict[str, str]:
    """Every claim's justification digest in the claims files at ``commit``."""
    names = [n for n in _git("ls-tree", "-r", "--name-only", commit, "harness/claims").split()
             if n.endswith(".toml") and not n.endswith(FILE_NAME)]
    return {entry["id"]: words_digest(entry.get("tolerance", {}).get("justification", ""))
            for name in names for entry in tomllib.loads(_git("show", f"{commit}:{name}"))
            .get("claim", [])}


@pytest.mark.integration  # runs git in a subprocess
def test_the_last_recorded_change_holds_the_recorded_words():
    """A recorded change is checkable: at its commit the claim's justification already had the
    words the record names (a later silent edit is caught by the digest, this by the history)."""
    try:
        if _git("rev-parse", "--is-shallow-repository").strip() == "true":
            pytest.skip("a shallow clone lacks the history the records name")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    at: dict[str, dict[str, str]] = {}
    wrong, checked = [], 0
    for cid, claim in load_registry().claims.items():
        rec = claim.registered
        assert rec is not None, cid
        if not rec.changes or rec.changes[-1].commit == PENDING:
            continue
        commit = rec.changes[-1].commit
        checked += 1
        words = at.setdefault(commit, _words_at(commit)).get(cid)
        if words != rec.words:
            wrong.append(f"claim {cid!r}: at {commit} its justification was {words}, not the "
                         f"recorded {rec.words}")
    assert checked and not wrong, wrong[:1]
