"""``plot-eval run`` on a cell's export, as a subprocess (``plot_lightning`` never imports ``eval``), and the
metrics the experiment reads back from its ``results.json`` and ``samples.jsonl``.

From results.json: win rates per subpreference (labelled ``judged_winrate``: with the offline 135M judge they
are a smoke test), programmatic accuracy and ASR per set, fluency/coherence means, lm-eval metrics. From
samples.jsonl: mean response length (words) and distinct-2 of the model's responses per subpreference.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from plot_lightning.experiment.config import EvalSettings


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


def _distinct_2(text: str) -> float:
    words = text.split()
    bigrams = list(zip(words, words[1:], strict=False))
    return len(set(bigrams)) / len(bigrams) if bigrams else 0.0


def _sample_metrics(samples_file: Path) -> dict[str, dict[str, float]]:
    groups: dict[str, list[str]] = defaultdict(list)
    for line in samples_file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            sample = json.loads(line)
            groups[sample["subpreference"]].append(sample["model_response"])
            groups["all"].append(sample["model_response"])
    return {
        group: {
            "response_words": sum(len(r.split()) for r in responses) / len(responses),
            "distinct_2": sum(_distinct_2(r) for r in responses) / len(responses),
        }
        for group, responses in groups.items()
    }


def read_eval_metrics(output_dir: Path) -> dict[str, dict[str, float]]:
    """``{subpreference | "all": {metric: value}}`` from one plot-eval output folder."""
    results = json.loads((output_dir / "results.json").read_text(encoding="utf-8"))
    metrics: dict[str, dict[str, float]] = defaultdict(dict)
    for sub, summary in results.get("subpreferences", {}).items():
        if summary.get("winrate"):
            metrics[sub]["judged_winrate"] = summary["winrate"]["mean"]
        for set_name, set_summary in summary.get("sets", {}).items():
            for key in ("accuracy", "asr", "over_refusal"):
                if key in set_summary:
                    metrics[sub][f"{key}/{set_name}"] = set_summary[key]["mean"]
    for group in ("fluency", "coherence"):
        for key, value in (results.get(group) or {}).get("model", {}).items():
            metrics["all"][f"{group}/{key}"] = value["mean"]
    for task, values in (results.get("lm_eval") or {}).get("model", {}).items():
        for key, value in values.items():
            if isinstance(value, (int, float)):
                metrics["all"][f"lm_eval/{task}/{key}"] = float(value)
    samples = output_dir / "samples.jsonl"
    if samples.is_file():
        for group, values in _sample_metrics(samples).items():
            metrics[group].update(values)
    return dict(metrics)
