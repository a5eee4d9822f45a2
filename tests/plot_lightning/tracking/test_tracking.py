"""Tracking: CSV first then MLflow on a SQLite store; the config lands in the run; a dead server warns once."""

from __future__ import annotations

import socket
import warnings

import pytest
from lightning.pytorch.loggers import CSVLogger

from plot_lightning import tracking
from plot_lightning.tracking.background import BackgroundMLflowLogger


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def test_default_uri_is_an_absolute_sqlite_path(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    uri = tracking.default_tracking_uri("runs")
    assert uri == f"sqlite:///{tmp_path.resolve()}/runs/mlflow.db"
    assert uri.startswith("sqlite:////")  # absolute: never relative to a later working directory


def test_local_stores_count_as_reachable_and_a_closed_port_does_not() -> None:
    assert tracking.server_reachable("sqlite:////tmp/x.db", 1.0) == (True, "")
    reachable, reason = tracking.server_reachable(f"http://127.0.0.1:{_closed_port()}", 1.0)
    assert not reachable and reason


def test_mlflow_can_be_switched_off(tmp_path) -> None:
    loggers = tracking.build_loggers(tracking.TrackingSettings(mlflow=False), tmp_path)
    assert [type(logger) for logger in loggers] == [CSVLogger]


def test_unreachable_server_warns_once_and_queues_for_it(tmp_path) -> None:
    settings = tracking.TrackingSettings(uri=f"http://127.0.0.1:{_closed_port()}", timeout_s=1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = tracking.build_loggers(settings, tmp_path)
        second = tracking.build_loggers(settings, tmp_path)
        for loggers in (first, second):
            loggers[1]._flush_timeout_s = 1.0
            loggers[1].finalize("success")
    types = [CSVLogger, BackgroundMLflowLogger]
    assert [type(logger) for logger in first] == types == [type(logger) for logger in second]
    messages = [str(w.message) for w in caught if "tracking server" in str(w.message)]
    assert len(messages) == 1
    assert settings.uri in messages[0] and "CSV" in messages[0]


@pytest.mark.slow
def test_csv_then_mlflow_and_the_config_is_attached_to_the_run(tmp_path, monkeypatch) -> None:
    """CSV logger first (it owns log_dir), then MLflow on ``sqlite:///<root>/mlflow.db``. The config lands in
    the run as params ``config.<dotted key>``, artifact ``config.yaml`` and tags; read back with MlflowClient."""
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    settings = tracking.TrackingSettings(experiment="tracking-test", run_name="t1")
    loggers = tracking.build_loggers(settings, tmp_path)
    assert [type(logger) for logger in loggers] == [CSVLogger, BackgroundMLflowLogger]
    assert loggers[0].save_dir == str(tmp_path.resolve())
    config = {"model": {"losses": ["dpo", "plot"], "loss_args": {"dpo": {"beta": 0.1}}}, "seed": 0}
    tracking.log_run_config(loggers, "model:\n  losses: [dpo, plot]\n", config, log_dir="/some/dir")
    loggers[1].finalize("success")  # waits for the background thread to deliver everything
    run_id = loggers[1].run_id
    client = MlflowClient(tracking.default_tracking_uri(tmp_path))
    run = client.get_run(run_id)
    assert run.data.params["config.model.losses"] == "['dpo', 'plot']"
    assert run.data.params["config.model.loss_args.dpo.beta"] == "0.1"
    assert run.data.tags["log_dir"] == "/some/dir"
    artifact = client.download_artifacts(run_id, "config.yaml", str(tmp_path / "download"))
    assert "losses: [dpo, plot]" in open(artifact).read()
    assert str((tmp_path / "mlartifacts").resolve()) in run.info.artifact_uri
    description = tracking.describe_mlflow_run(loggers)
    assert run_id in description and "mlflow ui --backend-store-uri sqlite:///" in description
