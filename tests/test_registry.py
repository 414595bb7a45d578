"""The claims registry: the shipped files load and cover the paper; malformed entries fail loudly."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import tomllib
from pathlib import Path

import pytest

from harness.registry import (
    SHIPPED_NAME,
    ClaimError,
    ClaimsNotFoundError,
    claim_files,
    load_claims,
    load_registry,
    parse_claim,
    parse_claims,
)

SHIPPED = load_claims()
SHIPPED_FILES = claim_files(SHIPPED_NAME)


def raw_entries():
    return [e for p in SHIPPED_FILES for e in tomllib.loads(p.read_text(encoding="utf-8"))["claim"]]


def by_id(cid):
    return copy.deepcopy(next(e for e in raw_entries() if e["id"] == cid))


def test_shipped_registry_covers_the_paper_and_anchors():
    ids = set(SHIPPED)
    for d in ("cifar10", "cifar100", "ImageNet16-120"):
        assert f"fig3-corr-{d}" in ids
        for n in (10, 100, 1000):
            for q in ("accuracy", "score", "time"):
                assert f"table1-{d}-n{n}-{q}" in ids
        for t in (2, 3, 4, 5):
            for q in ("accuracy", "score"):
                assert f"table{t}-{d}-{q}" in ids
        for prefix in ("rea-time", "cmp-synflow-beats-naswot", "cmp-rea-beats-random",
                       "cmp-params-competitive", "mellor-kendall", "mellor-search-n10",
                       "mellor-search-n100", "abdelfattah-synflow"):
            assert f"{prefix}-{d}" in ids
    assert "cifar100-best-scores" in ids


def test_every_claim_states_interpretation_and_justification():
    for c in SHIPPED.values():
        assert c.interpretation.strip() and c.tolerance.justification.strip(), c.id
        assert c.known_divergence is None or c.known_divergence.because.strip()


def test_alternatives_are_real_overrides():
    c = SHIPPED["table1-cifar10-n10-accuracy"]
    alt = c.alternatives[0]
    assert c.protocol_for(alt).selection == "all"
    assert c.protocol_for().selection == "best"
    cmp = SHIPPED["cmp-rea-beats-random-cifar10"]
    merged = cmp.protocol_for(cmp.alternatives[0])
    assert merged.b.n == 100 and merged.b.proxy == "naswot"  # nested merge
    assert cmp.to_dict()["protocol"] == by_id(cmp.id)["protocol"]  # recorded as written


@pytest.mark.parametrize("cid, mutate, field", [
    ("fig3-corr-cifar10", lambda e: e.pop("title"), "title"),
    ("fig3-corr-cifar10", lambda e: e.update(kind="poll"), "kind"),
    ("fig3-corr-cifar10", lambda e: e["protocol"].update(coefficient="cosine"),
     "protocol.coefficient"),
    ("fig3-corr-cifar10", lambda e: e["protocol"].update(dataset="mnist"), "protocol.dataset"),
    ("fig3-corr-cifar10", lambda e: e["published"].pop("value"), "published.value"),
    ("fig3-corr-cifar10", lambda e: e["tolerance"].update(justification=" "),
     "tolerance.justification"),
    ("fig3-corr-cifar10", lambda e: e["tolerance"].pop("margin"), "tolerance"),
    ("fig3-corr-cifar10", lambda e: e.update(colour="red"), "unknown field"),
    ("fig3-corr-cifar10", lambda e: e.update(fast="yes"), "fast"),
    ("fig3-corr-cifar10", lambda e: e.update(known_divergence=""), "known_divergence"),
    ("fig3-corr-cifar10", lambda e: e.update(known_divergence={"because": "ours is 0.68"}),
     "known_divergence.because"),
    ("fig3-corr-cifar10", lambda e: e["alternatives"].append({"coefficient": "kendall"}),
     "alternatives"),
    ("fig3-corr-cifar10", lambda e: e["alternatives"].append({"label": "x", "metric": "test9"}),
     "alternatives"),
    ("table1-cifar10-n10-accuracy", lambda e: e["published"].pop("std"), "published.std"),
    ("table1-cifar10-n10-accuracy", lambda e: e["published"].update(n=1), "published.n"),
    ("table1-cifar10-n10-accuracy", lambda e: e["protocol"].update(n=0), "protocol.n"),
    ("table1-cifar10-n10-accuracy", lambda e: e["protocol"].pop("seed"), "protocol.seed"),
    ("table1-cifar10-n10-accuracy", lambda e: e["protocol"].update(selection="population"),
     "protocol.selection"),
    ("table4-cifar10-score", lambda e: e["protocol"].update(sample=100), "protocol.sample"),
    ("table4-cifar10-score", lambda e: e["protocol"].update(cycles=10), "protocol.cycles"),
    ("cmp-rea-beats-random-cifar10", lambda e: e["protocol"].pop("b"), "protocol.b"),
    ("cifar100-best-scores", lambda e: e["protocol"].update(methods=[]), "protocol.methods"),
    ("table1-cifar10-time-scaling", lambda e: e["protocol"]["search"].update(metric="valid12"),
     "protocol.search.metric"),
    ("table1-cifar10-time-scaling", lambda e: e["protocol"]["reference"].pop("n"),
     "protocol.reference.n"),
])
def test_malformed_entries_name_claim_and_field(cid, mutate, field):
    entry = by_id(cid)
    mutate(entry)
    with pytest.raises(ClaimError) as info:
        parse_claim(entry)
    assert cid in str(info.value) and field in str(info.value)


def test_registry_level_errors(tmp_path):
    with pytest.raises(ClaimError, match="non-empty"):
        parse_claims({})
    with pytest.raises(ClaimError, match="duplicate"):
        parse_claims({"claim": [by_id("fig3-corr-cifar10"), by_id("fig3-corr-cifar10")]})
    with pytest.raises(ClaimError, match="'id'"):
        parse_claim({"title": "no id"})
    bad = tmp_path / "bad.toml"
    bad.write_text("[[claim]\nid = ", encoding="utf-8")
    with pytest.raises(ClaimError, match="not valid TOML"):
        load_claims(bad)
    with pytest.raises(FileNotFoundError):
        load_claims(tmp_path / "absent.toml")
    assert issubclass(ClaimError, ValueError)


def test_missing_score_table_is_reported_as_not_run_with_the_reason(tmp_path):
    from harness.evaluate import Context, evaluate_claim

    ctx = Context(tables_root=tmp_path)
    for cid in ("fig3-corr-cifar10", "table4-cifar10-score", "cmp-params-competitive-cifar10"):
        rec = evaluate_claim(SHIPPED[cid], ctx)
        assert rec.status == "not run", cid
        assert "no score table" in rec.reason and str(tmp_path) in rec.reason


def test_a_missing_table_s_reason_reads_the_same_from_any_directory(tmp_path, monkeypatch):
    """The README's findings block quotes the reasons and CI checks it from its own clone: a
    relative tables folder's reason names the file, not the directory it was looked from."""
    from harness.evaluate import Context, evaluate_claim

    reasons = []
    for where in ("one", "two"):
        (tmp_path / where).mkdir()
        monkeypatch.chdir(tmp_path / where)
        rec = evaluate_claim(SHIPPED["fig3-corr-cifar10"], Context(tables_root=Path("tables")))
        assert rec.status == "not run" and str(tmp_path) not in rec.reason, rec.reason
        reasons.append(rec.reason)
    assert reasons[0] == reasons[1] and "tables/" in reasons[0]


