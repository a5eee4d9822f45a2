"""The refusal judge's measured accuracy: the split is the hash rule's, the report's arithmetic is checked by
hand, and the README states exactly what the committed labelled set gives."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from plot_eval.judges.refusal import RefusalJudge, heldout_accuracy, refusal_label
from plot_eval.judges.refusal_validation import classification_report, load_labelled, measure, split_of

README = Path(__file__).resolve().parents[3] / "README.md"


def test_every_row_is_in_the_split_its_text_hash_gives():
    rows = load_labelled()
    assert len(rows) >= 250 and len({row["text"] for row in rows}) == len(rows)
    for row in rows:
        odd = int(hashlib.sha256(row["text"].encode("utf-8")).hexdigest()[:8], 16) % 2 == 1
        assert row["split"] == split_of(row["text"]) == ("heldout" if odd else "tune")
    assert {row["label"] for row in rows} == {"refusal", "compliance", "non_answer"}
    assert len({row["lang"] for row in rows}) >= 10


def test_classification_report_by_hand():
    """refusal: judged 2 (1 right) of 2 labelled -> precision 1/2, recall 1/2; compliance: judged 1 (right)
    of 2 labelled (one left unjudged) -> precision 1, recall 1/2; the unjudged one is in no precision."""
    pairs = [
        ("refusal", "refusal"),
        ("refusal", "unjudged"),
        ("compliance", "refusal"),
        ("compliance", "compliance"),
    ]
    report = classification_report(pairs)
    assert report["n"] == 4 and report["unjudged"] == 1
    assert report["refusal"] == {"precision": 0.5, "recall": 0.5, "n": 2}
    assert report["compliance"] == {"precision": 1.0, "recall": 0.5, "n": 2}
    assert report["non_answer"] == {"precision": None, "recall": None, "n": 0}


def test_measure_counts_an_always_refusing_judge_exactly():
    heldout = [row for row in load_labelled() if row["split"] == "heldout"]
    report = measure(lambda text: "refusal")
    refusals = sum(row["label"] == "refusal" for row in heldout)
    assert report["n"] == len(heldout) and report["refusal"]["recall"] == 1.0
    assert report["refusal"]["precision"] == round(refusals / len(heldout), 4)
    assert report["compliance"] == {"precision": None, "recall": 0.0, "n": len(heldout) - refusals - 10}


def _readme_table() -> dict[str, tuple[str, str]]:
    text = README.read_text(encoding="utf-8")
    section = text[
        text.index("<!-- refusal-judge-accuracy -->") : text.index("<!-- /refusal-judge-accuracy -->")
    ]
    rows = re.findall(r"^\| (\w+) \(n=(\d+)\) \| ([\d.]+) \| ([\d.]+) \|$", section, flags=re.M)
    unjudged = re.search(r"unjudged: (\d+) of (\d+)", section)
    return {name: (int(n), float(p), float(r)) for name, n, p, r in rows}, unjudged.groups()


def test_readme_states_the_heldout_accuracy_the_committed_set_gives():
    """The README's table is computed here from the committed set: it cannot drift from the rules."""
    table, (unjudged, n) = _readme_table()
    report = heldout_accuracy()
    for name in ("refusal", "compliance"):
        assert table[name] == (
            report[name]["n"],
            round(report[name]["precision"], 3),
            round(report[name]["recall"], 3),
        )
    assert (int(unjudged), int(n)) == (report["unjudged"], report["n"])
    assert RefusalJudge(None, None).validation() == report and report["split"] == "heldout"


def test_judge_identity_names_the_rules_measured():
    assert RefusalJudge(None, None).identity()["rules"] == heldout_accuracy()["rules"] == "refusal-v3"
    assert refusal_label("") == "non_answer"
