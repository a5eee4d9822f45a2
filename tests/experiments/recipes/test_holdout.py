"""Training data never holds an evaluation prompt (experiments/recipes/holdout.py).

The eval prompts are computed here independently, straight from the raw files, with the rule documented on
both sides (eval/sources/holdout.py; plot_lightning never imports eval): the last 10% of each hh-rlhf test
file (0-based rows >= int(0.9 n)), the last 20% of the TruthfulQA questions, the GSM8K test questions
without a correct/incorrect model-solution pair, every HumanEval problem, the MBPP test split (task ids
11-510) outside the Reflexion MBPP-py problems, and every MT-Bench / Vicuna / HarmBench / AdvBench prompt.
Prompts are compared as the tuple of their turns' texts with whitespace collapsed.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
from pathlib import Path

import pytest
import yaml

from experiments.recipes import RECIPES
from experiments.recipes.holdout import (
    EVAL_OVERLAP,
    HH_RLHF_HOLDOUT_FRACTION,
    TRUTHFULQA_HOLDOUT_FRACTION,
    holdout_start,
)
from plot_lightning.data.reading import SAMPLES_DIR

REPO = Path(__file__).resolve().parents[3]
EVAL_SAMPLES = REPO / "eval" / "samples"
QUICK_SUITE = REPO / "configs" / "eval" / "quick.yaml"
# MANIFEST row counts -> first held-out 0-based row (int(n * (1 - fraction))), used without the full data
TRAINING_ROWS = {"hh-rlhf/harmless-base.test": 2080, "hh-rlhf/helpful-base.test": 2118, "truthfulqa": 653}
_TURN = re.compile(r"\n\n(?:Human|Assistant):")


def _text(text: str) -> str:
    return " ".join(text.split())


def _key(messages: list[dict[str, str]]) -> tuple[str, ...]:
    return tuple(_text(message["content"]) for message in messages)


def _hh_key(row: dict) -> tuple[str, ...]:
    prefix = row["chosen"][: row["chosen"].rfind("\n\nAssistant:")]
    return tuple(_text(piece) for piece in _TURN.split(prefix) if piece.strip())


def _jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _mbpp_id(name: str) -> int:
    return int(name.split("_")[1])  # "mbpp_234_volume_cube" -> 234


def _eval_prompts(root: Path, sets: list[tuple[str, str]], *, held_out_only: bool):
    """(prompt keys, HumanEval task ids, MBPP task ids) of the eval sets ``(loader, file)`` under ``root``."""
    keys, humaneval, mbpp = set(), set(), set()
    for loader, file in sets:
        path = root / file
        if loader == "hh_rlhf":
            rows = _jsonl(path)
            start = holdout_start(len(rows), HH_RLHF_HOLDOUT_FRACTION) if held_out_only else 0
            keys |= {_hh_key(row) for row in rows[start:]}
        elif loader == "truthfulqa":
            rows = _csv(path)
            start = holdout_start(len(rows), TRUTHFULQA_HOLDOUT_FRACTION) if held_out_only else 0
            keys |= {(_text(row["Question"]),) for row in rows[start:]}
        elif loader == "gsm8k":
            keys |= {(_text(row["question"]),) for row in _jsonl(path)}
        elif loader in ("mt_bench", "vicuna_bench"):
            keys |= {(_text(row["turns"][0]),) for row in _jsonl(path)}
        elif loader in ("harmbench", "advbench"):
            keys |= {(_text(row["Behavior"]),) for row in _csv(path)}
        elif loader == "humaneval":
            humaneval |= {row["task_id"] for row in _jsonl(path)}
            keys |= {(_text(row["prompt"]),) for row in _jsonl(path)}
        elif loader == "mbpp":
            mbpp |= {row["task_id"] for row in _jsonl(path) if 11 <= row["task_id"] <= 510}
            keys |= {(_text(row["text"]),) for row in _jsonl(path)}
        else:
            raise AssertionError(f"no raw reader for eval loader {loader!r}: add one to this test")
    return keys, humaneval, mbpp


def _assert_disjoint(training_rows: list[dict], evaluated) -> None:
    keys, humaneval, mbpp = evaluated
    shared = [row["source_id"] for row in training_rows if _key(row["prompt"]) in keys]
    assert not shared, f"{len(shared)} training prompts are eval prompts, e.g. {shared[:5]}"
    code = [row["source_id"] for row in training_rows if row["subpreference"] == "code"]
    assert not humaneval & set(code), "HumanEval problems in the training data"
    assert not mbpp & {_mbpp_id(problem) for problem in code if problem.startswith("mbpp_")}


def _samples(name: str) -> list[dict]:
    return _jsonl(SAMPLES_DIR / name)


def _quick_suite_sets() -> list[tuple[str, str]]:
    suite = yaml.safe_load(QUICK_SUITE.read_text(encoding="utf-8"))
    return [
        (entry["source"]["loader"], entry["source"]["file"])
        for subpreference in suite["subpreferences"]
        for entry in subpreference["sets"]
    ]


def test_holdout_start_is_the_documented_boundary():
    assert holdout_start(2312, HH_RLHF_HOLDOUT_FRACTION) == 2080  # harmless: 232 held out
    assert holdout_start(2354, HH_RLHF_HOLDOUT_FRACTION) == 2118  # helpful: 236 held out
    assert holdout_start(817, TRUTHFULQA_HOLDOUT_FRACTION) == 653  # TruthfulQA: 164 held out
    assert holdout_start(10, 0.1) == 9 and holdout_start(0, 0.2) == 0
    with pytest.raises(ValueError, match="fraction"):
        holdout_start(10, 1.5)


def test_demo_prompts_are_not_quick_suite_prompts():
    """No demo / demo_val pair uses a prompt the quick suite evaluates (its raw eval/samples files)."""
    evaluated = _eval_prompts(EVAL_SAMPLES, _quick_suite_sets(), held_out_only=False)
    assert len(evaluated[0]) > 100  # every prompt of every committed eval sample, not just the suite limits
    demo = _samples("demo.jsonl") + _samples("demo_val.jsonl")
    assert len(demo) == 185 + 35
    _assert_disjoint(demo, evaluated)
    assert not {row["source"] for row in demo} & {"code-pairs-reflexion/humaneval"}
    assert {row["subpreference"] for row in demo} == {
        "harmlessness",
        "helpfulness",
        "math",
        "code",
        "honesty",
    }


def test_committed_samples_use_only_training_rows():
    """hh-rlhf rows and TruthfulQA questions of every committed sample lie before the hold-out boundary."""
    for name in [f"{recipe}.jsonl" for recipe in RECIPES] + ["demo.jsonl", "demo_val.jsonl"]:
        for row in _samples(name):
            source = row["source"]
            if source.startswith("hh-rlhf/") or source == "truthfulqa":
                number = int(row["source_id"].rsplit(" ", 1)[1])  # 1-based "row N" / "question N"
                assert 1 <= number <= TRAINING_ROWS[source], (name, row["source_id"])


def test_samples_and_full_recipes_avoid_every_eval_prompt_in_the_full_data(shared_data):
    """Every training recipe (EVAL_OVERLAP aside) over the full data, and the committed samples, against the
    held-out eval prompts of the full files, computed from the raw files by the documented rule."""
    paired = set()
    for row in _jsonl(shared_data / "gsm8k/example_model_solutions.jsonl"):
        flags = {row[key]["is_correct"] for key in row if isinstance(row[key], dict)}
        if {True, False} <= flags:
            paired.add(_text(row["question"]))
    keys, humaneval, mbpp = _eval_prompts(
        shared_data,
        [
            ("hh_rlhf", "hh-rlhf/harmless-base.test.jsonl.gz"),
            ("hh_rlhf", "hh-rlhf/helpful-base.test.jsonl.gz"),
            ("truthfulqa", "truthfulqa/TruthfulQA.csv"),
            ("mt_bench", "mt-bench/mt_bench_question.jsonl"),
            ("vicuna_bench", "mt-bench/vicuna_bench_question.jsonl"),
            ("harmbench", "redteam/harmbench_behaviors_text_all.csv"),
            ("advbench", "redteam/advbench_behaviors.csv"),
            ("humaneval", "humaneval/HumanEval.jsonl.gz"),
        ],
        held_out_only=True,
    )
    keys |= {
        (q,)
        for row in _jsonl(shared_data / "gsm8k/test.jsonl")
        if (q := _text(row["question"])) not in paired
    }
    reflexion = {
        _mbpp_id(row["name"])
        for row in _jsonl(shared_data / "code-pairs-reflexion/mbpp-py.simple.gpt-4.run1.jsonl")
    }
    mbpp_eval = {task for task in range(11, 511) if task not in reflexion}
    assert len(humaneval) == 164 and len(mbpp_eval) == 500 - 235
    training = [
        row
        for name, recipe in RECIPES.items()
        if name not in EVAL_OVERLAP
        for row in recipe(shared_data).rows
    ]
    assert len(training) == 2072 + 2111 + 2426 + 224 + 2809
    committed = [row for name in ("demo.jsonl", "demo_val.jsonl") for row in _samples(name)]
    for rows in (training, committed):
        _assert_disjoint(rows, (keys, humaneval, mbpp_eval))
    # the rule is what keeps them apart: the HumanEval recipe is listed because it does overlap
    overlap = {row["source_id"] for row in RECIPES["code-humaneval"](shared_data).rows}
    assert overlap and overlap <= humaneval
