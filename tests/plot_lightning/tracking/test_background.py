"""The background MLflow logger on a real SQLite store: FINISHED / FAILED / KILLED, distinct default names,
a reopened run continues; ``tracking sync`` delivers a CSV log's missing values once."""

from __future__ import annotations

import pytest
from lightning.pytorch.loggers import CSVLogger
from mlflow.tracking import MlflowClient

from plot_lightning.tracking import TrackingSettings, build_loggers, default_tracking_uri
from plot_lightning.tracking.background import BackgroundMLflowLogger
from plot_lightning.tracking.run_record import read_run_record
from plot_lightning.tracking.sync import sync_run


def _logger(root, **kwargs) -> BackgroundMLflowLogger:
    return BackgroundMLflowLogger(default_tracking_uri(root), "statuses", **kwargs)


def _finalize_in(logger: BackgroundMLflowLogger, error: BaseException | None) -> None:
    if error is None:
        logger.finalize("success")
        return
    try:
        raise error
    except BaseException:  # Lightning calls finalize("failed") inside its except block
        logger.finalize("failed")


@pytest.mark.slow
def test_runs_end_finished_failed_or_killed_and_a_reopened_run_continues(tmp_path) -> None:
    client = MlflowClient(default_tracking_uri(tmp_path))
    statuses = {}
    for error, expected in (
        (None, "FINISHED"),
        (ValueError("bad"), "FAILED"),
        (KeyboardInterrupt(), "KILLED"),
    ):
        logger = _logger(tmp_path)
        logger.log_metrics({"loss": 1.0}, step=0)
        _finalize_in(logger, error)
        statuses[logger.run_id] = expected
        assert logger.undelivered == 0
    assert {run_id: client.get_run(run_id).info.status for run_id in statuses} == statuses
    killed = next(run_id for run_id, status in statuses.items() if status == "KILLED")
    reopened = _logger(tmp_path, run_id=killed)
    reopened.log_metrics({"loss": 0.5}, step=1)
    reopened.finalize("success")
    assert [(m.step, m.value) for m in client.get_metric_history(killed, "loss")] == [(0, 1.0), (1, 0.5)]
    assert client.get_run(killed).info.status == "FINISHED"


def test_default_run_names_are_distinct_with_the_same_seed(tmp_path) -> None:
    import lightning.pytorch as pl

    from plot_lightning.tracking import default_run_name

    names = []
    for _ in range(2):
        pl.seed_everything(0)  # MLflow's own names come from the seeded `random`: identical before
        names.append(default_run_name("exp"))
    assert names[0] != names[1] and all(name.startswith("exp-") for name in names)


@pytest.mark.slow
def test_sync_adds_what_mlflow_missed_once_and_marks_a_dead_run_killed(tmp_path) -> None:
    loggers = build_loggers(TrackingSettings(experiment="sync"), tmp_path)
    csv_logger, mlflow_logger = loggers
    assert isinstance(csv_logger, CSVLogger)
    for step in range(4):
        csv_logger.log_metrics({"train/loss": 1.0 / (step + 1)}, step=step)
        if step < 2:  # MLflow "missed" steps 2 and 3
            mlflow_logger.log_metrics({"train/loss": 1.0 / (step + 1)}, step=step)
    csv_logger.save()
    mlflow_logger._closing.set()  # the process "dies": no FINISHED status is sent
    mlflow_logger._queue.put(None)
    mlflow_logger._thread.join(timeout=120)
    version = csv_logger.log_dir
    run_id = read_run_record(version).run_id
    report = sync_run(version)
    client = MlflowClient(default_tracking_uri(tmp_path))
    history = sorted((m.step, m.value) for m in client.get_metric_history(run_id, "train/loss"))
    assert history == [(step, 1.0 / (step + 1)) for step in range(4)]
    assert (report.run_id, report.added, report.status_set) == (run_id, 2, "KILLED")
    assert client.get_run(run_id).info.status == "KILLED"
    assert sync_run(version).added == 0


def test_a_record_that_cannot_be_written_warns_once_and_never_stops_the_run(tmp_path) -> None:
    """The version folder cannot hold mlflow_run.json (here a file is in its way): logging goes on."""
    import socket
    import warnings

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        uri = f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens: no MLflow call succeeds
    blocked = tmp_path / "version_0"
    blocked.write_text("in the way\n")
    logger = BackgroundMLflowLogger(uri, "blocked", flush_timeout_s=1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logger.record_run_in(blocked)
        logger.log_params({"a": "1"})
        logger.set_tags({"b": "2"})
        logger.finalize("success")
    messages = [str(w.message) for w in caught if "mlflow_run.json" in str(w.message)]
    assert len(messages) == 1 and str(blocked) in messages[0]
