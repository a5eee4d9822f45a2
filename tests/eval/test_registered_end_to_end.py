"""Issue 22: a judge for a new metric and a new scorer, both defined and registered here, reach results.json,
the printed summary, report.md, the charts and a real MLflow store (sqlite) without any edit to `eval/`.

Hand derivation. The `brevity_rules` judge labels a response `concise` when it has at most 5 words. On the
4 Vicuna prompts the model is concise on samples 0, 1, 2, the baseline on 0 and 3:
- wins (both concise = 0.5, only the model = 1, only the baseline = 0): 0.5, 1, 1, 0 -> win rate 0.625,
  1 tie; `brevity` is pooled, so the subpreference's win rate is the same 0.625;
- brevity rate 3/4 = 0.75 with its 95% Wilson interval (the metric declares it; a bootstrap would differ):
  z = 1.95996, center (0.75 + z^2/8) / (1 + z^2/4) = 0.62753, half-width
  z / (1 + z^2/4) * sqrt(0.75 * 0.25 / 4 + z^2 / 64) = 0.32688 -> [0.30065, 0.95441]; baseline 2/4 = 0.5;
- the `word_stats` scorer's words: model 1 + 3 + 4 + 9 = 17 -> 4.25; baseline 2 + 8 + 8 + 2 = 20 -> 5.0.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import pytest
import yaml

from plot_eval.cli import main
from plot_eval.judges.base import Judge
from plot_eval.metrics.base import Metric
from plot_eval.registry import JUDGES, METRICS, SCORERS
from plot_eval.sources.plan import plan_suite
from plot_eval.suite import load_suite

SAMPLES = Path(__file__).resolve().parents[2] / "eval" / "samples"
MODEL = ["Yes.", "Try a map.", "Ask a local guide.", "This is a much longer answer than five words."]
BASELINE = [
    "Short one.",
    "A long answer of exactly eight words here.",
    "Another long answer of exactly eight words here.",
    "Two words.",
]


@dataclass
class BrevitySettings:
    max_words: int = 5


class BrevityJudge(Judge):
    """Outcome judge: `concise` when a response has at most `max_words` words, else `verbose`."""

    def identity(self):
        return {"rule": "brevity-v1", "max_words": self.settings.max_words}

    def outcome(self, item, prompt, response):
        words = len(response.split())
        return {"label": "concise" if words <= self.settings.max_words else "verbose", "score": None}


class Brevity(Metric):
    """Share of concise responses with a Wilson score interval."""

    good_label, pooled, title = "concise", True, "brief answers"

    def interval(self, values, scoring):
        n, p = len(values), sum(values) / len(values)
        z = NormalDist().inv_cdf(0.5 + scoring.confidence / 2)
        center = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        return {"mean": p, "ci_low": center - half, "ci_high": center + half, "n": n}


class WordStats:
    """Scorer: words and question marks of each response."""

    def __init__(self, settings, context):
        pass

    def identity(self):
        return {"scorer": "word_stats-v1"}

    def score(self, prompts, responses):
        return [{"words": len(r.split()), "question_marks": r.count("?")} for r in responses]


@pytest.fixture
def registered():
    JUDGES.register("brevity_rules", settings=BrevitySettings, metrics=("brevity",))(BrevityJudge)
    METRICS.register("brevity")(Brevity)
    SCORERS.register("word_stats")(WordStats)
    yield
    for registry, name in ((JUDGES, "brevity_rules"), (METRICS, "brevity"), (SCORERS, "word_stats")):
        registry.unregister(name)


def _suite(tmp_path: Path) -> Path:
    source = {"loader": "vicuna_bench", "file": "mt-bench/vicuna_bench_question.jsonl"}
    prompt_set = {
        "name": "vicuna",
        "source": source,
        "judge": "brevity_rules",
        "metric": "brevity",
        "limit": 4,
    }
    raw = {
        "name": "extension",
        "version": 1,
        "data_root": str(SAMPLES),
        "scorers": {"word_stats": {}},
        "subpreferences": [
            {"name": "helpfulness", "category": "human_values", "paper_named": True, "sets": [prompt_set]}
        ],
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _responses(path: Path, ids: list[str], texts: list[str]) -> Path:
    path.write_text(
        "".join(json.dumps({"id": i, "response": t}) + "\n" for i, t in zip(ids, texts, strict=True))
    )
    return path


@pytest.mark.slow
def test_a_registered_metric_judge_and_scorer_reach_every_output(registered, tmp_path, capsys):
    from mlflow.tracking import MlflowClient

    from plot_eval.reports.charts import quality_figure

    suite = _suite(tmp_path)
    ids = [prompt.id for prompt in plan_suite(load_suite(suite), SAMPLES)]
    out, uri = tmp_path / "out", f"sqlite:///{tmp_path / 'mlflow.db'}"
    argv = ["run", "--config", str(suite), "--responses", str(_responses(tmp_path / "m.jsonl", ids, MODEL)),
            "--baseline-responses", str(_responses(tmp_path / "b.jsonl", ids, BASELINE)),
            "--output-dir", str(out), "--tracking-uri", uri, "--quiet"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out

    results = json.loads((out / "results.json").read_text())
    sub = results["subpreferences"]["helpfulness"]
    vicuna = sub["sets"]["vicuna"]
    assert sub["winrate"]["mean"] == vicuna["winrate"]["mean"] == 0.625 and vicuna["winrate"]["ties"] == 1
    assert vicuna["brevity"]["mean"] == 0.75 and vicuna["baseline_brevity"]["mean"] == 0.5
    assert vicuna["brevity"]["ci_low"] == pytest.approx(0.30065, abs=1e-4)
    assert vicuna["brevity"]["ci_high"] == pytest.approx(0.95441, abs=1e-4)
    assert vicuna["title"] == "brief answers"
    words = results["scores"]["word_stats"]
    assert words["model"]["words"]["mean"] == 4.25 and words["baseline"]["words"]["mean"] == 5.0

    assert "brief answers vicuna: model 0.750 [0.301, 0.954] vs baseline 0.500 (n=4)" in printed
    report = (out / "report.md").read_text()
    assert "| helpfulness / vicuna | brief answers | 0.625 [" in report
    assert "| 0.750 [0.301, 0.954] (n=4; degenerate interval: n=4 < 10) | 0.500 [" in report
    assert "| word_stats/words | 4.250 [" in report and "| word_stats/question_marks |" in report

    assert (out / "charts" / "quality.png").stat().st_size > 1000
    panels = {ax.get_title().replace("\n", "/") for ax in quality_figure(results).axes}
    assert panels == {"word_stats/words", "word_stats/question_marks"}

    run = MlflowClient(tracking_uri=uri).get_run(results["tracking"]["run_id"])
    metrics = run.data.metrics
    assert (
        metrics["brevity/helpfulness/vicuna"] == 0.75
        and metrics["baseline/brevity/helpfulness/vicuna"] == 0.5
    )
    assert metrics["winrate/helpfulness"] == 0.625
    assert metrics["word_stats/words"] == 4.25 and metrics["baseline/word_stats/words"] == 5.0


def test_unregistering_forgets_the_component(registered):
    assert "brevity" in METRICS and METRICS.get("brevity").component is Brevity
    METRICS.unregister("brevity")
    assert "brevity" not in METRICS
    METRICS.register("brevity")(Brevity)  # back for the fixture's teardown
