"""Experiment tracking: the loggers a training run gets, and what is recorded with each MLflow run.

Every run logs to CSV (``<root>/lightning_logs/version_N/metrics.csv``, always available) and to MLflow. The
default MLflow store is a SQLite database next to the run, ``sqlite:///<root>/mlflow.db``, with artifacts in
``<root>/mlartifacts`` (MLflow 3 refuses the old ``file:`` store). ``MLFLOW_TRACKING_URI`` or
``--tracking.uri http://host:5000`` point at a tracking server instead; when that server does not answer,
training goes on with CSV only and says so once.

This is the only module of ``plot_lightning`` that talks to MLflow.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger, Logger, MLFlowLogger
from lightning.pytorch.utilities import rank_zero_only

CSV_NAME = "lightning_logs"
_PARAM_VALUE_LIMIT = 500
_warned_unreachable: set[str] = set()


@dataclass
class TrackingSettings:
    """Where a training run is recorded (CSV logs are always written as well).

    Attributes:
        mlflow: log to MLflow too (metrics, hyperparameters, the resolved config).
        uri: MLflow tracking URI; default: $MLFLOW_TRACKING_URI, else sqlite:///<trainer.default_root_dir>/mlflow.db.
            An http(s) server that does not answer falls back to CSV only (one warning).
        experiment: MLflow experiment name.
        run_name: MLflow run name (MLflow picks one when empty).
        artifact_location: artifact folder of a new experiment in a local store; default
            <trainer.default_root_dir>/mlartifacts.
        timeout_s: seconds to wait for a tracking server's /health before falling back to CSV only.
    """

    mlflow: bool = True
    uri: str | None = None
    experiment: str = "plot-lightning"
    run_name: str | None = None
    artifact_location: str | None = None
    timeout_s: float = 5.0


def default_tracking_uri(root_dir: str | os.PathLike) -> str:
    """``sqlite:///<absolute root_dir>/mlflow.db`` (four slashes in total for an absolute path)."""
    return f"sqlite:///{Path(root_dir).resolve() / 'mlflow.db'}"


def server_reachable(uri: str, timeout_s: float) -> tuple[bool, str]:
    """Whether an ``http(s)://`` tracking server answers ``/health``; local stores are always reachable."""
    if not uri.startswith(("http://", "https://")):
        return True, ""
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout_s) as response:
            return response.status < 500, f"HTTP {response.status}"
    except (urllib.error.URLError, OSError, ValueError) as error:
        return False, str(getattr(error, "reason", error))


def _warn_unreachable_once(uri: str, reason: str, csv_dir: str) -> None:
    if uri in _warned_unreachable:
        return
    _warned_unreachable.add(uri)
    warnings.warn(
        f"MLflow tracking server {uri} is unreachable ({reason}); training continues with CSV logs only "
        f"in {csv_dir}.",
        UserWarning,
        stacklevel=3,
    )


def build_loggers(settings: TrackingSettings, root_dir: str | os.PathLike) -> list[Logger]:
    """CSV logger first (it owns ``trainer.log_dir``: config.yaml and checkpoints go there), then MLflow."""
    root = Path(root_dir).resolve()
    csv_logger = CSVLogger(save_dir=str(root), name=CSV_NAME)
    # MlflowClient creates a SQLite store eagerly: other ranks would race on it, and only rank 0 logs anyway.
    if not settings.mlflow or rank_zero_only.rank != 0:
        return [csv_logger]
    uri = settings.uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(root)
    reachable, reason = server_reachable(uri, settings.timeout_s)
    if not reachable:
        _warn_unreachable_once(uri, reason, str(root / CSV_NAME))
        return [csv_logger]
    local_store = not uri.startswith(("http://", "https://"))
    artifacts = settings.artifact_location or (str(root / "mlartifacts") if local_store else None)
    mlflow_logger = MLFlowLogger(
        experiment_name=settings.experiment,
        run_name=settings.run_name,
        tracking_uri=uri,
        artifact_location=artifacts,
        tags={"plot_lightning.log_root": str(root)},
    )
    return [csv_logger, mlflow_logger]


def _flatten(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)[:_PARAM_VALUE_LIMIT]
    return flat


def log_run_config(loggers: list[Logger], config_yaml: str, config: dict[str, Any], **tags: str) -> None:
    """Attach the resolved config to every MLflow run: ``config.yaml`` artifact + ``config.*`` params + tags."""
    from mlflow.entities import Param, RunTag

    params = [Param(f"config.{key}", value) for key, value in _flatten(config).items()]
    run_tags = [RunTag(key, str(value)) for key, value in tags.items()]
    for logger in loggers:
        if not isinstance(logger, MLFlowLogger):
            continue
        client, run_id = logger.experiment, logger.run_id
        client.log_text(run_id, config_yaml, "config.yaml")
        for start in range(0, len(params), 100):  # MLflow accepts at most 100 params per batch
            client.log_batch(run_id, params=params[start : start + 100])
        if run_tags:
            client.log_batch(run_id, tags=run_tags)


def describe_mlflow_run(loggers: list[Logger]) -> str | None:
    """A human-readable pointer to the MLflow run (URI, run id, ``mlflow ui`` command), or None."""
    for logger in loggers:
        if isinstance(logger, MLFlowLogger) and logger.run_id is not None:
            uri = str(getattr(logger, "_tracking_uri", ""))  # Lightning keeps the URI it was given here
            ui = f"mlflow ui --backend-store-uri {uri}" if uri.startswith("sqlite:") else f"open {uri}"
            return f"MLflow run {logger.run_id} (experiment id {logger.experiment_id}) at {uri}; browse: {ui}"
    return None
