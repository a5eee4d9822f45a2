"""`plot-eval prompts`: every prompt of a suite with its stable id, the prompts `plot-eval run` evaluates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from plot_eval.cli import main
from plot_eval.runner import evaluate
from plot_eval.sources.plan import plan_suite, sample_id
from plot_eval.suite import load_suite

REPO = Path(__file__).resolve().parents[3]
QUICK = REPO / "configs" / "eval" / "quick.yaml"
MATH_ROWS = [
    {"problem": "What is 2 + 2?", "answer": "4", "topic": "arithmetic"},
    {"problem": "What is 2 + 3?", "answer": "5", "topic": "arithmetic"},
    {"problem": "Name a colour.", "answer": "red", "topic": "words"},
]


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _export(config: Path, out: Path, *extra: str) -> list[dict]:
    assert main(["prompts", "--config", str(config), "--out", str(out), *extra]) == 0
    return _read(out)


def _quick_copy(tmp_path: Path, name: str, reverse: bool = False) -> Path:
    raw = yaml.safe_load(QUICK.read_text())
    raw["data_root"] = str(REPO / "eval" / "samples")
    if reverse:
        raw["subpreferences"] = raw["subpreferences"][::-1]
        for sub in raw["subpreferences"]:
            sub["sets"] = sub["sets"][::-1]
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw))
    return path


def test_ids_are_unique_and_stable_across_invocations_and_suite_order(tmp_path):
    first = _export(_quick_copy(tmp_path, "a.yaml"), tmp_path / "a.jsonl")
    _export(_quick_copy(tmp_path, "a.yaml"), tmp_path / "again.jsonl")
    reordered = _export(_quick_copy(tmp_path, "r.yaml", reverse=True), tmp_path / "r.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "again.jsonl").read_bytes()
    ids = [r["id"] for r in first]
    assert len(ids) == len(set(ids)) and len(ids) >= 7
    assert [r["id"] for r in reordered] != ids  # the order changed ...
    assert {r["id"]: r for r in reordered} == {r["id"]: r for r in first}  # ... the ids and prompts did not
    for record in first:
        assert record["id"] == sample_id(record["subpreference"], record["set"], record["item_id"])
        assert record["prompt"] == record["messages"][-1]["content"]


def test_limits_and_the_plan_of_the_run(tmp_path):
    config = _quick_copy(tmp_path, "q.yaml")
    suite = load_suite(config)
    records = _export(config, tmp_path / "p.jsonl", "--limit", "1")
    per_set = {(s.name, p.name): p.limit for s in suite.subpreferences for p in s.sets}
    assert sorted((r["subpreference"], r["set"]) for r in records) == sorted(per_set)  # one prompt per set
    plan = plan_suite(suite, Path(suite.data_root), 1)
    assert [(r["id"], r["messages"]) for r in records] == [(p.id, p.messages) for p in plan]
    full = _export(config, tmp_path / "full.jsonl")
    counts = {key: sum((r["subpreference"], r["set"]) == key for r in full) for key in per_set}
    assert all(counts[key] <= cap for key, cap in per_set.items() if cap) and len(full) > len(records)
    assert main(["prompts", "--config", str(config), "--out", str(tmp_path / "x.jsonl"), "--limit", "0"]) == 2


def _math_suite(tmp_path: Path) -> Path:
    data = tmp_path / "data" / "math"
    data.mkdir(parents=True)
    (data / "test.jsonl").write_text("".join(json.dumps(row) + "\n" for row in MATH_ROWS))
    raw = {
        "name": "yaml-only",
        "version": 1,
        "data_root": str(tmp_path / "data"),
        "generation": {"max_new_tokens": 1},
        "lm_eval": {"tasks": []},
        "subpreferences": [
            {"name": "math", "category": "logic", "paper_named": True, "sets": [
                {"name": "my_math", "judge": "math", "metric": "accuracy",
                 "prompt": {"template": "{prompt}\nAnswer with a number."},
                 "source": {"loader": "file", "file": "math/test.jsonl",
                            "options": {"prompt_field": "problem", "answer_field": "answer",
                                        "filters": {"topic": "arithmetic"}}}}]}
        ],
    }  # fmt: skip
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def says_four(tiny_tokenizer):
    """A tiny model whose every generated token is ' 4'."""
    from plot_lightning.models.tiny import tiny_model

    model = tiny_model(len(tiny_tokenizer), seed=5)
    head = torch.nn.Linear(model.config.hidden_size, len(tiny_tokenizer), bias=True)
    (four,) = tiny_tokenizer.encode(" 4", add_special_tokens=False)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
        head.bias[four] = 10.0
    model.lm_head = head
    return model, tiny_tokenizer


def test_a_yaml_only_set_runs_end_to_end_and_the_math_judge_uses_its_answer(
    tmp_path, says_four, tiny_model_dir
):
    config = _math_suite(tmp_path)
    results = evaluate(
        says_four, str(tiny_model_dir), config, output_dir=tmp_path / "o", track=False, progress=False
    )
    samples = _read(tmp_path / "o" / "samples.jsonl")
    assert [s["model_response"].strip() for s in samples] == ["4", "4"]
    assert [s["model_ok"] for s in samples] == [
        True,
        False,
    ]  # gold 4, then gold 5: the answer reached the judge
    assert results["subpreferences"]["math"]["sets"]["my_math"]["accuracy"]["mean"] == 0.5
    records = _export(config, tmp_path / "prompts.jsonl")
    assert [r["id"] for r in records] == [s["id"] for s in samples]  # the ids a responses file answers
    assert [r["answer"] for r in records] == ["4", "5"]
    assert [r["prompt"] for r in records] == [
        f"{row['problem']}\nAnswer with a number." for row in MATH_ROWS[:2]
    ]


def test_a_failed_export_keeps_the_previous_file(tmp_path, capsys):
    config = _math_suite(tmp_path)
    out = tmp_path / "prompts.jsonl"
    before = _export(config, out)
    (tmp_path / "data" / "math" / "test.jsonl").write_text(
        '{"problem": "", "answer": "1", "topic": "arithmetic"}\n'
    )
    assert main(["prompts", "--config", str(config), "--out", str(out)]) == 2
    assert "test.jsonl: row 1: field 'problem': empty" in capsys.readouterr().err
    assert (
        _read(out) == before and [p.name for p in tmp_path.iterdir() if p.name.startswith(".prompts")] == []
    )


def test_a_reference_the_judge_cannot_read_fails_the_export_as_it_fails_the_run(tmp_path, capsys):
    config = _math_suite(tmp_path)
    rows = [MATH_ROWS[0], dict(MATH_ROWS[1], answer="\\")]  # math-verify cannot parse row 2's gold
    (tmp_path / "data" / "math" / "test.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert main(["prompts", "--config", str(config), "--out", str(tmp_path / "p.jsonl")]) == 2
    assert "set 'my_math' (" in (err := capsys.readouterr().err) and "test.jsonl): row 2: " in err
    assert not (tmp_path / "p.jsonl").exists()


def _skipping_suite(tmp_path: Path, **set_options) -> Path:
    """The math suite over 5 rows: row 2's gold cannot be read, row 3's has an escaped dollar (readable)."""
    config = _math_suite(tmp_path)
    rows = [MATH_ROWS[0], dict(MATH_ROWS[1], answer="\\"), dict(MATH_ROWS[1], answer="\\$32,\\!348")]
    rows += [dict(MATH_ROWS[0], problem="What is 9 * 11?", answer="99"), dict(MATH_ROWS[0], problem="1 + 3?")]
    (tmp_path / "data" / "math" / "test.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    raw = yaml.safe_load(config.read_text())
    raw["subpreferences"][0]["sets"][0].update(unreadable="skip", **set_options)
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    return config


def test_unreadable_rows_are_skipped_counted_and_named_and_rows_can_be_excluded(tmp_path, capsys):
    """Issue 19: one unreadable gold aborted the whole export and a YAML suite could not leave rows out.
    `unreadable: skip` leaves row 2 out and names it; `exclude` (ids) and the file source's `exclude`
    (values) leave rows 4 and 5 out before any limit."""
    config = _skipping_suite(tmp_path)
    out = tmp_path / "p.jsonl"
    every = _export(config, out)
    printed = capsys.readouterr().out
    assert [p["answer"] for p in every] == ["4", "\\$32,\\!348", "99", "4"]
    assert "4 prompts" in printed and "skipped 1 unreadable row(s)" in printed
    assert (
        "math/my_math: " in printed
        and "test.jsonl: row 2: math-verify cannot read the gold answer" in printed
    )
    raw = yaml.safe_load(config.read_text())
    raw["subpreferences"][0]["sets"][0]["exclude"] = [every[3]["item_id"]]
    raw["subpreferences"][0]["sets"][0]["source"]["options"]["exclude"] = {"answer": ["99", "7"]}
    raw["subpreferences"][0]["sets"][0]["limit"] = 2
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert [p["answer"] for p in _export(config, out)] == ["4", "\\$32,\\!348"]
    raw["subpreferences"][0]["sets"][0]["unreadable"] = "drop"
    config.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert main(["prompts", "--config", str(config), "--out", str(out)]) == 2
    assert "sets[0].unreadable: must be 'error' or 'skip'" in capsys.readouterr().err


def test_a_run_reports_the_skipped_rows(tmp_path, capsys):
    config = _skipping_suite(tmp_path)
    every = _export(config, tmp_path / "p.jsonl")
    responses = tmp_path / "r.jsonl"
    responses.write_text(
        "".join(json.dumps({"id": p["id"], "response": "The answer is 4."}) + "\n" for p in every)
    )
    argv = ["run", "--config", str(config), "--responses", str(responses), "--baseline-responses", str(responses),
            "--no-tracking", "--quiet", "--output-dir", str(tmp_path / "o")]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    assert "skipped 1 unreadable row(s)" in capsys.readouterr().out
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert [(s["set"], s["row"]) for s in results["skipped"]] == [("math/my_math", 2)]
    assert results["subpreferences"]["math"]["sets"]["my_math"]["accuracy"]["n"] == 4
    assert "## Skipped rows (1, unreadable by their judge)" in (tmp_path / "o" / "report.md").read_text()
