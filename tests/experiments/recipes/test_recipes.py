"""Recipes on the full shared data (counts checked against MANIFEST.md) and the committed samples."""

import json
from collections import Counter
from pathlib import Path

import pytest

from experiments.recipes import RECIPES
from experiments.recipes.__main__ import main
from experiments.recipes.code_pairs import group_runs
from experiments.recipes.paths import data_file, data_root
from experiments.recipes.sample import write_samples
from plot_lightning.data.formats import detect_format, normalise_row
from plot_lightning.data.reading import SAMPLES_DIR

# MANIFEST: harmless 2308/2312 and helpful 2352/2354 rows share the prompt prefix; of those, 4 + 4 have an
# empty response and 2 helpful rows have identical responses (found here, dropped and counted). The recipes
# now use only the training rows (holdout.py): the last 10% of each hh-rlhf file (232 harmless, 236 helpful
# rows) and the last 20% of the TruthfulQA questions (164) are eval prompts. All 4 + 4 prefix/empty rows are
# in the training part; 1 of the 2 identical-response rows is held out. Full-file counts were 2304 / 2346 /
# 3297 pairs.
EXPECTED = {
    "hh-harmless": (
        2072,
        {
            "does not share the prompt prefix of 'chosen'": 4,
            "empty response after the last '\\n\\nAssistant:'": 4,
            "held out for eval": 232,
        },
    ),
    "hh-helpful": (
        2111,
        {
            "does not share the prompt prefix of 'chosen'": 2,
            "empty response after the shared prompt prefix": 4,
            "identical responses": 1,
            "held out for eval": 236,
        },
    ),
    "gsm8k": (2426, {"question without both a correct and an incorrect solution": 588}),
    "code-humaneval": (19 + 23, {"problem without a non-empty failing solution": 141}),
    "code-mbpp": (62 + 162, {"problem without a non-empty failing solution": 288}),
    "truthfulqa": (2809, {"held out for eval": 164}),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recipe_counts_on_the_full_data(shared_data, name):
    result = RECIPES[name](shared_data)
    count, dropped = EXPECTED[name]
    assert len(result.rows) == count
    assert {reason: result.dropped[reason] for reason in dropped} == dropped
    subpreferences = {row["subpreference"] for row in result.rows}
    assert len(subpreferences) == 1
    for row in result.rows:
        normalise_row(row, "standard")  # every output row is valid standard data
        assert row["chosen"] != row["rejected"]


def test_manifest_code_pair_counts_include_empty_failing_solutions(shared_data):
    """Oracle for MANIFEST's 384 HumanEval / 62 MBPP-py pairs: distinct passing x distinct failing, empty
    strings included. 365 of the 384 HumanEval pairs have an EMPTY failing solution, so the recipe keeps 19."""
    counts = {}
    for benchmark in ("humaneval", "mbpp"):
        total = non_empty = 0
        for runs in group_runs(shared_data, benchmark).values():
            passing = {r["solution"] for r in runs if r["is_solved"]}
            failing = {r["solution"] for r in runs if not r["is_solved"]}
            total += len(passing) * len(failing)
            non_empty += sum(1 for p in passing for f in failing if p.strip() and f.strip())
        counts[benchmark] = (total, non_empty)
    assert counts == {"humaneval": (384, 19), "mbpp": (62, 62)}
    sources = Counter(row["source"] for row in RECIPES["code-humaneval"](shared_data).rows)
    assert sources == {"code-pairs-reflexion/humaneval": 19, "code-pairs-reflexion/humaneval+reference": 23}


def test_committed_samples_are_reproducible(shared_data, tmp_path):
    written = write_samples(shared_data, tmp_path)
    assert written["demo.jsonl"] == 185 and written["demo_val.jsonl"] == 35
    for name in written:
        assert (tmp_path / name).read_bytes() == (SAMPLES_DIR / name).read_bytes(), name


def _rows(name):
    return [json.loads(line) for line in (SAMPLES_DIR / name).read_text(encoding="utf-8").splitlines()]


def test_committed_samples_are_valid_small_and_disjoint():
    files = sorted(SAMPLES_DIR.glob("*.jsonl"))
    assert {f.name for f in files} >= {f"{name}.jsonl" for name in RECIPES} | {
        "demo.jsonl",
        "demo_val.jsonl",
        "sft.jsonl",
    }
    assert sum(f.stat().st_size for f in files) < 1_000_000
    for file in files:
        rows = _rows(file.name)
        data_format = detect_format(rows[0])
        for row in rows:
            normalise_row(row, data_format)
    prompts = {json.dumps(row["prompt"]) for row in _rows("demo.jsonl")}
    assert not prompts & {json.dumps(row["prompt"]) for row in _rows("demo_val.jsonl")}
    assert detect_format(_rows("sft.jsonl")[0]) == "sft"
    assert (SAMPLES_DIR / "LICENSES.md").is_file()


def test_cli_writes_limited_output(shared_data, tmp_path, capsys):
    out = tmp_path / "gsm8k.jsonl"
    assert main(["gsm8k", "--data-root", str(shared_data), "--out", str(out), "--limit", "5"]) == 0
    assert len(out.read_text().splitlines()) == 5
    assert "gsm8k: 2426 pairs" in capsys.readouterr().out


def test_data_root_resolution_and_missing_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PLOT_DATA_ROOT", str(tmp_path))
    assert data_root() == tmp_path
    assert data_root(tmp_path / ".") == tmp_path
    with pytest.raises(FileNotFoundError, match=r"missing data file .*gsm8k/example_model_solutions.jsonl"):
        RECIPES["gsm8k"](tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist; pass --data-root or set PLOT_DATA_ROOT"):
        data_root(tmp_path / "nowhere")
    assert main(["gsm8k", "--data-root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert data_file(Path(__file__).parent, Path(__file__).name).is_file()
