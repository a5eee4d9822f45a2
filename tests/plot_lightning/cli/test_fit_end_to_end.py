"""``plot-lightning fit`` on configs/tiny.yaml for real: checkpoints, CSV metrics, the MLflow run (SQLite store,
read back with MlflowClient), export of the trained policy; and the fallback when the tracking server is down."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[3]
TINY = REPO / "configs" / "tiny.yaml"
DROP = ("MASTER_ADDR", "MASTER_PORT", "RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "MLFLOW_TRACKING_URI")


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in DROP and not k.startswith(("LT_", "PL_"))}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _only_version_dir(root: Path) -> Path:
    versions = sorted((root / "lightning_logs").glob("version_*"))
    assert len(versions) == 1, versions
    return versions[0]


@pytest.mark.slow
def test_fit_writes_checkpoint_csv_and_mlflow_run_then_exports(tmp_path) -> None:
    from mlflow.tracking import MlflowClient
    from transformers import AutoModelForCausalLM

    from plot_lightning.export import export_checkpoint, policy_state_dict
    from plot_lightning.module import PLOTModule
    from plot_lightning.tracking import default_tracking_uri

    # 3 steps, checkpoints every 2 (tiny.yaml): the run ends between two periodic checkpoints.
    command = [
        sys.executable, "-m", "plot_lightning", "fit", "--config", str(TINY), "--trainer.max_steps", "3",
        "--trainer.val_check_interval", "2", "--trainer.default_root_dir", str(tmp_path / "run"),
        "--tracking.run_name", "e2e",
    ]  # fmt: skip
    result = subprocess.run(
        command, cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, timeout=540, check=False
    )
    assert result.returncode == 0, result.stderr[-4000:]
    version = _only_version_dir(tmp_path / "run")

    checkpoints = {path.name for path in (version / "checkpoints").iterdir()}
    assert "last.ckpt" in checkpoints and "epoch=0-step=2.ckpt" in checkpoints
    with open(version / "metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    train_losses = [float(row["train/loss_step"]) for row in rows if row.get("train/loss_step")]
    assert len(train_losses) == 3 and all(torch.isfinite(torch.tensor(train_losses)))
    assert any(row.get("val/loss") for row in rows)
    assert "model: tiny" in (version / "config.yaml").read_text()

    client = MlflowClient(default_tracking_uri(tmp_path / "run"))
    experiment = client.get_experiment_by_name("plot-lightning-tiny")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "e2e" and run.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train/loss_step")] == [0, 1, 2]
    assert run.data.params["config.model.model"] == "tiny" and run.data.params["losses"] == "['dpo', 'plot']"
    artifact = client.download_artifacts(run.info.run_id, "config.yaml", str(tmp_path / "download"))
    assert "model: tiny" in Path(artifact).read_text()
    assert run.data.tags["log_dir"] == str(version)

    folder = export_checkpoint(version / "checkpoints" / "last.ckpt", tmp_path / "export")
    assert json.loads((folder / "plot_export.json").read_text())["global_step"] == 3  # the final weights
    module = PLOTModule(model="tiny", losses=["dpo", "plot"], weights=[1.0, 0.1])
    module.configure_model()
    trained = torch.load(version / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    module.policy.load_state_dict(policy_state_dict(trained))
    ids = torch.tensor([[1, 30, 60, 90, 2]])
    exported = AutoModelForCausalLM.from_pretrained(folder).eval()
    with torch.no_grad():
        torch.testing.assert_close(exported(ids).logits, module.policy.eval()(ids).logits, rtol=0, atol=0)


@pytest.mark.slow
def test_unreachable_tracking_server_trains_with_csv_and_warns_once(tmp_path, monkeypatch) -> None:
    from plot_lightning.cli.lightning_cli import PLOTLightningCLI

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = f"http://127.0.0.1:{_closed_port()}"
    args = [
        "fit", "--config", str(TINY), "--trainer.max_steps", "1", "--trainer.limit_val_batches", "0",
        "--trainer.default_root_dir", str(tmp_path / "run"), "--tracking.uri", uri, "--tracking.timeout_s", "2",
        "--trainer.enable_progress_bar", "false",
    ]  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cli = PLOTLightningCLI(args=args)
    assert cli.trainer.global_step == 1
    unreachable = [str(w.message) for w in caught if "tracking server" in str(w.message)]
    assert len(unreachable) == 1 and uri in unreachable[0]
    version = _only_version_dir(tmp_path / "run")
    assert (version / "metrics.csv").is_file() and (version / "checkpoints" / "last.ckpt").is_file()
    assert not (tmp_path / "run" / "mlflow.db").exists() and not (tmp_path / "mlflow.db").exists()
