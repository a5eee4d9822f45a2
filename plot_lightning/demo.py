"""The demo (the README's first command and its "What the demo does and prints"): prepare SmolLM2, train
``configs/demo.yaml``, export, measure the held-out change and, when the eval package is installed, evaluate
in a subprocess (``plot_lightning`` never imports ``eval``).
"""

from __future__ import annotations

import gc
import importlib.util
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_CONFIG = REPO_ROOT / "configs" / "demo.yaml"
QUICK_SUITE = REPO_ROOT / "configs" / "eval" / "quick.yaml"


def _peak_rss_gib() -> float:
    """Peak resident memory of this process and its finished children, GiB (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 2**20


def train(
    out_dir: Path, steps: int | None, overrides: tuple[str, ...] = ()
) -> tuple[Path, Path, str | None, str]:
    """Run ``fit`` with the demo config (and ``overrides``, CLI arguments such as ``--model.model tiny``);
    return (checkpoint, resolved config.yaml, MLflow run, speed line)."""
    from lightning.pytorch.callbacks import Timer

    from plot_lightning.cli.lightning_cli import PLOTLightningCLI
    from plot_lightning.tracking import describe_mlflow_run

    if not DEMO_CONFIG.is_file():
        raise FileNotFoundError(f"demo config {DEMO_CONFIG} is missing (run the demo from a source checkout)")
    args = ["fit", "--config", str(DEMO_CONFIG), "--trainer.default_root_dir", str(out_dir)]
    if steps is not None:
        args += ["--trainer.max_steps", str(steps), "--trainer.val_check_interval", str(steps)]
    args += list(overrides)
    timer = Timer()
    with warnings.catch_warnings():
        # The demo hands the CLI its own arguments while sys.argv holds the demo's: intended, not a mistake.
        warnings.filterwarnings(
            "ignore", message="LightningCLI's args parameter is intended", category=UserWarning
        )
        cli = PLOTLightningCLI(args=args, trainer_defaults={"callbacks": [timer]})
    trainer = cli.trainer
    # Timer's "train" span includes the validation run inside fit: subtract it for the step rate.
    step_seconds = timer.time_elapsed("train") - timer.time_elapsed("validate")
    speed = f"{trainer.global_step} steps in {step_seconds:.0f} s ({trainer.global_step / step_seconds:.3f} steps/s)"
    checkpoint = trainer.checkpoint_callback.last_model_path if trainer.checkpoint_callback else ""
    if not checkpoint or not Path(checkpoint).exists():
        checkpoint = str(Path(trainer.log_dir) / "checkpoints" / "final.ckpt")
        trainer.save_checkpoint(checkpoint)
    return (
        Path(checkpoint),
        Path(trainer.log_dir) / "config.yaml",
        describe_mlflow_run(trainer.loggers),
        speed,
    )


def evaluate(export_dir: Path, baseline_dir: Path, out_dir: Path, tracking_uri: str) -> int | None:
    """Run the quick evaluation suite in a subprocess when the eval package is available; its return code."""
    if importlib.util.find_spec("plot_eval") is None or not QUICK_SUITE.is_file():
        print("evaluation skipped: the eval package (plot-eval) or configs/eval/quick.yaml is not available")
        return None
    command = [
        sys.executable, "-m", "plot_eval", "run", "--config", str(QUICK_SUITE), "--model", str(export_dir),
        "--baseline", str(baseline_dir), "--output-dir", str(out_dir / "eval"), "--tracking-uri", tracking_uri,
        "--experiment", "plot-lightning-demo-eval",
    ]  # fmt: skip
    print("$ " + " ".join(command), flush=True)
    return subprocess.run(command, check=False).returncode


def run_demo(
    *, steps: int | None = None, out_dir: str | Path = "runs/demo", evaluate_policy: bool = True
) -> Path:
    """Prepare, train, export (and evaluate); print where everything is. Returns the export folder."""
    from plot_lightning.demo_heldout import change_table, heldout_change
    from plot_lightning.export import export_checkpoint
    from plot_lightning.models.smollm2 import prepare_model
    from plot_lightning.tracking import default_tracking_uri

    out = Path(out_dir).resolve()
    timings: dict[str, float] = {}
    start = time.perf_counter()
    base_model = prepare_model()
    timings["prepare model"] = time.perf_counter() - start
    print(f"base model: {base_model}", flush=True)

    start = time.perf_counter()
    checkpoint, config, mlflow_run, speed = train(out, steps)
    timings["train"] = time.perf_counter() - start
    gc.collect()  # drop the trainer's models and optimizer state before export loads the checkpoint

    start = time.perf_counter()
    export_dir = out / "export"
    if export_dir.exists():
        import shutil

        shutil.rmtree(export_dir)  # the previous demo's export; the checkpoint is the source of truth
    export_checkpoint(checkpoint, export_dir, config_path=config)
    timings["export"] = time.perf_counter() - start

    start = time.perf_counter()
    change = heldout_change(base_model, export_dir, config)
    timings["held-out check"] = time.perf_counter() - start
    gc.collect()

    eval_code = None
    if evaluate_policy:
        start = time.perf_counter()
        eval_code = evaluate(export_dir, base_model, out, default_tracking_uri(out))
        timings["evaluate"] = time.perf_counter() - start

    print("\n=== plot-lightning demo: done ===")
    print(f"checkpoint : {checkpoint}")
    print(f"config     : {config}")
    print(f"export     : {export_dir}   (AutoModelForCausalLM.from_pretrained)")
    print(f"metrics    : {config.parent / 'metrics.csv'}")
    print(f"mlflow     : {mlflow_run or 'not logged (see the warning above)'}")
    if eval_code is not None:
        print(f"evaluation : {out / 'eval'} (exit code {eval_code}; its judged win rates use 1-2 prompts per "
              "set: a pipeline check, not evidence)")  # fmt: skip
    print(f"training   : {speed}")
    print("times      : " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items()))
    print(f"peak memory: {_peak_rss_gib():.2f} GiB (max RSS of this process / its children)")
    print("next       : does PLOT help? docs/results.md; from a checkout, .venv/bin/python -m experiments "
          "arithmetic-run --config configs/experiments/arithmetic.yaml (README 'Does PLOT help?')")  # fmt: skip
    print("\n" + change_table(change))
    return export_dir
