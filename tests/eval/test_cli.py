"""`plot-eval run` and `plot-eval compare`, called in-process."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from plot_eval.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def mini_suite(tmp_path):
    """Two subpreferences of the quick suite, no scorers, no lm-eval: exercises the CLI, not the models."""
    raw = yaml.safe_load((REPO / "configs" / "eval" / "quick.yaml").read_text())
    raw["subpreferences"] = [s for s in raw["subpreferences"] if s["name"] in ("helpfulness", "math")]
    raw.update(data_root=str(REPO / "eval" / "samples"), lm_eval={"tasks": []})
    raw["scorers"] = {}
    raw["generation"]["max_new_tokens"] = 4
    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture
def second_model_dir(tmp_path, tiny_tokenizer):
    from plot_lightning.models.tiny import tiny_model

    folder = tmp_path / "other-model"
    tiny_model(len(tiny_tokenizer), seed=3).save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return folder


def _run(suite, model, baseline, out, judge, *extra):
    argv = ["run", "--config", str(suite), "--model", str(model), "--baseline", str(baseline), "--output-dir",
            str(out), "--judge-model", str(judge), "--limit", "1", "--no-tracking", "--quiet", *extra]  # fmt: skip
    return main(argv)


@pytest.mark.slow
def test_cli_run_then_compare(
    tmp_path, mini_suite, tiny_model_dir, second_model_dir, results_factory, capsys
):
    assert _run(mini_suite, tiny_model_dir, second_model_dir, tmp_path / "dpo", tiny_model_dir) == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert not re.search(r"^\[(generate|judge|score|lm-eval)\]", captured.err, flags=re.M)  # --quiet
    assert "Loading weights" not in captured.err  # nor transformers' own bars
    assert "helpfulness" in printed and "math" in printed and "results.json" in printed
    assert (tmp_path / "dpo" / "report.md").is_file() and (tmp_path / "dpo" / "cache.jsonl").is_file()
    results_factory(tmp_path / "dpo_plot")  # a second finished run (synthetic: 0.625 everywhere)
    compare = ["compare", str(tmp_path / "dpo"), str(tmp_path / "dpo_plot" / "results.json")]
    assert main(compare) == 2  # a real baseline and a synthetic one: no paired difference
    assert "baselines differ" in capsys.readouterr().err
    assert main([*compare, "--unpaired"]) == 0
    table = capsys.readouterr().out
    assert table.startswith("| metric | dpo | dpo_plot |")
    assert "| winrate/helpfulness |" in table and "| winrate/math/gsm8k |" in table
    assert "| winrate/code | - | 0.6250 |" in table  # only the second run has the code subpreference


@pytest.mark.slow
def test_cli_run_prints_progress_of_every_stage_when_not_a_terminal(
    tmp_path, mini_suite, tiny_model_dir, second_model_dir, capsys
):
    """stderr is captured (not a terminal): each stage prints `[stage] label done/total` lines reaching its
    total: generation per model, judging per set, scoring per scorer and model."""
    from plot_eval.suite import load_suite

    raw = yaml.safe_load(mini_suite.read_text())
    raw["scorers"] = {"fluency": {"model": str(tiny_model_dir)}}
    mini_suite.write_text(yaml.safe_dump(raw))
    argv = ["run", "--config", str(mini_suite), "--model", str(tiny_model_dir), "--baseline",
            str(second_model_dir), "--output-dir", str(tmp_path / "o"), "--judge-model", str(tiny_model_dir),
            "--limit", "1", "--no-tracking"]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err
    sets = [f"{sub.name}/{s.name}" for sub in load_suite(mini_suite).subpreferences for s in sub.sets]
    total = len(sets)  # --limit 1: one prompt per set
    expected = [f"[generate] {role} {total}/{total} | " for role in ("model", "baseline")]
    expected += [f"[judge] {name} 1/1 | " for name in sets]
    expected += [f"[score] fluency {role} {total}/{total} | " for role in ("model", "baseline")]
    lines = err.splitlines()
    assert [e for e in expected if not any(line.startswith(e) for line in lines)] == []
    assert f"[generate] model 0/{total} | 0:00:00 elapsed" in err  # a start line before the first batch


def test_cli_clear_errors(tmp_path, mini_suite, tiny_model_dir, capsys):
    assert _run(mini_suite, tmp_path / "missing-model", tiny_model_dir, tmp_path / "o", tiny_model_dir) == 2
    assert "missing-model" in capsys.readouterr().err
    data = tmp_path / "data"
    for rel in (
        "gsm8k/test.jsonl",
        "mt-bench/vicuna_bench_question.jsonl",
        "hh-rlhf/helpful-base.test.jsonl.gz",
    ):
        (data / rel).parent.mkdir(parents=True, exist_ok=True)
        (data / rel).write_bytes((REPO / "eval" / "samples" / rel).read_bytes())
    (data / "gsm8k/test.jsonl").write_text('{"question": "How many?", "answer": "no final number"}\n')
    code = _run(
        mini_suite, tiny_model_dir, tiny_model_dir, tmp_path / "o", tiny_model_dir, "--data-root", str(data)
    )
    assert code == 2
    assert "gsm8k/test.jsonl: row 1: field 'answer'" in capsys.readouterr().err
    assert main(["compare", str(tmp_path / "nothing")]) == 2
    capsys.readouterr()
    assert (
        _run(
            mini_suite,
            tiny_model_dir,
            tiny_model_dir,
            tmp_path / "o",
            tiny_model_dir,
            "--pairwise-judge",
            "gsm8k",
        )
        == 2
    )
    error = capsys.readouterr().err  # other tests may have registered more judges: not an exact list
    assert "--pairwise-judge 'gsm8k': not a pairwise judge; use one of [" in error and "'local_lm'" in error


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0 and "compare" in capsys.readouterr().out


def test_winrate_lines_mark_degenerate_intervals(synthetic_run):
    from plot_eval.reports.console import winrate_lines

    results, _, _ = synthetic_run
    results["subpreferences"]["helpfulness"]["winrate"] = {
        "mean": 0.6, "ci_low": 0.45, "ci_high": 0.75, "n": 40, "ties": 3, "invalid": 0
    }  # fmt: skip
    lines = {line.split()[0]: line for line in winrate_lines(results)[2:] if not line.startswith(" ")}
    # columns: win rate, CI, n, ties, invalid, LC win rate (equal-length synthetic responses: LC = raw)
    assert lines["helpfulness"].split()[1:] == [
        "0.600", "[0.450,", "0.750]", "40", "3", "0", "0.625", "(zero_length_spread)"
    ]  # fmt: skip
    assert "   4     1        0  0.625 (zero_length_spread)" in lines["math"]
    assert lines["math"].endswith("(interval degenerate: n=4 < 10)")


def test_winrate_lines_show_every_accuracy_set(synthetic_run):
    """Issue 19: the printed table showed only win rates; accuracy sets (math, code) were left out. In the
    synthetic run the model is right on 3 of 4 samples (0.750), the baseline on 2 of 4 (0.500)."""
    from plot_eval.reports.console import winrate_lines

    results, _, _ = synthetic_run
    lines = [line.strip() for line in winrate_lines(results)]
    for name in ("gsm8k", "humaneval", "mbpp"):
        summary = results["subpreferences"]["math" if name == "gsm8k" else "code"]["sets"][name]["accuracy"]
        interval = f"[{summary['ci_low']:.3f}, {summary['ci_high']:.3f}]"
        assert f"accuracy {name}: model 0.750 {interval} vs baseline 0.500 (n=4)" in lines
