"""The eval loaders return only held-out rows (eval/sources/holdout.py), and eval/samples hold only those.

Rule (mirrored by experiments/recipes/holdout.py, which trains on the rest): hh-rlhf keeps the
0-based rows >= int(0.9 n) of each test file, TruthfulQA the rows >= int(0.8 n). The expected rows are
computed here from the raw files, not through the loaders.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest
import yaml

from plot_eval.lm_harness.runner import prepare_tasks
from plot_eval.sources import load_source
from plot_eval.sources.base import SourceRowError
from plot_eval.sources.holdout import HH_RLHF_HOLDOUT_FRACTION, TRUTHFULQA_HOLDOUT_FRACTION, holdout_start

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "eval" / "samples"
SHARED = REPO.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not (SHARED / "MANIFEST.md").is_file(), reason="no ../shared/data")
HEADER = "Type,Category,Question,Best Answer,Correct Answers,Incorrect Answers,Source\n"


def _hh_file(path: Path, count: int) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for i in range(1, count + 1):
            handle.write(json.dumps({"chosen": f"\n\nHuman: q{i}\n\nAssistant: a", "rejected": "x"}) + "\n")
    return path


def _tqa_file(path: Path, count: int) -> Path:
    path.write_text(HEADER + "".join(f"A,Misc,Q{i}?,yes,yes,no,url\n" for i in range(1, count + 1)))
    return path


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_holdout_start_matches_the_documented_counts():
    assert [holdout_start(n, HH_RLHF_HOLDOUT_FRACTION) for n in (2312, 2354, 10, 20)] == [2080, 2118, 9, 18]
    assert holdout_start(817, TRUTHFULQA_HOLDOUT_FRACTION) == 653 and holdout_start(10, 0.2) == 8


def test_hh_rlhf_loader_returns_only_the_last_tenth(tmp_path):
    _hh_file(tmp_path / "h.jsonl.gz", 20)
    held = load_source("hh_rlhf", "h.jsonl.gz", {}, tmp_path)
    assert [item.reference["row"] for item in held] == [19, 20]
    smaller = load_source("hh_rlhf", "h.jsonl.gz", {"holdout_fraction": 0.05}, tmp_path)
    assert [item.messages[-1]["content"] for item in smaller] == ["q20"]  # a subset of the held-out rows
    with pytest.raises(ValueError, match=r"holdout_fraction must be in \(0, 0.1\]"):
        load_source("hh_rlhf", "h.jsonl.gz", {"holdout_fraction": 0.2}, tmp_path)  # would reach training rows
    assert len(load_source("hh_rlhf", "h.jsonl.gz", {"split": "all"}, tmp_path)) == 20


def test_truthfulqa_loader_returns_only_the_last_fifth(tmp_path):
    _tqa_file(tmp_path / "t.csv", 10)
    held = load_source("truthfulqa", "t.csv", {}, tmp_path)
    assert [item.messages[0]["content"] for item in held] == ["Q9?", "Q10?"]
    assert [item.id for item in held] == ["truthfulqa:9", "truthfulqa:10"]
    assert len(load_source("truthfulqa", "t.csv", {"split": "all"}, tmp_path)) == 10
    with pytest.raises(ValueError, match="split must be one of"):
        load_source("truthfulqa", "t.csv", {"split": "train"}, tmp_path)
    (tmp_path / "t.csv").write_text(HEADER + "A,Misc,Q1?,,yes,no,url\n" + "A,Misc,Q2?,yes,yes,no,url\n" * 9)
    with pytest.raises(
        SourceRowError, match="row 1: field 'Best Answer': empty"
    ):  # training rows still checked
        load_source("truthfulqa", "t.csv", {}, tmp_path)


def test_suites_read_all_rows_only_from_the_held_out_samples():
    """`split: all` appears only in the quick suite, whose data root is eval/samples (held-out rows only)."""
    for name, allowed in (("quick", True), ("paper", False)):
        suite = yaml.safe_load((REPO / "configs" / "eval" / f"{name}.yaml").read_text(encoding="utf-8"))
        for subpreference in suite["subpreferences"]:
            for entry in subpreference["sets"]:
                source = entry["source"]
                if source["loader"] in ("hh_rlhf", "truthfulqa"):
                    split = (source.get("options") or {}).get("split", "holdout")
                    assert split == ("all" if allowed else "holdout"), (name, entry["name"])
    assert yaml.safe_load((REPO / "configs/eval/quick.yaml").read_text())["data_root"] == "../../eval/samples"


@needs_shared
@pytest.mark.filterwarnings("ignore:.*malformed transcript")
@pytest.mark.parametrize(("name", "held_out"), [("harmless", 232), ("helpful", 236)])
def test_hh_rlhf_loader_and_samples_are_held_out_rows_of_the_full_file(name, held_out):
    rows = _jsonl(SHARED / f"hh-rlhf/{name}-base.test.jsonl.gz")
    start = len(rows) - held_out
    items = load_source("hh_rlhf", f"hh-rlhf/{name}-base.test.jsonl.gz", {}, SHARED)
    returned = [item.reference["row"] for item in items]
    assert returned == sorted(returned) and min(returned) > start and len(items) >= held_out - 4
    sample = _jsonl(SAMPLES / f"hh-rlhf/{name}-base.test.jsonl.gz")
    assert sample == rows[-len(sample) :] and len(sample) <= held_out


@needs_shared
def test_truthfulqa_loader_lm_eval_and_sample_use_the_last_164_questions(tmp_path):
    rows = _csv_rows(SHARED / "truthfulqa/TruthfulQA.csv")
    held_out = [row["Question"].strip() for row in rows[653:]]
    assert len(held_out) == 164
    items = load_source("truthfulqa", "truthfulqa/TruthfulQA.csv", {}, SHARED)
    assert [item.messages[0]["content"] for item in items] == held_out
    prepare_tasks(["plot_truthfulqa_mc1"], SHARED, tmp_path, max_gen_toks=8)
    mc = [json.loads(line) for line in (tmp_path / "plot_truthfulqa_mc1.jsonl").read_text().splitlines()]
    assert [row["question"] for row in mc] == held_out
    sample = _csv_rows(SAMPLES / "truthfulqa/TruthfulQA.csv")
    assert sample == rows[-len(sample) :] and len(sample) == 20


@needs_shared
def test_gsm8k_and_mbpp_samples_are_outside_the_training_problems():
    paired = {
        row["question"]
        for row in _jsonl(SHARED / "gsm8k/example_model_solutions.jsonl")
        if {row[k]["is_correct"] for k in row if isinstance(row[k], dict)} >= {True, False}
    }
    assert len(paired) == 1319 - 588
    assert not paired & {row["question"] for row in _jsonl(SAMPLES / "gsm8k/test.jsonl")}
    names = {row["name"] for row in _jsonl(SHARED / "code-pairs-reflexion/mbpp-py.reflexion.gpt-4.jsonl")}
    trained = {int(name.split("_")[1]) for name in names}
    assert not trained & {row["task_id"] for row in _jsonl(SAMPLES / "mbpp/mbpp.jsonl")}
    kept = load_source(
        "mbpp",
        "mbpp/mbpp.jsonl",
        {"split": "test", "exclude_names_file": "code-pairs-reflexion/mbpp-py.simple.gpt-4.run1.jsonl"},
        SHARED,
    )
    assert len(kept) == 500 - 235 and not trained & {int(item.id.split(":")[1]) for item in kept}
