"""Every loader on the committed samples, and on ../shared/data (counts from its MANIFEST) when present."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from plot_eval.registry import SOURCES
from plot_eval.sources import load_source
from plot_eval.sources.base import SourceRowError

REPO = Path(__file__).resolve().parents[3]
SAMPLES = REPO / "eval" / "samples"
SHARED = REPO.parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not (SHARED / "MANIFEST.md").is_file(), reason="no ../shared/data")

SAMPLE_SOURCES = {
    "mt_bench": ("mt-bench/mt_bench_question.jsonl", {}, 16),
    "vicuna_bench": ("mt-bench/vicuna_bench_question.jsonl", {}, 18),
    "hh_rlhf": ("hh-rlhf/helpful-base.test.jsonl.gz", {"split": "all"}, 12),
    "truthfulqa": ("truthfulqa/TruthfulQA.csv", {"split": "all"}, 20),  # the sample holds held-out rows only
    "gsm8k": ("gsm8k/test.jsonl", {}, 10),
    "humaneval": ("humaneval/HumanEval.jsonl.gz", {}, 6),
    "mbpp": ("mbpp/mbpp.jsonl", {"split": "test"}, 8),
    "harmbench": ("redteam/harmbench_behaviors_text_test.csv", {}, 9),  # the copyright row is skipped
    "advbench": ("redteam/advbench_behaviors.csv", {}, 8),
    "file": ("redteam/advbench_behaviors.csv", {"prompt_field": "Behavior", "id_field": "BehaviorID"}, 8),
}


def test_source_registry_covers_every_sample():
    """Every registered source has a committed sample, except `math` (no MATH file ships: tested below)."""
    assert set(SAMPLE_SOURCES) | {"math"} == set(SOURCES.names())


def test_math_source_reads_answer_or_last_boxed_and_names_bad_rows(tmp_path):
    path = tmp_path / "math.jsonl"
    rows = [
        {"problem": "What is 1/2 + 1/3?", "answer": "\\frac{5}{6}"},
        {"problem": "Solve x^2 = 4.", "solution": "So $x = \\boxed{\\pm 2}$, i.e. \\boxed{\\{-2, 2\\}}."},
        {"problem": "No answer here.", "solution": "we do not know"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    items = load_source("math", "math.jsonl", {}, tmp_path)
    assert [i.reference["gold"] for i in items] == ["\\frac{5}{6}", "\\{-2, 2\\}"]
    assert [i.row for i in items] == [1, 2]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(SourceRowError, match=r"math.jsonl: row 3: field 'answer'"):
        load_source("math", "math.jsonl", {}, tmp_path)


@pytest.mark.parametrize("loader", sorted(SAMPLE_SOURCES))
def test_source_loader_on_committed_samples(loader):
    file, options, count = SAMPLE_SOURCES[loader]
    items = load_source(loader, file, options, SAMPLES)
    assert len(items) == count
    assert len({item.id for item in items}) == count
    for item in items:
        assert item.messages[-1]["role"] == "user" and item.messages[-1]["content"].strip()


def test_source_mt_bench_categories_and_first_turn_only():
    items = load_source(
        "mt_bench", "mt-bench/mt_bench_question.jsonl", {"categories": ["reasoning"]}, SAMPLES
    )
    assert [it.reference["category"] for it in items] == ["reasoning", "reasoning"]
    assert all(len(it.messages) == 1 for it in items)


def test_source_hh_rlhf_transcript_becomes_chat(tmp_path):
    row = {
        "chosen": "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how are you?\n\nAssistant: fine",
        "rejected": "x",
    }
    path = tmp_path / "h.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(json.dumps(row) + "\n" + json.dumps({"chosen": "no markers"}) + "\n")
    with pytest.raises(SourceRowError, match=r"h.jsonl.gz: row 2: field 'chosen'"):
        load_source("hh_rlhf", "h.jsonl.gz", {"split": "all"}, tmp_path)
    with gzip.open(path, "wt") as handle:
        handle.write(json.dumps(row) + "\n")
    (item,) = load_source("hh_rlhf", "h.jsonl.gz", {"split": "all"}, tmp_path)
    assert list(item.messages) == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "how are you?"},
    ]


def test_source_harmbench_puts_context_before_behavior():
    items = load_source("harmbench", "redteam/harmbench_behaviors_text_test.csv", {}, SAMPLES)
    contextual = [it for it in items if it.reference["functional"] == "contextual"]
    assert len(contextual) == 3
    for item in contextual:
        context, behavior = item.messages[0]["content"].rsplit("\n\n---\n\n", 1)
        assert len(context) > len(behavior) > 0
    assert all(it.reference["functional"] != "copyright" for it in items)


def test_source_code_references_carry_tests_and_entry_point():
    (humaneval,) = load_source("humaneval", "humaneval/HumanEval.jsonl.gz", {}, SAMPLES)[:1]
    assert (
        humaneval.reference["entry_point"] == "has_close_elements"
        and "def check" in humaneval.reference["tests"]
    )
    mbpp = load_source("mbpp", "mbpp/mbpp.jsonl", {}, SAMPLES)[0]
    assert mbpp.reference["tests"].strip().startswith("assert") or "assert" in mbpp.reference["tests"]
    assert mbpp.reference["entry_point"] in mbpp.messages[0]["content"]


def test_source_truthfulqa_bad_row_names_field(tmp_path):
    header = "Type,Category,Question,Best Answer,Correct Answers,Incorrect Answers,Source\n"
    (tmp_path / "t.csv").write_text(header + "Adversarial,Misc,What?,,yes,no,url\n")
    with pytest.raises(SourceRowError, match=r"t.csv: row 1: field 'Best Answer': empty"):
        load_source("truthfulqa", "t.csv", {}, tmp_path)


@needs_shared
@pytest.mark.parametrize(
    ("loader", "file", "options", "count"),
    [
        ("gsm8k", "gsm8k/test.jsonl", {"exclude_paired_file": "gsm8k/example_model_solutions.jsonl"}, 588),
        ("gsm8k", "gsm8k/test.jsonl", {}, 1319),
        ("mt_bench", "mt-bench/mt_bench_question.jsonl", {}, 80),
        ("vicuna_bench", "mt-bench/vicuna_bench_question.jsonl", {}, 80),
        ("truthfulqa", "truthfulqa/TruthfulQA.csv", {"split": "all"}, 817),
        ("truthfulqa", "truthfulqa/TruthfulQA.csv", {}, 164),  # held-out last 20%
        ("humaneval", "humaneval/HumanEval.jsonl.gz", {}, 164),
        ("harmbench", "redteam/harmbench_behaviors_text_all.csv", {}, 300),  # 200 standard + 100 contextual
        ("advbench", "redteam/advbench_behaviors.csv", {}, 520),
        ("mbpp", "mbpp/mbpp.jsonl", {"split": "test"}, 500),
        ("hh_rlhf", "hh-rlhf/harmless-base.test.jsonl.gz", {"split": "all"}, 2308),  # 4 malformed dropped
        ("hh_rlhf", "hh-rlhf/helpful-base.test.jsonl.gz", {"split": "all"}, 2352),
        ("hh_rlhf", "hh-rlhf/helpful-base.test.jsonl.gz", {}, 236),  # held-out last 10%
        ("hh_rlhf", "hh-rlhf/harmless-base.test.jsonl.gz", {}, 232),
    ],
)
@pytest.mark.filterwarnings("ignore:.*malformed transcript")
def test_source_loader_on_shared_data_matches_manifest(loader, file, options, count):
    assert len(load_source(loader, file, options, SHARED)) == count


@needs_shared
def test_source_hh_rlhf_malformed_rows_warn_or_raise():
    with pytest.warns(UserWarning, match="skipped 4 malformed"):
        load_source("hh_rlhf", "hh-rlhf/harmless-base.test.jsonl.gz", {"split": "all"}, SHARED)
    with pytest.raises(SourceRowError, match=r"harmless-base.test.jsonl.gz: row \d+: field 'chosen'"):
        load_source(
            "hh_rlhf", "hh-rlhf/harmless-base.test.jsonl.gz", {"split": "all", "malformed": "error"}, SHARED
        )


@needs_shared
def test_source_mbpp_excludes_reflexion_problems():
    options = {"split": "test", "exclude_names_file": "code-pairs-reflexion/mbpp-py.simple.gpt-4.run1.jsonl"}
    kept = load_source("mbpp", "mbpp/mbpp.jsonl", options, SHARED)
    names = [json.loads(line)["name"] for line in open(SHARED / options["exclude_names_file"])]
    excluded = {int(name.split("_")[1]) for name in names}
    assert kept and all(int(item.id.split(":")[1]) not in excluded for item in kept)
    assert len(kept) < 500


def _mbpp_row(code: str, first_test: str) -> str:
    row = {"text": "t", "code": code, "task_id": 11, "test_setup_code": "", "test_list": [first_test]}
    return json.dumps(row) + "\n"


def test_source_mbpp_tests_the_function_its_first_test_calls(tmp_path):
    """MBPP 6: `code` defines is_Power_Of_Two (a helper) before differ_At_One_Bit_Pos, which the tests
    call; the judge must replace the tested function, not the first `def`."""
    code = "def is_Power_Of_Two(x):\n    return x and not (x & (x - 1))\ndef differ_At_One_Bit_Pos(a, b):\n    return is_Power_Of_Two(a ^ b)"
    (tmp_path / "m.jsonl").write_text(_mbpp_row(code, "assert differ_At_One_Bit_Pos(13,9) == True"))
    (item,) = load_source("mbpp", "m.jsonl", {"split": "test"}, tmp_path)
    assert item.reference["entry_point"] == "differ_At_One_Bit_Pos"
    assert item.reference["reference_solution"] == code
    nested = _mbpp_row("def lobb_num(n, m):\n    return 35", "assert int(lobb_num(5, 3)) == 35")
    (tmp_path / "n.jsonl").write_text(nested)
    assert (
        load_source("mbpp", "n.jsonl", {"split": "test"}, tmp_path)[0].reference["entry_point"] == "lobb_num"
    )


def test_source_mbpp_first_test_calling_no_defined_function_names_row_and_field(tmp_path):
    (tmp_path / "m.jsonl").write_text(_mbpp_row("def f(x):\n    return x", "assert g(1) == 1"))
    with pytest.raises(SourceRowError, match=r"m.jsonl: row 1: field 'test_list': the first test calls none"):
        load_source("mbpp", "m.jsonl", {"split": "test"}, tmp_path)


def test_source_humaneval_reference_solution_is_prompt_and_canonical_solution(tmp_path):
    (item,) = load_source("humaneval", "humaneval/HumanEval.jsonl.gz", {}, SAMPLES)[:1]
    with gzip.open(SAMPLES / "humaneval" / "HumanEval.jsonl.gz", "rt") as handle:
        row = json.loads(handle.readline())
    assert item.reference["reference_solution"] == row["prompt"] + row["canonical_solution"]
    del row["canonical_solution"]
    (tmp_path / "h.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(SourceRowError, match=r"h.jsonl: row 1: field 'canonical_solution'"):
        load_source("humaneval", "h.jsonl", {}, tmp_path)
