"""FSDP1 vs FSDP2, DPO vs DPO+PLOT (dirac), through the real CLI: median step time and peak memory per run.

    .venv/bin/python benchmarks/fsdp_gpu.py                  # CUDA: SmolLM2-135M, bf16-true, all GPUs, 6 steps
    .venv/bin/python benchmarks/fsdp_gpu.py --steps 4        # no GPU: tiny model, fp32, 2 gloo processes
    options: --strategies fsdp1,fsdp2  --losses dpo,dpo+plot  --model  --devices  --precision  --json out.json

Each cell is one fresh ``python -m plot_lightning fit --config configs/fsdp.yaml|fsdp2.yaml`` (Lightning starts
the ranks) in a clean environment, with the model, devices, precision and steps overridden, no validation,
no checkpoints, no MLflow (CSV only), outputs in a temporary folder. ``benchmarks/fsdp_gpu_callback.py``
times every step (CUDA synchronized) and records peak memory per rank: CUDA ``max_memory_allocated`` since
training started, or max RSS on CPU; the table shows the max over ranks and the median step time leaving out
the first 2 steps (the slowest rank per step). With one GPU the run has 1 process: sharding is trivial.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
CONFIGS = {"fsdp1": "configs/fsdp.yaml", "fsdp2": "configs/fsdp2.yaml"}
LOSSES = {
    "dpo": ("[dpo]", "[1.0]", {"dpo": {"beta": 0.1}}),
    "dpo+plot": (
        "[dpo, plot]",
        "[1.0, 0.1]",
        {"dpo": {"beta": 0.1}, "plot": {"variant": "dirac", "cost": "cosine"}},
    ),
}
WARMUP_STEPS = 2  # left out of the median step time
DTYPES = {"bf16-true": "bfloat16", "16-true": "float16", "32-true": "float32"}  # else the model stays fp32


HEADER = (
    "strategy",
    "losses",
    "device",
    "precision",
    "world",
    "steps",
    "median step s",
    "steps/s",
    "peak GiB",
)
WIDTHS = tuple(max(len(name), 8) for name in HEADER)  # 8 fits 'dpo+plot'


def table_row(cells: tuple) -> str:
    """Text left-aligned, numbers (the last 3 columns) right-aligned."""
    padded = [
        f"{c!s:>{w}}" if i >= 6 else f"{c!s:<{w}}"
        for i, (c, w) in enumerate(zip(cells, WIDTHS, strict=False))
    ]
    return "| " + " | ".join(padded) + " |"


def clean_env(work: Path, cpu: bool) -> dict[str, str]:
    dropped = ("MASTER_ADDR", "MASTER_PORT", "RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK")
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith(("LT_", "PL_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(work / "hf"))
    if cpu:  # one intra-op thread per rank, as in strategies_cpu.py
        env["OMP_NUM_THREADS"] = "1"
    return env


def command(strategy: str, loss: str, args: argparse.Namespace, out_dir: Path, root_dir: Path) -> list[str]:
    names, weights, loss_args = LOSSES[loss]
    callbacks = [{"class_path": "fsdp_gpu_callback.StepTimer", "init_args": {"out_dir": str(out_dir)}}]
    cmd = [sys.executable, "-m", "plot_lightning", "fit", "--config", CONFIGS[strategy]]
    cmd += [f"--trainer.accelerator={args.accelerator}", f"--trainer.devices={args.devices}"]
    if strategy == "fsdp2":
        cmd += [f"--trainer.strategy.init_args.data_parallel_size={args.devices}"]
    cmd += [f"--trainer.precision={args.precision}", f"--model.model_dtype={args.model_dtype}"]
    cmd += [
        f"--trainer.max_steps={args.steps}",
        "--trainer.limit_val_batches=0",
        "--trainer.val_check_interval=1.0",
    ]
    cmd += [f"--trainer.default_root_dir={root_dir}", "--trainer.enable_checkpointing=false"]
    cmd += [f"--trainer.callbacks={json.dumps(callbacks)}", "--trainer.enable_progress_bar=false"]
    cmd += [f"--model.model={args.model}", f"--model.losses={names}", f"--model.weights={weights}"]
    cmd += [f"--model.loss_args={json.dumps(loss_args)}", "--tracking.mlflow=false"]
    if args.batch_size:
        cmd += [f"--data.batch_size={args.batch_size}"]
    return cmd


def run(strategy: str, loss: str, args: argparse.Namespace, work: Path) -> dict:
    """One CLI run; returns the row, or raises RuntimeError with the stderr tail."""
    tag = f"{strategy}-{loss.replace('+', '_')}"
    out_dir, root_dir = work / tag / "timer", work / tag / "run"
    cmd = command(strategy, loss, args, out_dir, root_dir)
    env = clean_env(work, args.accelerator == "cpu")
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True, **pipes)  # own process group
    try:
        output, _ = process.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the ranks Lightning started are in the same session
        output, _ = process.communicate()
        output += f"\n[timed out after {args.timeout}s]"
    ranks = [json.loads(path.read_text()) for path in sorted(out_dir.glob("rank*.json"))]
    if process.returncode or not ranks or len(ranks) != ranks[0]["world_size"]:
        tail = "\n".join(output.splitlines()[-40:])
        raise RuntimeError(
            f"{strategy}/{loss} failed (exit {process.returncode}):\n{shlex.join(cmd)}\n{tail}"
        )
    per_step = [max(times) for times in zip(*(rank["step_s"] for rank in ranks), strict=False)]
    timed = per_step[WARMUP_STEPS:] or per_step
    median = statistics.median(timed)
    return {
        "strategy": strategy,
        "losses": loss,
        "device": ranks[0]["device"],
        "device_name": ranks[0]["device_name"],
        "precision": ranks[0]["precision"],
        "world_size": ranks[0]["world_size"],
        "steps": ranks[0]["steps"],
        "median_step_s": median,
        "steps_per_s": 1.0 / median,
        "peak_gib": max(rank["peak_bytes"] for rank in ranks) / 2**30,
        "step_s": per_step,
    }


def versions() -> str:
    import lightning
    import torch
    import transformers

    cuda = f"CUDA {torch.version.cuda}" if torch.version.cuda else "no CUDA build"
    return f"torch {torch.__version__} ({cuda}), lightning {lightning.__version__}, transformers {transformers.__version__}"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", default="fsdp1,fsdp2", help="comma-separated: fsdp1, fsdp2")
    parser.add_argument("--losses", default="dpo,dpo+plot", help="comma-separated: dpo, dpo+plot")
    parser.add_argument("--steps", type=int, default=6, help="training steps per run (first 2 not timed)")
    parser.add_argument("--model", default=None, help="default: smollm2-135m-instruct on CUDA, tiny on CPU")
    parser.add_argument("--devices", type=int, default=None, help="default: every visible GPU, or 2 on CPU")
    parser.add_argument("--precision", default=None, help="default: bf16-true on CUDA, 32-true on CPU")
    parser.add_argument("--batch-size", type=int, default=None, help="pairs per rank and step (config: 2)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per run before it is killed")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args()
    import torch

    cuda = torch.cuda.is_available()
    args.accelerator = "cuda" if cuda else "cpu"
    args.model = args.model or ("smollm2-135m-instruct" if cuda else "tiny")
    args.devices = args.devices or (torch.cuda.device_count() if cuda else 2)
    args.precision = args.precision or ("bf16-true" if cuda else "32-true")
    args.model_dtype = DTYPES.get(args.precision, "float32")
    args.strategies, args.losses = args.strategies.split(","), args.losses.split(",")
    unknown = [s for s in args.strategies if s not in CONFIGS] + [x for x in args.losses if x not in LOSSES]
    if unknown:
        parser.error(f"unknown strategies/losses {unknown}; choose from {list(CONFIGS)} and {list(LOSSES)}")
    return args


def main() -> int:
    args = parse_args()
    if args.model == "smollm2-135m-instruct":  # convert once here, not in every rank at the same time
        from plot_lightning.models.smollm2 import smollm2_folder

        smollm2_folder()
    print(versions())
    print(
        f"model={args.model} accelerator={args.accelerator} devices={args.devices} precision={args.precision} "
        f"model_dtype={args.model_dtype} steps={args.steps} (median over steps {WARMUP_STEPS + 1}..{args.steps}) "
        f"batch={args.batch_size or 'config (2)'} pairs/rank, max_length=config (512) cpus={os.cpu_count()}"
    )
    if args.devices == 1:
        print("note: 1 process, so FSDP sharding is trivial (no communication, no memory saving)")
    print(table_row(HEADER))
    print("|" + "|".join("-" * (width + 2) for width in WIDTHS) + "|", flush=True)
    rows, failures = [], []
    with tempfile.TemporaryDirectory(prefix="plot-fsdp-bench-") as folder:
        for strategy in args.strategies:
            for loss in args.losses:
                try:
                    row = run(strategy, loss, args, Path(folder))
                except RuntimeError as error:
                    failures.append(str(error))
                    print(table_row((strategy, loss, "FAILED")), flush=True)
                    continue
                rows.append(row)
                cells = (strategy, loss, row["device"], row["precision"], row["world_size"], row["steps"])
                numbers = (
                    f"{row['median_step_s']:.3f}",
                    f"{row['steps_per_s']:.2f}",
                    f"{row['peak_gib']:.3f}",
                )
                print(table_row(cells + numbers), flush=True)
    if rows:
        print(f"device: {rows[0]['device_name']}")
    for strategy in args.strategies:
        both = {row["losses"]: row for row in rows if row["strategy"] == strategy}
        if {"dpo", "dpo+plot"} <= set(both):
            plot, dpo = both["dpo+plot"], both["dpo"]
            print(
                f"{strategy}: DPO+PLOT / DPO  step time x{plot['median_step_s'] / dpo['median_step_s']:.3f}, "
                f"peak memory x{plot['peak_gib'] / dpo['peak_gib']:.3f}"
            )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"versions": versions(), "settings": vars(args), "rows": rows}, indent=1)
        )
    for failure in failures:
        print(f"\n{failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