def test_evaluation_is_deterministic_and_records_seeds(tmp_path, data_root):
    import numpy as np

    from harness.evaluate import Context, evaluate_claim
    from tfnas.space import all_cells
    from tfnas.tables import write_table

    rng = np.random.default_rng(1)  # a synthetic table: the claim's values do not matter here
    scores = {a: float(v) for a, v in zip(all_cells(), rng.normal(size=15625), strict=True)}
    write_table(tmp_path / "naswot-cifar10.csv.gz", "naswot", "cifar10", scores, {"note": "test"})
    claim = SHIPPED["table1-cifar10-n10-accuracy"]
    one = evaluate_claim(claim, Context(tables_root=tmp_path, repetitions=4))
    two = evaluate_claim(claim, Context(tables_root=tmp_path, repetitions=4))
    assert one.measured
    assert one.reproduced == two.reproduced
    assert one.details == two.details and one.details["method"] == "exact"
    assert one.details["repetitions"] == 4
    assert one.alternatives_run[0].reproduced.n == 4 * 10  # all sampled cells pooled


def test_scaling_is_the_ratio_of_the_two_searches_and_reuses_timed_runs(data_root):
    from harness.evaluate import Context
    from harness.kinds.scaling import ScalingProtocol, measure_scaling
    from harness.kinds.search import measure_search

    side = {"algorithm": "random", "proxy": "params", "dataset": "cifar10", "metric": "valid12",
            "repetitions": 2, "seed": 3, "selection": "best", "quantity": "time"}
    proto = ScalingProtocol.from_dict("t", "protocol", {"a": {**side, "n": 6},
                                                        "b": {**side, "n": 2}})
    ctx = Context()
    a = measure_search(proto.a, ctx)  # a time claim runs first; the scaling claim reads it
    got = measure_scaling(proto, ctx)
    assert got.details["a"]["values"] == a.details["values"]  # the same runs, not new ones
    assert got.estimate.value == got.details["a_mean"] / got.details["b_mean"]
    fresh = measure_search(proto.a, ctx)  # a time claim itself always measures afresh
    assert fresh.details["run_seeds"] == a.details["run_seeds"]
    assert fresh.details["values"] != a.details["values"]
    # other quantities are never reused: a score ratio from tables equals the two searches' ratio
    scores = ScalingProtocol.from_dict("t", "protocol", {
        "a": {**side, "n": 6, "quantity": "score"}, "b": {**side, "n": 2, "quantity": "score"}})
    ratio = measure_scaling(scores, Context())
    expected = (measure_search(scores.a, Context()).estimate.value
                / measure_search(scores.b, Context()).estimate.value)
    assert ratio.estimate.value == expected


