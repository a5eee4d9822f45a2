"""``plot-eval run`` on a cell's export, as a subprocess (``plot_lightning`` never imports ``eval``), and the
metrics the experiment reads back from its ``results.json`` and ``samples.jsonl``.

From results.json: win rates per subpreference (labelled ``judged_winrate``: with the offline 135M judge they
are a smoke test), every metric entry of every set (``<entry>/<set>``: accuracy, ASR, over-refusal, ... as
plot-eval's registered metrics wrote them), every scorer's means (``<scorer>/<value>``) and lm-eval metrics.
From samples.jsonl, per subpreference: mean response length (words) and the mean of each score plot-eval
stored per response (e.g. ``fluency/distinct_2``), never recomputed here.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from experiments.config import EvalSettings


def run_eval(settings: EvalSettings, export: Path, baseline: Path, output_dir: Path) -> None:
    """Run the suite; RuntimeError with the log's tail when plot-eval fails."""
    command = [
        sys.executable, "-m", "plot_eval", "run", "--config", str(settings.suite), "--model", str(export),
        "--baseline", str(baseline), "--output-dir", str(output_dir), "--no-tracking", "--quiet",
    ]  # fmt: skip
    if settings.limit is not None:
        command += ["--limit", str(settings.limit)]
    command += list(settings.extra_args)
    output_dir.mkdir(parents=True, exist_ok=True)
    log_file = output_dir.parent / "eval.log"
    with open(log_file, "a", encoding="utf-8") as log:
        log.write("$ " + " ".join(command) + "\n")
        log.flush()
        code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT).returncode
    if code != 0:
        tail = "".join(log_file.read_text(encoding="utf-8", errors="replace").splitlines(True)[-25:])
        raise RuntimeError(f"plot-eval failed (exit code {code}); {log_file} ends:\n{tail}")


_NOT_ENTRIES = ("winrate", "lc_winrate")


def _mean(values: list) -> float | None:
    finite = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None


def _score_means(samples: list[dict]) -> dict[str, float]:
    """`<scorer>/<value>`: the mean of each score plot-eval stored for the model's responses (undefined
    scores, e.g. the perplexity of an empty response, left out)."""
    names = sorted(
        {(scorer, key) for s in samples for scorer, row in s.get("model_scores", {}).items() for key in row}
    )
    means = {
        f"{scorer}/{key}": _mean([s.get("model_scores", {}).get(scorer, {}).get(key) for s in samples])
        for scorer, key in names
    }
    return {name: value for name, value in means.items() if value is not None}


def _sample_metrics(samples_file: Path) -> dict[str, dict[str, float]]:
    """Per subpreference: response_words and the score means (`_score_means`); "all": response_words (the
    run-wide score means come from results.json)."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for line in samples_file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            sample = json.loads(line)
            groups[sample["subpreference"]].append(sample)
            groups["all"].append(sample)
    return {
        group: {
            "response_words": _mean([len(s["model_response"].split()) for s in samples]),
            **(_score_means(samples) if group != "all" else {}),
        }
        for group, samples in groups.items()
    }


def _set_entries(set_name: str, summary: dict) -> dict[str, float]:
    """`<entry>/<set>` for every model-side entry of a set summary holding a mean (plot-eval's convention:
    `<entry>` for the model, `baseline_<entry>` for the baseline)."""
    return {
        f"{key}/{set_name}": value["mean"]
        for key, value in summary.items()
        if key not in _NOT_ENTRIES
        and not key.startswith("baseline_")
        and isinstance(value, dict)
        and isinstance(value.get("mean"), (int, float))
    }


def read_eval_metrics(output_dir: Path) -> dict[str, dict[str, float]]:
    """``{subpreference | "all": {metric: value}}`` from one plot-eval output folder."""
    results = json.loads((output_dir / "results.json").read_text(encoding="utf-8"))
    metrics: dict[str, dict[str, float]] = defaultdict(dict)
    for sub, summary in results.get("subpreferences", {}).items():
        if (summary.get("winrate") or {}).get("mean") is not None:
            metrics[sub]["judged_winrate"] = summary["winrate"]["mean"]
        for set_name, set_summary in summary.get("sets", {}).items():
            metrics[sub].update(_set_entries(set_name, set_summary))
    for scorer, block in (results.get("scores") or {}).items():
        for key, value in block.get("model", {}).items():
            metrics["all"][f"{scorer}/{key}"] = value["mean"]
    for task, values in (results.get("lm_eval") or {}).get("model", {}).items():
        for key, value in values.items():
            if isinstance(value, (int, float)):
                metrics["all"][f"lm_eval/{task}/{key}"] = float(value)
    samples = output_dir / "samples.jsonl"
    if samples.is_file():
        for group, values in _sample_metrics(samples).items():
            metrics[group].update(values)
    return dict(metrics)
