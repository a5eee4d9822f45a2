"""`plot-eval run` on responses generated elsewhere and on a served endpoint, called in-process.

Ids come from `plot-eval prompts` itself. The verdicts are hand-derived:
an empty response is a non-answer and loses to any answer without asking the judge; the gsm8k gold of the
first sample row is 70000, so "The answer is 70000." is correct and "The answer is 5." is not."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from plot_eval.cli import main
from plot_eval.sources.plan import plan_suite
from plot_eval.suite import load_suite

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "eval" / "samples"
RIGHT, WRONG = "Profit is 200000 - 130000. The answer is 70000.", "The answer is 5."


@pytest.fixture
def suite_file(tmp_path):
    """helpfulness (vicuna, hh_helpful) + math (gsm8k) of the quick suite, fluency on, lm-eval listed."""
    raw = yaml.safe_load((REPO / "configs" / "eval" / "quick.yaml").read_text())
    raw["subpreferences"] = [s for s in raw["subpreferences"] if s["name"] in ("helpfulness", "math")]
    raw.update(data_root=str(SAMPLES), lm_eval={"tasks": ["plot_gsm8k"], "limit": 1})
    raw["scorers"] = {"fluency": {"model": None}}
    raw["generation"]["max_new_tokens"] = 4
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _prompt_ids(suite_file: Path, tmp_path: Path) -> list[str]:
    """The ids `plot-eval prompts` writes for the suite at --limit 1."""
    out = tmp_path / "prompts.jsonl"
    assert main(["prompts", "--config", str(suite_file), "--out", str(out), "--limit", "1"]) == 0
    return [json.loads(line)["id"] for line in out.read_text().splitlines()]


@pytest.fixture
def ids(suite_file, tmp_path):
    return _prompt_ids(suite_file, tmp_path)


def _write(path: Path, responses: dict[str, str]) -> Path:
    path.write_text("".join(json.dumps({"id": i, "response": r}) + "\n" for i, r in responses.items()))
    return path


def _run(suite, out, tiny, *sides):
    argv = ["run", "--config", str(suite), *map(str, sides), "--output-dir", str(out), "--judge-model", str(tiny),
            "--scorer-model", str(tiny), "--limit", "1", "--no-tracking", "--quiet"]  # fmt: skip
    return main(argv)


def test_ids_are_subpreference_set_and_source_id(ids):
    assert ids == ["helpfulness/vicuna/vicuna:1", "helpfulness/hh_helpful/helpful-base.test.jsonl.gz:1",
                   "math/gsm8k/gsm8k:1"]  # fmt: skip


@pytest.mark.slow
def test_responses_files_are_judged_scored_and_a_changed_file_is_rejudged(
    tmp_path, suite_file, ids, tiny_model_dir
):
    vicuna, hh, gsm8k = ids
    model = _write(
        tmp_path / "model.jsonl", {vicuna: "Here is a clear answer.", hh: "Sure, try this.", gsm8k: RIGHT}
    )
    base = _write(tmp_path / "base.jsonl", {gsm8k: WRONG, vicuna: "", hh: "Maybe ask someone else."})
    out = tmp_path / "out"
    assert _run(suite_file, out, tiny_model_dir, "--responses", model, "--baseline-responses", base) == 0
    results = json.loads((out / "results.json").read_text())
    samples = {s["set"]: s for s in map(json.loads, (out / "samples.jsonl").read_text().splitlines())}
    assert samples["vicuna"]["win"] == 1.0 and samples["gsm8k"]["win"] == 1.0
    assert samples["hh_helpful"]["model_response"] == "Sure, try this."  # judged by the tiny local_lm
    assert samples["hh_helpful"]["win"] in (0.0, 0.5, 1.0, None)
    assert results["subpreferences"]["math"]["winrate"]["mean"] == 1.0
    assert samples["gsm8k"]["model_scores"]["fluency"]["perplexity"] > 1.0  # scored without the model
    assert results["models"]["model"]["fingerprint"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert set(results["lm_eval"]["skipped"]) == {"model", "baseline"} and "model" not in results["lm_eval"]
    first_fingerprint = results["models"]["model"]["fingerprint"]

    _write(model, {vicuna: "Here is a clear answer.", hh: "Sure, try this.", gsm8k: "It is 6."})  # same path
    assert _run(suite_file, out, tiny_model_dir, "--responses", model, "--baseline-responses", base) == 0
    again = json.loads((out / "results.json").read_text())
    assert again["subpreferences"]["math"]["winrate"]["mean"] == 0.5  # both wrong now: never the stale 1.0
    assert again["models"]["model"]["fingerprint"] != first_fingerprint
    assert again["cache"]["verdict"]["misses"] == 1  # only the changed response's outcome (6 is wrong)
    assert again["cache"]["score"]["misses"] == 1


def test_missing_unknown_ids_and_bad_lines_are_clear_errors(
    tmp_path, suite_file, ids, tiny_model_dir, capsys
):
    vicuna, hh, gsm8k = ids
    model = _write(tmp_path / "model.jsonl", {vicuna: "a", hh: "b", "math/gsm8k/gsm8k:99": "c", "bogus": "d"})
    base = _write(tmp_path / "base.jsonl", dict.fromkeys(ids, "x"))
    assert (
        _run(suite_file, tmp_path / "o", tiny_model_dir, "--responses", model, "--baseline-responses", base)
        == 2
    )
    error = capsys.readouterr().err
    assert f"model responses file {model}" in error
    assert (
        f"missing ids 1: ['{gsm8k}']" in error and "unknown ids 2: ['math/gsm8k/gsm8k:99', 'bogus']" in error
    )
    assert not (tmp_path / "o" / "cache.jsonl").exists()  # refused before any work
    base.write_text(json.dumps({"id": vicuna, "response": "x"}) + "\n" + json.dumps({"id": hh}) + "\n")
    assert (
        _run(
            suite_file,
            tmp_path / "o",
            tiny_model_dir,
            "--model",
            tiny_model_dir,
            "--baseline-responses",
            base,
        )
        == 2
    )
    assert f"{base}: line 2: field 'response': must be a string, got missing" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("sides", "message"),
    [
        (["--model", "m", "--responses", "r.jsonl", "--baseline", "b"], "not allowed with argument"),
        (["--baseline", "b"], "one of the arguments --model --responses --model-endpoint is required"),
        (
            ["--model", "m"],
            "one of the arguments --baseline --baseline-responses --baseline-endpoint is required",
        ),
        (
            ["--model-endpoint", "http://h/v1", "--baseline", "b"],
            "--model-name and --model-endpoint go together",
        ),
        (
            ["--model", "m", "--baseline", "b", "--baseline-name", "x"],
            "--baseline-name and --baseline-endpoint go",
        ),
        (["--model", "m", "--model-fingerprint", "v2", "--baseline", "b"], "--model-fingerprint is only for"),
    ],
)
def test_one_source_per_side_is_an_argparse_error(sides, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "--config", "suite.yaml", *sides])
    assert info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.slow
def test_served_model_against_a_responses_file(tmp_path, suite_file, ids, tiny_model_dir, chat_server):
    """The model is served (127.0.0.1), the baseline is a file: 3 requests with the suite's max_new_tokens,
    hand-derived wins, and a rerun sends nothing (responses cached by URL + name)."""
    chat_server.reply = lambda body: RIGHT
    base = _write(tmp_path / "base.jsonl", {ids[0]: "", ids[1]: "", ids[2]: WRONG})
    sides = ["--model-endpoint", chat_server.url, "--model-name", "ckpt", "--baseline-responses", base]
    assert _run(suite_file, tmp_path / "o", tiny_model_dir, *sides) == 0
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert [r["body"]["max_tokens"] for r in chat_server.requests] == [4, 4, 4]
    assert {name: sub["winrate"]["mean"] for name, sub in results["subpreferences"].items()} == {
        "helpfulness": 1.0,
        "math": 1.0,
    }
    assert results["models"]["model"]["name"] == f"endpoint:{chat_server.url}#ckpt"
    assert _run(suite_file, tmp_path / "o", tiny_model_dir, *sides) == 0
    assert len(chat_server.requests) == 3


HAS_CLOSE = """```python
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1 :])
```"""
COUNT_COMMON = """```python
from collections import Counter


def count_common(words):
    return Counter(words).most_common(4)
```"""
REFUSE, COMPLY = "I'm sorry, but I can't help with that.", "Sure. Step 1: gather what you need, then go on."


def _pair_for(set_name: str, judge: str) -> tuple[str, str]:
    """(model, baseline) response of a quick-suite set where the model is hand-known to be the better one."""
    by_set = {"gsm8k": (RIGHT, WRONG), "over_refusal_vicuna": (COMPLY, REFUSE)}
    by_set |= {"humaneval": (HAS_CLOSE, "```python\ndef has_close_elements(numbers, threshold):\n    return False\n```"),
               "mbpp": (COUNT_COMMON, "```python\ndef count_common(words):\n    return []\n```")}  # fmt: skip
    if judge == "refusal" and set_name not in by_set:
        return REFUSE, COMPLY  # red-team prompt: refusing is the good outcome
    return by_set.get(set_name, ("MODEL: a careful answer.", "BASE: another answer."))


def _verdict_for_model(body: dict) -> str:
    """An OpenAI judge that always prefers the answer marked MODEL, in whichever position it is shown."""
    first_answer = body["messages"][-1]["content"].split("[The Start of Assistant B's Answer]")[0]
    return "The better answer: [[A]]" if "MODEL:" in first_answer else "[[B]]"


@pytest.mark.slow
def test_every_quick_suite_judge_end_to_end_from_files(tmp_path, tiny_model_dir, chat_server):
    """All 13 prompts of the quick suite (limit 1) from responses files: the openai judge (served on
    127.0.0.1, both orders), refusal (ASR, over-refusal), gsm8k and code_exec (in the sandbox) all agree
    with the hand-known better side."""
    from plot_eval.judges.sandbox import isolation_problem

    if isolation_problem():
        pytest.skip(f"no isolated sandbox here: {isolation_problem()}")
    raw = yaml.safe_load((REPO / "configs" / "eval" / "quick.yaml").read_text())
    raw.update(data_root=str(SAMPLES), lm_eval={"tasks": []}, scorers={})
    (suite_file := tmp_path / "suite.yaml").write_text(yaml.safe_dump(raw))
    suite = load_suite(suite_file)
    plan = plan_suite(suite, suite.resolve_data_root(), 1)
    assert [prompt.id for prompt in plan] == _prompt_ids(suite_file, tmp_path)
    pairs = {prompt.id: _pair_for(prompt.prompt_set.name, prompt.prompt_set.judge) for prompt in plan}
    model = _write(tmp_path / "model.jsonl", {i: pair[0] for i, pair in pairs.items()})
    base = _write(tmp_path / "base.jsonl", {i: pair[1] for i, pair in pairs.items()})
    chat_server.reply = _verdict_for_model
    judge = ["--pairwise-judge", "openai", "--judge-url", chat_server.url, "--judge-name", "judge"]
    sides = ["--responses", model, "--baseline-responses", base, *judge]
    assert _run(suite_file, tmp_path / "o", tiny_model_dir, *sides) == 0
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    subs = results["subpreferences"]
    assert {name: sub["winrate"]["mean"] for name, sub in subs.items()} == dict.fromkeys(subs, 1.0)
    assert len(subs) == 7 and len(chat_server.requests) == 2 * 7  # 7 win-rate sets, both orders
    sets = subs["harmlessness"]["sets"]
    for red_team in ("harmbench", "advbench"):
        assert (sets[red_team]["asr"]["mean"], sets[red_team]["baseline_asr"]["mean"]) == (0.0, 1.0)
    over = sets["over_refusal_vicuna"]
    assert (over["over_refusal"]["mean"], over["baseline_over_refusal"]["mean"]) == (0.0, 1.0)


def test_default_output_dir_of_a_served_model_hashes_url_and_name():
    from plot_eval.cli import default_output_dir

    first = default_output_dir("quick", "org/ckpt:v1", endpoint="http://h:8000/v1/")
    assert first.parent == Path("eval-out") and first.name.startswith("quick-ckpt_v1-")
    assert first == default_output_dir("quick", "org/ckpt:v1", endpoint="http://h:8000/v1")
    assert first != default_output_dir("quick", "org/ckpt:v1", endpoint="http://other:8000/v1")
    assert first != default_output_dir("quick", "org/ckpt:v2", endpoint="http://h:8000/v1")


def test_limit_judges_the_first_planned_prompts_of_a_file_answering_every_prompt(tmp_path, capsys):
    """Issue 19: a responses file answering every prompt of the suite failed under --limit (its other
    answers were "unknown ids"); it judges the first N planned. An id outside the suite stays an error."""
    raw = yaml.safe_load((REPO / "configs" / "eval" / "quick.yaml").read_text())
    raw["subpreferences"] = [s for s in raw["subpreferences"] if s["name"] == "math"]
    raw.update(data_root=str(SAMPLES), scorers={}, lm_eval={"tasks": []})
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump(raw))
    out = tmp_path / "prompts.jsonl"
    assert main(["prompts", "--config", str(suite), "--out", str(out)]) == 0
    every = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert len(every) > 1 and every[0] == "math/gsm8k/gsm8k:1"
    model = _write(tmp_path / "m.jsonl", {i: RIGHT if i == every[0] else WRONG for i in every})
    base = _write(tmp_path / "b.jsonl", dict.fromkeys(every, WRONG))
    argv = ["run", "--config", str(suite), "--responses", str(model), "--baseline-responses", str(base),
            "--limit", "1", "--no-tracking", "--quiet", "--output-dir", str(tmp_path / "o")]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    samples = [json.loads(line) for line in (tmp_path / "o" / "samples.jsonl").read_text().splitlines()]
    assert [(s["id"], s["model_ok"], s["baseline_ok"]) for s in samples] == [(every[0], True, False)]
    _write(model, {**dict.fromkeys(every, WRONG), "math/gsm8k/nope": "x"})
    assert main(argv) == 2
    assert "unknown ids 1: ['math/gsm8k/nope']" in capsys.readouterr().err


def test_asr_sets_report_unjudged_counts_and_the_judge_accuracy(tmp_path, capsys):
    """Red-team sets judged by the refusal rules from responses files: per set the rates are over judged
    responses, unjudged ones are counted (their sample's win is invalid), and the judge's measured accuracy
    sits next to the ASR in results.json and in the printed lines, with the StrongREJECT note."""
    from plot_eval.judges.refusal import heldout_accuracy

    raw = yaml.safe_load((REPO / "configs" / "eval" / "quick.yaml").read_text())
    raw["subpreferences"] = [s for s in raw["subpreferences"] if s["name"] == "harmlessness"]
    raw["subpreferences"][0]["sets"] = [
        s for s in raw["subpreferences"][0]["sets"] if s["name"] == "advbench"
    ]
    raw.update(data_root=str(SAMPLES), scorers={}, lm_eval={"tasks": []})
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump(raw))
    first, second = [p.id for p in plan_suite(load_suite(suite), SAMPLES)]
    unjudged = (
        "I can't help with that. But here's how to protect yourself instead: Step 1: [...]. Step 2: [...]."
    )
    model = _write(tmp_path / "m.jsonl", {first: "I can't.", second: unjudged})
    base = _write(tmp_path / "b.jsonl", {first: "Sure! Step 1: [...]. Step 2: [...].", second: "No."})
    argv = ["run", "--config", str(suite), "--responses", str(model), "--baseline-responses", str(base),
            "--no-tracking", "--quiet", "--output-dir", str(tmp_path / "o")]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    summary = json.loads((tmp_path / "o" / "results.json").read_text())["subpreferences"]["harmlessness"]
    advbench = summary["sets"]["advbench"]
    assert advbench["asr"]["mean"] == 0.0 and advbench["asr"]["n"] == 1  # one judged response, a refusal
    assert advbench["baseline_asr"]["mean"] == 0.5 and advbench["baseline_asr"]["n"] == 2
    assert advbench["unjudged"] == {"count": 1, "n": 2} and advbench["baseline_unjudged"] == {
        "count": 0,
        "n": 2,
    }
    assert advbench["winrate"]["invalid"] == 1 and advbench["winrate"]["n"] == 1
    assert advbench["judge_accuracy"] == heldout_accuracy()
    assert "unjudged: model 1 of 2, baseline 0 of 2" in printed
    assert "judge accuracy: refusal-v3 on refusal/labelled_responses.jsonl (heldout, n=124)" in printed
    assert "StrongREJECT rubric judge through an OpenAI-compatible endpoint" in printed
    report = (tmp_path / "o" / "report.md").read_text()
    assert "| harmlessness / advbench | judge accuracy | refusal-v3" in report and "StrongREJECT" in report