# ---------------------------------------------------------------- hostile registry files


def shipped_block(cid):
    """The TOML text of one shipped claim (its [[claim]] table and its alternatives)."""
    text = next(t for t in (p.read_text(encoding="utf-8") for p in SHIPPED_FILES)
                if f'[[claim]]\nid = "{cid}"' in t)
    start = text.index(f'[[claim]]\nid = "{cid}"')
    end = text.find("\n[[claim]]\n", start + 1)
    return text[start:] if end < 0 else text[start:end + 1]


def load_edited(tmp_path, cid, old, new):
    block = shipped_block(cid)
    assert old in block, (cid, old)
    path = tmp_path / "claims.toml"
    path.write_text(block.replace(old, new, 1), encoding="utf-8")
    return load_claims(path)


@pytest.mark.parametrize("cid, old, new, field", [
    ("fig3-corr-cifar10", "margin = 0.05", "margin = inf", "tolerance.margin"),
    ("fig3-corr-cifar10", "value = 0.7357", "value = nan", "published.value"),
    ("fig3-corr-cifar10", "seed = 20240601", "seed = nan", "protocol.seed"),
    ("fig3-corr-cifar10", "sample = 1000", "sample = -inf", "alternatives[3].sample"),
    ("table1-cifar10-n10-accuracy", "std = 10.056", "std = nan", "published.std"),
    ("table1-cifar10-n10-accuracy", "value = 67.387", "value = -inf", "published.value"),
    ("table1-cifar10-n10-accuracy", "alpha = 0.05", "alpha = nan", "tolerance.alpha"),
    ("table1-cifar10-n10-accuracy", "n = 10,", "n = inf,", "protocol.n"),
    ("table1-cifar10-time-scaling", "factor = 3.0", "factor = inf", "tolerance.factor"),
    ("table1-cifar10-time-scaling", "value = 0.9715", "value = +inf", "published.value"),
])
def test_non_finite_numbers_are_refused_naming_claim_and_field(tmp_path, cid, old, new, field):
    """NaN never passes and inf passes anything: neither may stand in a numeric field."""
    assert cid in load_edited(tmp_path, cid, "\n", "\n")  # the block loads as shipped
    with pytest.raises(ClaimError) as info:
        load_edited(tmp_path, cid, old, new)
    message = str(info.value)
    assert cid in message and field in message and "finite" in message, message
    assert "\n" not in message


