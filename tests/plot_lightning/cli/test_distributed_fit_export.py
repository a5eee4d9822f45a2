"""``plot-lightning fit`` with 2 processes (configs/fsdp.yaml, configs/fsdp2.yaml on the tiny model, CPU/gloo):
the run finishes (MLflow logging happens on rank 0 only, without collectives), writes a sharded checkpoint
folder, and ``plot-lightning export`` consolidates it into a Hugging Face folder holding the trained policy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[3]
DROP = ("MASTER_ADDR", "MASTER_PORT", "RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "MLFLOW_TRACKING_URI")


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROP and not k.startswith(("LT_", "PL_"))}
    return env | {"OMP_NUM_THREADS": "1"}


@pytest.mark.slow
@pytest.mark.multiprocess
@pytest.mark.parametrize("config", ["fsdp", "fsdp2"])
def test_two_process_fit_then_export(config: str, tmp_path) -> None:
    from mlflow.tracking import MlflowClient
    from transformers import AutoModelForCausalLM

    from plot_lightning.export import load_checkpoint, policy_state_dict
    from plot_lightning.models.loading import load_causal_lm
    from plot_lightning.tracking import default_tracking_uri

    run = tmp_path / "run"
    fit = [
        sys.executable, "-m", "plot_lightning", "fit", "--config", str(REPO / "configs" / f"{config}.yaml"),
        "--model.model", "tiny", "--model.optimizer.init_args.lr", "1e-3", "--data.max_length", "96",
        "--data.max_prompt_length", "48", "--trainer.accelerator", "cpu", "--trainer.max_steps", "2",
        "--trainer.val_check_interval", "2", "--trainer.limit_val_batches", "1",
        "--trainer.enable_progress_bar", "false", "--trainer.log_every_n_steps", "1",
        "--trainer.default_root_dir", str(run),
    ]  # fmt: skip
    result = subprocess.run(fit, cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, timeout=540)
    assert result.returncode == 0, result.stderr[-4000:]
    checkpoint = run / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"
    assert checkpoint.is_dir() and (checkpoint / ".metadata").is_file()  # sharded, not a single file

    export = [sys.executable, "-m", "plot_lightning", "export", "--ckpt_path", str(checkpoint)]
    export += ["--output_dir", str(tmp_path / "export")]
    result = subprocess.run(export, env=_clean_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]

    exported = dict(AutoModelForCausalLM.from_pretrained(tmp_path / "export").named_parameters())
    trained = policy_state_dict(load_checkpoint(checkpoint)["state_dict"])
    initial = dict(load_causal_lm("tiny").named_parameters())
    for name, parameter in exported.items():
        torch.testing.assert_close(parameter, trained[name], rtol=0, atol=0)
    assert any(not torch.equal(exported[name], initial[name]) for name in exported)  # it trained

    client = MlflowClient(default_tracking_uri(run))
    (mlflow_run,) = client.search_runs(
        [client.get_experiment_by_name(f"plot-lightning-{config}").experiment_id]
    )
    metrics = mlflow_run.data.metrics
    assert mlflow_run.info.status == "FINISHED", sorted(metrics)
    assert "train/loss_step" in metrics and "val/loss" in metrics, sorted(metrics)
