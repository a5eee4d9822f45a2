"""``tracking sync`` completes an MLflow run from its version folder: a run never created gets its name, tags,
params, config text, metrics and end state; a run that ended normally while MLflow missed it ends FINISHED."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from plot_lightning.tracking import TrackingSettings, build_loggers, log_run_config
from plot_lightning.tracking.sync import sync_run

LOSSES = [1.0, 0.5, 0.25]
CONFIG_YAML = "model:\n  losses: [dpo]\n"


def _run(root: Path, uri: str, finish=None) -> tuple[str, list[str]]:
    """A run on ``uri``: config, hyperparameters, three CSV + MLflow metric steps, then ``finish(logger)``
    (the moment a fault strikes) and a normal end. Returns (version folder, warnings)."""
    settings = TrackingSettings(uri=uri, experiment="sync", run_name="the-run", flush_timeout_s=1.0)
    loggers = build_loggers(settings, root)
    csv_logger, mlflow_logger = loggers
    log_run_config(loggers, CONFIG_YAML, {"model": {"losses": ["dpo"]}, "seed": 0})
    mlflow_logger.log_hyperparams({"beta": 0.1})
    for step, loss in enumerate(LOSSES):
        for logger in loggers:
            logger.log_metrics({"train/loss": loss}, step=step)
    csv_logger.save()
    if finish is not None:
        finish(mlflow_logger)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mlflow_logger.finalize("success")  # what Lightning calls when fit returns normally
    return csv_logger.log_dir, [str(w.message) for w in caught]


def _record(version: str) -> dict:
    """The version folder's ``mlflow_run.json``, read as plain JSON."""
    return json.loads((Path(version) / "mlflow_run.json").read_text(encoding="utf-8"))


def _cli_sync(version: str, *options: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    command = [sys.executable, "-m", "plot_lightning", "tracking", "sync", version, *options]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
@pytest.mark.parametrize("with_uri", [False, True], ids=["the warning's command", "with --uri"])
def test_sync_creates_a_never_created_run_with_its_params_metrics_and_end_state(tmp_path, with_uri) -> None:
    """The store cannot be opened while the run trains (its folder is a file), as a server too slow at the
    start: the run is never created. The warning's own command (or with ``--uri``) then creates it whole."""
    blocker = tmp_path / "store"
    blocker.write_text("a file where the store's folder goes\n")
    uri = f"sqlite:///{blocker}/mlflow.db"
    version, messages = _run(tmp_path / "run", uri)
    assert any(f"plot-lightning tracking sync {version}" in message for message in messages), messages
    blocker.unlink()  # the store is reachable now
    result = _cli_sync(version, *(["--uri", uri] if with_uri else []))
    assert result.returncode == 0, result.stderr[-3000:]
    run_id = _record(version)["run_id"]
    client = MlflowClient(uri)
    run = client.get_run(run_id)
    assert (run.info.run_name, run.info.status) == ("the-run", "FINISHED")
    assert run.data.params == {"config.model.losses": "['dpo']", "config.seed": "0", "beta": "0.1"}
    assert run.data.tags["plot_lightning.log_root"] == str((tmp_path / "run").resolve())
    assert [(m.step, m.value) for m in client.get_metric_history(run_id, "train/loss")] == list(
        enumerate(LOSSES)
    )
    artifact = client.download_artifacts(run_id, "config.yaml", str(tmp_path / "download"))
    assert Path(artifact).read_text() == CONFIG_YAML
    assert sync_run(version).added == 0 and client.get_run(run_id).data.params == run.data.params


def _fill(folder: Path) -> None:
    """Write until the disk is full (ENOSPC): every later write there fails."""
    with open(folder / "filler", "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass


@pytest.mark.slow
def test_a_run_that_ended_normally_is_synced_finished_not_killed(small_disk) -> None:
    """The disk holding the store fills before the run ends: MLflow never gets FINISHED and shows RUNNING.
    The record keeps the end state the process reached; sync sets that one."""
    disk = small_disk("8m")
    uri = f"sqlite:///{disk}/mlflow.db"

    def fill_once_delivered(logger) -> None:
        deadline = time.monotonic() + 120
        while logger.run_id is None and time.monotonic() < deadline:  # the store and the run exist
            pass
        client = MlflowClient(uri)
        while len(client.get_metric_history(logger.run_id, "train/loss")) < len(LOSSES):  # all delivered
            assert time.monotonic() < deadline
            time.sleep(0.2)
        _fill(disk)

    version, _ = _run(disk.parent / "run", uri, finish=fill_once_delivered)
    run_id = _record(version)["run_id"]
    assert MlflowClient(uri).get_run(run_id).info.status == "RUNNING"  # the end state never arrived
    (disk / "filler").unlink()
    report = sync_run(version)
    assert report.status_set == "FINISHED" == MlflowClient(uri).get_run(run_id).info.status
    assert _record(version)["status"] == "FINISHED"


def test_a_folder_sync_cannot_use_is_one_line_and_exit_status_2(tmp_path, capsys) -> None:
    from plot_lightning.cli.main import main

    (tmp_path / "metrics.csv").write_text("step,train/loss\n0,1.0\n", encoding="utf-8")
    for folder, cause in (
        (tmp_path / "nothing", "no metrics.csv"),
        (tmp_path, "no mlflow_run.json and no --uri"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(["tracking", "sync", str(folder)])
        err = capsys.readouterr().err
        assert exit_info.value.code == 2 and err.count("\n") == 1
        assert err.startswith(f"plot-lightning tracking: error: {folder}") and cause in err