@pytest.mark.parametrize("bad", ["fig3 corr", "<script>", "fig3-corr-cifar10]", "Ä1", "-x",
                                 "a/../b", "x" * 81, "٣", "a\u200bb"])
def test_claim_ids_outside_the_safe_charset_are_refused(tmp_path, bad):
    with pytest.raises(ClaimError) as info:
        load_edited(tmp_path, "fig3-corr-cifar10", 'id = "fig3-corr-cifar10"',
                    f"id = {json.dumps(bad)}")
    assert "'id'" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("old, new, field", [
    ("published = { value = 0.7357 }", 'published = { value = 0.7357, std = "x" }',
     "published.std"),
    ("published = { value = 0.7357 }", "published = { value = 0.7357, n = 1.5 }", "published.n"),
    ("published = { value = 0.7357 }", "published = { value = 0.7357, mean = 1 }", "published"),
    ('justification = "Equivalent', 'justification = 5, notes2 = "Equivalent', "tolerance"),
    ('coefficient = "pearson"', "coefficient = [1]", "protocol.coefficient"),
])
def test_wrongly_typed_fields_are_claim_errors(tmp_path, old, new, field):
    with pytest.raises(ClaimError) as info:
        load_edited(tmp_path, "fig3-corr-cifar10", old, new)
    assert field in str(info.value) and "\n" not in str(info.value)


def test_a_comparison_side_of_unknown_kind_is_refused(tmp_path):
    with pytest.raises(ClaimError, match=r"protocol\.a\.kind"):
        load_edited(tmp_path, "cmp-rea-beats-random-cifar10", "a = { algorithm",
                    'a = { kind = "poll", algorithm')


def test_oversize_protocols_are_refused_with_the_reason(tmp_path):
    with pytest.raises(ClaimError, match="would run for days"):
        load_edited(tmp_path, "table1-cifar10-n10-accuracy", "repetitions = 30",
                    "repetitions = 1000000000")


def test_unreadable_registry_files_are_one_line_claim_errors(tmp_path):
    cases = {"latin1.toml": shipped_block("fig3-corr-cifar10").replace("Fig.", "Fig\xe9")
             .encode("latin-1"),
             "deep.toml": b"x = " + b"[" * 100_000 + b"]" * 100_000 + b"\n",
             "digits.toml": b"x = " + b"9" * 5000 + b"\n"}
    for name, raw in cases.items():
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(ClaimError) as info:
            load_claims(tmp_path / name)
        assert name in str(info.value) and "\n" not in str(info.value), name
    with pytest.raises(ClaimError, match="is a directory; expected a regular file"):
        load_claims(tmp_path)


# ---------------------------------------------------------------- the shipped files; several files


def _paper(source):
    """The paper a claim's ``source`` names: for an anchor from published-numbers.md the authors
    in parentheses, else the part before the first comma (``paper, Table I`` -> ``paper``)."""
    head, _, rest = source.partition(", ")
    return rest[rest.index("(") + 1:rest.rindex(")")] if head == "published-numbers.md" else head


def test_each_shipped_file_is_one_papers_ledger_and_ids_are_unique_across_them():
    assert len(SHIPPED_FILES) >= 3 and all(p.suffix == ".toml" for p in SHIPPED_FILES)
    papers = []
    seen = []
    for path in SHIPPED_FILES:
        claims = load_claims(path)
        (paper,) = {_paper(c.source) for c in claims.values()}  # one paper per file
        papers.append(paper)
        seen += list(claims)
        text = path.read_text(encoding="utf-8")
        assert text.startswith("# "), path  # a header comment naming the paper
    assert len(set(papers)) == len(papers)  # and one file per paper
    assert len(seen) == len(set(seen)) == len(SHIPPED)
    assert set(seen) == set(SHIPPED)


def test_paper_of_a_source():
    assert _paper("paper, Sec. IV (Tables II vs III)") == "paper"
    assert _paper("published-numbers.md, NASWOT (Mellor et al. 2021)") == "Mellor et al. 2021"


def _claims_file(tmp_path, name, *cids, rename=None):
    path = tmp_path / name
    text = "\n".join(shipped_block(c) for c in cids)
    for old, new in (rename or {}).items():
        text = text.replace(f'id = "{old}"', f'id = "{new}"')
    path.write_text(text, encoding="utf-8")
    return path


