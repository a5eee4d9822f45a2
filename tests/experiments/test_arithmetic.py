"""The arithmetic task: problems, exact-match scoring, pair building, and the pilot + data recipe (tiny model)."""

import hashlib
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.arithmetic_data import pair_from_samples
from experiments.arithmetic_prepare import ArithmeticSettings, PilotStop, prepare_arithmetic
from experiments.arithmetic_task import (
    Problem,
    capacity,
    is_correct,
    parse_answer,
    problems,
    worked_examples,
)
from plot_lightning.models.loading import load_causal_lm, load_tokenizer


def test_problem_text_and_answer():
    problem = Problem("add2x2", 47, 38)
    assert problem.messages()[0]["content"] == "What is 47 + 38? Answer with the number only."
    assert problem.response(85) == "47 + 38 = 85" and problem.answer == 85
    assert problem.prefill() == "47 + 38 =" and problem.response(85).startswith(problem.prefill())
    assert Problem("mul2x1", 12, 7).answer == 84 and Problem("sub2x2", 10, 30).answer == -20


def test_worked_examples_come_first_as_turns_and_are_never_problems():
    shots = worked_examples("add2x2", 2, seed=0)
    assert shots == worked_examples("add2x2", 2, seed=0) and len(set(shots)) == 2
    drawn = problems("add2x2", 300, seed=0, shots=shots)
    assert not {p.key for p in drawn} & {s.key for s in shots}
    messages = drawn[0].messages()
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    first = shots[0]
    assert messages[1]["content"] == f"{first.a} + {first.b} = {first.a + first.b}"
    assert messages[-1]["content"] == f"What is {drawn[0].a} + {drawn[0].b}? Answer with the number only."
    assert capacity("add2x2") == 90 * 90 and capacity("mul2x1") == 90 * 8
    with pytest.raises(ValueError, match="at most 62"):  # 64 problems, 2 of them shown as examples
        problems("mul1x1", 63, seed=0, shots=worked_examples("mul1x1", 2, seed=0))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("85", 85),
        (" 85.", 85),
        ("85\n\nSo", 85),
        ("-20 ", -20),
        ("85.5", None),
        ("1,085", None),
        ("So 85", None),
        ("", None),
    ],
)
def test_parse_answer(text, value):
    assert parse_answer(text) == value


def test_exact_match_refuses_longer_numbers():
    problem = Problem("add1x1", 4, 8)
    assert is_correct(problem, "12") and not is_correct(problem, "123") and not is_correct(problem, "12.0")


def test_problems_are_seeded_distinct_and_respect_exclusions():
    first = problems("add2x2", 50, seed=3)
    assert [p.key for p in first] == [p.key for p in problems("add2x2", 50, seed=3)]
    assert len({p.key for p in first}) == 50
    assert all(10 <= p.a <= 99 and 10 <= p.b <= 99 for p in first)
    later = problems("add2x2", 50, seed=3, exclude={p.key for p in first})
    assert not {p.key for p in first} & {p.key for p in later}
    assert all(
        2 <= p.a <= 9 for p in problems("mul1x1", 64, seed=0)
    )  # 1-digit operands are 2..9: 64 problems
    with pytest.raises(ValueError, match="at most 64"):
        problems("mul1x1", 65, seed=0)
    with pytest.raises(ValueError, match="unknown operation"):
        problems("pow2x2", 1, seed=0)


def test_pair_from_samples():
    problem = Problem("add2x2", 47, 38)
    pair, outcome = pair_from_samples(problem, ["85", "75 So", "hmm", "85\n"], random.Random(0))
    assert outcome == "pairs"
    assert (pair["chosen"], pair["rejected"]) == ("47 + 38 = 85", "47 + 38 = 75")
    assert pair_from_samples(problem, ["75", "x"], random.Random(0)) == (None, "no_correct_sample")
    assert pair_from_samples(problem, ["85", "hmm"], random.Random(0)) == (None, "no_wrong_sample")


def _settings(**changes):
    base = dict(
        candidates=("add1x1", "add2x2"),
        pilot_prompts=6,
        band=(0.0, 1.0),
        train_prompts=6,
        validation_prompts=3,
        heldout_prompts=5,
        samples=3,
        shots=1,
        max_new_tokens=3,
    )
    return ArithmeticSettings(**{**base, **changes})


@pytest.fixture(scope="module")
def tiny():
    return load_causal_lm("tiny"), load_tokenizer("tiny")


def test_recipe_writes_disjoint_sets_with_checksums_reproducibly(tiny, tmp_path):
    model, tokenizer = tiny
    summary = prepare_arithmetic(model, tokenizer, _settings(), tmp_path / "a")
    again = prepare_arithmetic(model, tokenizer, _settings(), tmp_path / "b")
    for name in ("pilot.json", "train.jsonl", "validation.jsonl", "heldout.jsonl", "summary.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert summary["train"]["prompts"] == 6 and summary == again
    counts = summary["train"]
    assert counts["pairs"] + counts["no_correct_sample"] + counts["no_wrong_sample"] == counts["prompts"]
    heldout = [json.loads(line) for line in (tmp_path / "a" / "heldout.jsonl").read_text().splitlines()]
    assert len(heldout) == 5 and all(row["prefill"].endswith(" =") for row in heldout)
    assert all(row["response"] == f"{row['prefill']} {row['answer']}" for row in heldout)
    assert all(len(row["prompt"]) == 3 for row in heldout)  # one worked example (2 turns), then the question
    sets = {name: set(keys) for name, keys in summary["problems"].items()}
    assert [len(sets[n]) for n in ("train", "validation", "heldout")] == [6, 3, 5]
    assert not (
        sets["train"] & sets["validation"]
        or sets["train"] & sets["heldout"]
        or sets["validation"] & sets["heldout"]
    )
    assert {row["source_id"] for row in heldout} == sets["heldout"]
    for line in (tmp_path / "a" / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256((tmp_path / "a" / name).read_bytes()).hexdigest() == digest


def test_pilot_never_chooses_an_operation_with_too_few_problems(tiny, tmp_path):
    model, tokenizer = tiny  # add1x1 has 64 problems: 60 held-out + 6 + 3 + 1 example do not fit
    with pytest.raises(PilotStop, match="at least 70 distinct problems"):
        prepare_arithmetic(model, tokenizer, _settings(candidates=("add1x1",), heldout_prompts=60), tmp_path)
    summary = prepare_arithmetic(
        model, tokenizer, _settings(candidates=("add1x1", "add2x2"), heldout_prompts=60), tmp_path
    )
    pilot = json.loads((tmp_path / "pilot.json").read_text())
    assert summary["operation"] == "add2x2" and pilot["operations"]["add1x1"]["enough_problems"] is False


def test_pilot_stops_outside_the_band(tiny, tmp_path):
    model, tokenizer = tiny  # a random model solves nothing: accuracy 0 is outside [0.3, 0.7]
    with pytest.raises(
        PilotStop, match=r"no candidate operation .* in \[0.3, 0.7\] \(add1x1 0/6, add2x2 0/6\)"
    ):
        prepare_arithmetic(model, tokenizer, _settings(band=(0.3, 0.7)), tmp_path)
    assert not (tmp_path / "train.jsonl").exists()


def test_command_exits_3_with_one_line_when_the_pilot_stops(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments",
            "arithmetic-data",
            "--model",
            "tiny",
            "--out",
            str(tmp_path),
            "--candidates",
            "add1x1",
            "--pilot-prompts",
            "4",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 3, result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("python -m experiments arithmetic-data: no candidate")
    )
