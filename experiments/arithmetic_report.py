"""The arithmetic experiment's outputs: ``items.jsonl`` (every per-item value), ``results.json`` and ``report.md``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from experiments.arithmetic_config import METRICS, ArithmeticExperiment
from experiments.arithmetic_run import cell_folder
from experiments.state import atomic_write_json, atomic_write_text

LABELS = {
    "accuracy": "held-out accuracy",
    "ontask_kl": "KL/token (on-task)",
    "ontask_nll": "NLL/token of the answer",
    "offtask_nll_change": "off-task log-ppl change",
}


def write_items(config: ArithmeticExperiment, path: Path) -> int:
    """One line per measured item: ``{"arm", "seed", "step", "set", ...the item's values}``; returns the count."""
    records = [("base", 0, Path(config.out_dir) / "base.json")]
    for arm in config.arms:
        for seed in config.seeds:
            records += [(arm, seed, cell_folder(config, arm, seed) / f"step{p}.json") for p in config.points]
    lines = []
    for arm, seed, file in records:
        if not file.exists():
            continue
        record = json.loads(file.read_text(encoding="utf-8"))
        for name, items in record["items"].items():
            lines += [json.dumps({"arm": arm, "seed": seed, "step": record["step"], "set": name, **item})
                      for item in items]  # fmt: skip
    atomic_write_text(path, "\n".join(lines) + "\n")
    return len(lines)


def calibration(config: ArithmeticExperiment) -> dict[str, Any]:
    """Per cell: the term weights in force at the end and the gradient shares logged last."""
    out = {}
    for arm in config.arms:
        for seed in config.seeds:
            file = cell_folder(config, arm, seed) / f"step{config.max_steps}.json"
            if file.exists():
                record = json.loads(file.read_text(encoding="utf-8"))
                out[f"{arm} seed {seed}"] = {
                    "weights": record["weights"],
                    "grad_shares": record["grad_shares"],
                }
    return out


def _interval(summary: dict[str, float], digits: int = 3) -> str:
    if summary["degenerate"]:
        return f"{summary['mean']:.{digits}f} (degenerate: every resample equal)"
    return f"{summary['mean']:.{digits}f} [{summary['low']:.{digits}f}, {summary['high']:.{digits}f}]"


def report(config: ArithmeticExperiment, results: dict[str, Any]) -> str:
    data = Path(config.data_dir)
    pilot = json.loads((data / "pilot.json").read_text(encoding="utf-8"))
    summary = json.loads((data / "summary.json").read_text(encoding="utf-8"))
    lines = [f"# Arithmetic experiment `{config.name}`", "", "## Pilot", "",
             "| operation | greedy correct | accuracy [Wilson 95%] | distinct problems |", "|---|---|---|---|"]  # fmt: skip
    for op, r in pilot["operations"].items():
        lines.append(f"| {op} | {r['correct']}/{r['n']} | {r['accuracy']:.3f} [{r['wilson'][0]:.3f}, "
                     f"{r['wilson'][1]:.3f}] | {r.get('problems', '?')} |")  # fmt: skip
    train = summary["train"]
    gold = (
        f" ({train.get('gold_pairs', 0)} with the exact answer as chosen)" if train.get("gold_pairs") else ""
    )
    lines += ["", f"Chosen: **{summary['operation']}**; {train['pairs'] + train.get('gold_pairs', 0)} training pairs"
              f"{gold} from {train['prompts']} prompts; {summary['heldout']['prompts']} held-out prompts.", ""]  # fmt: skip
    base = json.loads((Path(config.out_dir) / "base.json").read_text(encoding="utf-8"))["greedy_agreement"]
    lines += [f"Accuracy is read from one teacher-forced pass per item; on the base model it agrees with `generate` "
              f"(greedy) on {base['agree']}/{base['items']} items ({base['forced_correct']} vs "
              f"{base['generated_correct']} correct).", ""]  # fmt: skip
    gate = results["gate"]
    lines += ["## Gate", "", f"{gate['arm']} seed {gate['seed']}: held-out accuracy {gate['base_accuracy']:.3f} -> "
              f"{gate['end_accuracy']:.3f} (gain {gate['gain']:+.3f}, needed {gate['min_gain']:+.3f}): "
              f"{'passed' if gate['passed'] else 'STOPPED'}.", ""]  # fmt: skip
    lines += ["## Arms (mean over seeds x items, 95% two-way bootstrap interval)", "",
              "| arm | step | " + " | ".join(LABELS[m] for m in METRICS) + " |",
              "|---|---|" + "---|" * len(METRICS)]  # fmt: skip
    base = results["base"]
    lines.append("| base model | 0 | " + " | ".join(f"{base[m]:.3f}" for m in METRICS) + " |")
    for arm, points in results["arms"].items():
        for step, metrics in points.items():
            lines.append(f"| {arm} | {step} | " + " | ".join(_interval(metrics[m]) for m in METRICS) + " |")
    lines += ["", "## Contrasts at the end (paired by seed and item; Holm over all rows)", "",
              "| contrast | role | metric | estimate [95%] | p | p (Holm) | MDE (80% power) |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for c in results["contrasts"]:
        shown = (
            "degenerate" if c["degenerate"] else f"{c['estimate']:+.4f} [{c['low']:+.4f}, {c['high']:+.4f}]"
        )
        lines.append(f"| {c['treated']} - {c['base']} | {c['role']} | {c['metric']} | {shown} | "
                     f"{c['p_value']:.4f} | {c['p_holm']:.4f} | {c['mde']:.4f} |")  # fmt: skip
    lines += ["", f"**Does PLOT help here?** {results['verdict']}.", ""]
    env = results["environment"]
    lines += [f"Run: commit `{env['commit']}`, wall time {results['seconds'] / 60:.1f} min, torch {env['torch']}, "
              f"transformers {env['transformers']}, lightning {env['lightning']}, {env['threads']} threads, load "
              f"average at the end {env['load_average'][0]:.2f}.", ""]  # fmt: skip
    lines += ["## Term weights and gradient shares (final step)", "", "| cell | weights | logged shares |",
              "|---|---|---|"]  # fmt: skip
    for cell, c in results["calibration"].items():
        weights = ", ".join(f"{k} {v:.4g}" for k, v in c["weights"].items())
        shares = ", ".join(f"{k.rsplit('/', 1)[-1]} {v:.3f}" for k, v in c["grad_shares"].items()) or "-"
        lines.append(f"| {cell} | {weights} | {shares} |")
    return "\n".join(lines) + "\n"


def environment() -> dict[str, Any]:
    """The commit (when run from a git checkout), library versions, threads and the load average now."""
    import os
    import subprocess

    import lightning
    import torch
    import transformers

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).resolve().parent, timeout=10).stdout.strip() or "unknown"  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return {
        "commit": commit, "torch": torch.__version__, "transformers": transformers.__version__,
        "lightning": lightning.__version__, "threads": torch.get_num_threads(), "load_average": os.getloadavg(),
    }  # fmt: skip


def write_outputs(config: ArithmeticExperiment, results: dict[str, Any]) -> dict[str, str]:
    out = Path(config.out_dir)
    results = {**results, "calibration": calibration(config), "environment": environment()}
    results["items_written"] = write_items(config, out / "items.jsonl")
    atomic_write_json(out / "results.json", results)
    text = report(config, results)
    atomic_write_text(out / "report.md", text)
    return {
        "results": str(out / "results.json"),
        "report": str(out / "report.md"),
        "items": str(out / "items.jsonl"),
    }
