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

SCRIPT = Path(__file__).with_name("vs_trl.py")


def run_child(args, config: str, shape: str) -> dict:
    command = [sys.executable, str(SCRIPT), "one", "--config", config, "--shape", shape]
    command += ["--model", args.model, "--steps", str(args.steps), "--lr", str(args.lr)]
    command += ["--threads", str(args.threads), "--work-dir", args.work_dir, "--warmup", str(args.warmup)]
    command += ["--random-layers", str(args.random_layers)]
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "OMP_NUM_THREADS": str(args.threads)}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{config} {shape} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def _summary(runs: list[dict]) -> tuple[float, float, float]:
    """Median step seconds, median tokens/s and the largest peak RSS (MB) over the runs."""
    step = statistics.median(statistics.median(run["step_s"]) for run in runs)
    return step, runs[0]["tokens_per_step"] / step, max(run["peak_rss_mb"] for run in runs)


def print_speed_table(results: dict[tuple[str, str], list[dict]], quiet: bool, reason: str) -> None:
    """Per shape and configuration: tokens/s and peak memory, absolute and as a ratio to TRL's DPO."""
    print(f"\nmachine: {reason}")
    if not quiet:
        print("TIMINGS REFUSED: the machine was loaded; only peak memory is reported below.")
    print(f"{'shape':>8s} {'config':>9s} {'tokens/s':>10s} {'x TRL':>7s} {'peak MB':>9s} {'x TRL':>7s}")
    for shape in dict.fromkeys(shape for shape, _ in results):
        base = _summary(results[(shape, "trl")]) if (shape, "trl") in results else None
        for (row_shape, config), runs in results.items():
            if row_shape != shape:
                continue
            _, rate, peak = _summary(runs)
            rate_cells = (
                f"{rate:10.1f} {rate / base[1]:7.3f}" if quiet and base else f"{'refused':>10s} {'-':>7s}"
            )
            peak_ratio = f"{peak / base[2]:7.3f}" if base else f"{'-':>7s}"
            print(f"{shape:>8s} {config:>9s} {rate_cells} {peak:9.0f} {peak_ratio}")
    print(
        "tokens/s: all 2 x pairs x seq-len tokens of a step / median step time (--warmup first steps left out);"
    )
    print("peak MB: the process's peak RSS (ru_maxrss), model loading included; each run in its own process.")
