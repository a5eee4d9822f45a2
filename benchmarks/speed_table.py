"""Speed/memory half of ``benchmarks/vs_trl.py``: one child process per run, and the ratio table.

Each run is ``vs_trl.py one ...`` in a fresh process (its peak RSS is that configuration's alone), with
``MALLOC_MMAP_THRESHOLD_=65536`` so that glibc returns freed blocks >= 64 KiB and RSS follows live memory.
Timings are printed only when :class:`machine_load.LoadProbe` found the machine quiet.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from round_ratios import comparisons, round_ratios

SCRIPT = Path(__file__).with_name("vs_trl.py")


def run_child(args, config: str, shape: str, checkpointing: str) -> dict:
    command = [sys.executable, str(SCRIPT), "one", "--config", config, "--shape", shape]
    command += ["--checkpointing", checkpointing]
    command += ["--model", args.model, "--steps", str(args.steps), "--lr", str(args.lr)]
    command += ["--threads", str(args.threads), "--work-dir", args.work_dir, "--warmup", str(args.warmup)]
    command += ["--device", args.device, "--lengths", args.lengths]
    if args.random_layers:
        command += ["--random-layers", str(args.random_layers)]
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "OMP_NUM_THREADS": str(args.threads)}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{config} {shape} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def _summary(runs: list[dict]) -> tuple[float, float, float, float]:
    """Median step seconds, median tokens/s, the largest peak RSS and the largest step peak (MB) over the runs."""
    step = statistics.median(statistics.median(run["step_s"]) for run in runs)
    peak, step_peak = max(run["peak_rss_mb"] for run in runs), max(run["step_peak_mb"] for run in runs)
    return step, runs[0]["tokens_per_step"] / step, peak, step_peak


def _ratio(value: float, base: tuple | None, index: int) -> str:
    return f"{value / base[index]:7.3f}" if base else f"{'-':>7s}"


def print_speed_table(results: dict[tuple[str, str, str], list[dict]], quiet: bool, reason: str) -> None:
    """Per shape, checkpointing setting and configuration: tokens/s, peak RSS and step peak, absolute and as a
    ratio to TRL's DPO at the same shape and the same checkpointing setting."""
    print(f"\nmachine: {reason}")
    if not quiet:
        print("TIMINGS REFUSED: the machine was loaded; only peak memory is reported below.")
    header = f"{'shape':>8s} {'ckpt':>4s} {'config':>9s} {'tokens/s':>10s} {'x TRL':>7s}"
    print(header + f" {'peak MB':>9s} {'x TRL':>7s} {'step MB':>9s} {'x TRL':>7s}")
    for shape, recompute in dict.fromkeys((shape, recompute) for shape, recompute, _ in results):
        trl = results.get((shape, recompute, "trl"))
        base = _summary(trl) if trl else None
        for (row_shape, row_recompute, config), runs in results.items():
            if (row_shape, row_recompute) != (shape, recompute):
                continue
            _, rate, peak, step_peak = _summary(runs)
            rate_cells = f"{rate:10.1f} {_ratio(rate, base, 1)}" if quiet else f"{'refused':>10s} {'-':>7s}"
            print(
                f"{shape:>8s} {recompute:>4s} {config:>9s} {rate_cells} {peak:9.0f} {_ratio(peak, base, 2)}"
                f" {step_peak:9.0f} {_ratio(step_peak, base, 3)}"
            )
    print(
        "tokens/s: the real (unpadded) tokens of both rows of every pair in a step / median step time (--warmup "
        "first steps left out); the same tokens for every configuration;"
    )
    print("peak MB: the process's peak RSS (ru_maxrss), model loading included; each run in its own process.")
    print(
        "step MB: the peak RSS from the first step's start to the end (VmHWM reset there): loading left out."
    )
    print(
        "ckpt: gradient checkpointing (decoder activations recomputed in backward), the same in both libraries."
    )


def ratio_rows(results: dict[tuple[str, str, str], list[dict]], quiet: bool) -> list[dict]:
    """Per shape and checkpointing setting, the round-by-round ratios (:mod:`round_ratios`): each
    configuration against TRL and PLOT against plain DPO with the same head; tokens/s only when ``quiet``."""
    rows = []
    for shape, recompute in dict.fromkeys((shape, recompute) for shape, recompute, _ in results):
        configs = [c for (s, r, c) in results if (s, r) == (shape, recompute)]
        for top, bottom in comparisons(configs):
            for ratio in round_ratios(
                results[(shape, recompute, top)], results[(shape, recompute, bottom)], (top, bottom)
            ):
                if ratio.quantity == "tokens/s" and not quiet:
                    continue
                rows.append(
                    {"shape": shape, "checkpointing": recompute, **ratio.as_dict(), "line": ratio.line()}
                )
    return rows


def print_ratio_rows(rows: list[dict]) -> None:
    print("\nratios over rounds (round i against round i; resolved when the half-range < |median - 1|):")
    for row in rows:
        print(f"{row['shape']:>8s} {row['checkpointing']:>4s} {row['line']}")


def markdown_table(results: dict[tuple[str, str, str], list[dict]], rows: list[dict], quiet: bool) -> str:
    """The speed table and the ratio verdicts as markdown (what ``--markdown`` writes)."""
    lines = [
        "| shape | ckpt | config | tokens/s | step peak MB | raw step s |",
        "|---|---|---|---:|---:|---|",
    ]
    for (shape, recompute, config), runs in results.items():
        _, rate, _, step_peak = _summary(runs)
        raw = ", ".join(f"{s:.3f}" for run in runs for s in run["step_s"])
        rate_cell = f"{rate:.1f}" if quiet else "refused"
        lines.append(f"| {shape} | {recompute} | {config} | {rate_cell} | {step_peak:,.0f} | {raw} |")
    lines += ["", "| shape | ckpt | ratio | quantity | median | half-range | per round | verdict |"]
    lines.append("|---|---|---|---|---:|---:|---|---|")
    for row in rows:
        per_round = " ".join(f"{r:.3f}" for r in row["per_round"])
        lines.append(
            f"| {row['shape']} | {row['checkpointing']} | {row['numerator']} / {row['denominator']} | "
            f"{row['quantity']} | {row['median']:.3f} | {row['half_range']:.3f} | {per_round} | {row['verdict']} |"
        )
    return "\n".join(lines) + "\n"