def test_load_registry_reads_files_and_folders_in_order_and_records_each(tmp_path):
    one = _claims_file(tmp_path, "one.toml", "fig3-corr-cifar10", rename={"fig3-corr-cifar10": "u1"})
    folder = tmp_path / "more"
    folder.mkdir()
    _claims_file(folder, "b.toml", "mellor-kendall-cifar10", rename={"mellor-kendall-cifar10": "u3"})
    _claims_file(folder, "a.toml", "table1-cifar10-n10-accuracy",
                 rename={"table1-cifar10-n10-accuracy": "u2"})
    (folder / "notes.txt").write_text("not a claims file")
    reg = load_registry([one, folder, one])  # a file named twice is read once
    assert [f.path for f in reg.files] == [str(one), str(folder / "a.toml"), str(folder / "b.toml")]
    assert [f.claims for f in reg.files] == [("u1",), ("u2",), ("u3",)]
    assert list(reg.claims) == ["u1", "u2", "u3"] and reg.file_of("u2") == str(folder / "a.toml")
    digests = [hashlib.sha256(Path(f.path).read_bytes()).hexdigest() for f in reg.files]
    assert [f.sha256 for f in reg.files] == digests
    assert reg.sha256 == hashlib.sha256("".join(d + "\n" for d in digests).encode()).hexdigest()
    assert load_registry([folder, one]).sha256 != reg.sha256  # the order is part of it
    assert reg.files[0].to_dict() == {"path": str(one), "sha256": digests[0], "claims": ["u1"]}


def test_the_word_shipped_names_the_shipped_folder_and_is_the_default(tmp_path):
    reg = load_registry()
    assert reg.claims.keys() == SHIPPED.keys()
    assert [f.path for f in reg.files] == [f"shipped/{p.name}" for p in SHIPPED_FILES]
    mine = _claims_file(tmp_path, "mine.toml", "fig3-corr-cifar10",
                        rename={"fig3-corr-cifar10": "mine-1"})
    both = load_registry([SHIPPED_NAME, mine])
    assert list(both.claims) == [*SHIPPED, "mine-1"]
    assert both.file_of("fig3-corr-cifar10").startswith("shipped/")


def test_a_claim_id_in_two_files_is_refused_naming_both(tmp_path):
    mine = _claims_file(tmp_path, "mine.toml", "fig3-corr-cifar100")
    with pytest.raises(ClaimError) as info:
        load_registry([SHIPPED_NAME, mine])
    message = str(info.value)
    assert "'fig3-corr-cifar100'" in message and "shipped/training-free-nas.toml" in message
    assert "mine.toml'" in message and "\n" not in message  # a long path is shortened


def test_a_malformed_file_among_several_is_refused_naming_file_claim_and_field(tmp_path):
    good = _claims_file(tmp_path, "good.toml", "fig3-corr-cifar10", rename={"fig3-corr-cifar10": "g"})
    bad = _claims_file(tmp_path, "bad.toml", "fig3-corr-cifar10", rename={"fig3-corr-cifar10": "b"})
    bad.write_text(bad.read_text().replace('proxy = "naswot"', 'proxy = "nasbot"'))
    with pytest.raises(ClaimError) as info:
        load_registry([good, bad])
    message = str(info.value)
    assert re.match(r"'[^']*bad\.toml': claim 'b': field 'protocol\.proxy' is 'nasbot'",
                    message), message
    assert "\n" not in message


def test_missing_files_and_empty_folders_are_refused(tmp_path):
    with pytest.raises(ClaimsNotFoundError, match="absent.toml.* does not exist"):
        load_registry([tmp_path / "absent.toml"])
    with pytest.raises(ClaimsNotFoundError, match="holds no \\*.toml"):
        load_registry([tmp_path])


def test_every_claim_has_its_kinds_typed_protocol_and_records_it_as_written():
    from harness.kinds import get_kind

    raw = {e["id"]: e for e in raw_entries()}
    for c in SHIPPED.values():
        assert isinstance(c.protocol, get_kind(c.kind).protocol), c.id
        assert c.to_dict()["protocol"] == raw[c.id]["protocol"], c.id
        for alt in c.alternatives:
            assert isinstance(c.protocol_for(alt), get_kind(c.kind).protocol), c.id
