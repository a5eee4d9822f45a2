"""Steps/s and peak memory (max RSS over ranks) of DPO vs DPO+PLOT under single, DDP, FSDP1 and FSDP2 on CPU.

    .venv/bin/python benchmarks/strategies_cpu.py [--model tiny] [--steps 12] [--global-batch 4]

Each cell is one fresh run of ``tests/plot_lightning/multiprocess/train_strategy.py`` (the script the
multi-process tests launch), 2 gloo processes for the distributed strategies, in a clean environment. The
rate leaves out the first step; every process runs one intra-op thread. Numbers depend on the machine's load; rerun on an idle machine to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "plot_lightning" / "multiprocess" / "train_strategy.py"
LOSSES = {"dpo": ("dpo", "1"), "dpo+plot": ("dpo,plot", "1,0.1")}
STRATEGIES = ("single", "ddp", "fsdp1", "fsdp2")


def clean_env(hf_home: Path) -> dict[str, str]:
    dropped = ("MASTER_ADDR", "MASTER_PORT", "RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK")
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith(("LT_", "PL_"))}
    # One intra-op thread per process (what Lightning's DDP sets on CPU): single uses 1 core, 2 ranks use 2.
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(hf_home), OMP_NUM_THREADS="1")
    return env


def run(strategy: str, loss: str, args: argparse.Namespace, work: Path) -> dict:
    names, weights = LOSSES[loss]
    out = work / f"{strategy}-{loss}.json"
    command = [sys.executable, str(SCRIPT), "--strategy", strategy, "--data", str(work / "pairs.jsonl")]
    command += ["--out", str(out), "--losses", names, "--weights", weights, "--steps", str(args.steps)]
    command += ["--global-batch", str(args.global_batch), "--model", args.model, "--lr", "0.01"]
    done = subprocess.run(command, env=clean_env(work / "hf"), capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{strategy}/{loss} failed:\n{done.stderr[-4000:]}")
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--global-batch", type=int, default=4)
    args = parser.parse_args()
    sys.path.insert(0, str(SCRIPT.parent))
    from train_strategy import write_pairs

    with tempfile.TemporaryDirectory(prefix="plot-bench-") as folder:
        work = Path(folder)
        write_pairs(work / "pairs.jsonl", count=args.global_batch * args.steps)
        print(
            f"model={args.model} steps={args.steps} global_batch={args.global_batch} (pairs) cpu={os.cpu_count()}"
        )
        print(f"| {'strategy':<8} | {'loss':<8} | {'steps/s':>8} | {'peak RSS MiB':>12} |")
        print(f"|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 14}|")
        for strategy in STRATEGIES:
            for loss in LOSSES:
                result = run(strategy, loss, args, work)
                rate, rss = result["steps_per_s"], result["peak_rss_mb"]
                print(f"| {strategy:<8} | {loss:<8} | {rate:>8.2f} | {rss:>12.0f} |", flush=True)


if __name__ == "__main__":
    main()
