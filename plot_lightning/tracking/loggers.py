"""The loggers a training run gets, and what is recorded with each MLflow run.

Every run logs to CSV (``<root>/lightning_logs/version_N/metrics.csv``, always available) and to MLflow. The
default MLflow store is a SQLite database next to the run, ``sqlite:///<root>/mlflow.db``, with artifacts in
``<root>/mlartifacts`` (MLflow 3 refuses the old ``file:`` store). ``MLFLOW_TRACKING_URI`` or
``--tracking.uri http://host:5000`` point at a tracking server instead.

MLflow is written from a background thread (:mod:`plot_lightning.tracking.background`, which says how
failures are handled). A resume (``--ckpt_path`` inside a version folder) continues the MLflow run recorded
there; the new version folder gets a ``resumed_from`` tag and file pointing at the checkpoint.
"""

from __future__ import annotations

import os
import secrets
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger, Logger
from lightning.pytorch.utilities import rank_zero_only

from plot_lightning.tracking.background import BackgroundMLflowLogger
from plot_lightning.tracking.run_record import read_run_record

CSV_NAME = "lightning_logs"
_PARAM_VALUE_LIMIT = 500
_warned_unreachable: set[str] = set()


@dataclass
class TrackingSettings:
    """Where a training run is recorded (CSV logs are always written as well).

    Attributes:
        mlflow: log to MLflow too (metrics, hyperparameters, the resolved config).
        uri: MLflow tracking URI; default: $MLFLOW_TRACKING_URI, else sqlite:///<trainer.default_root_dir>/mlflow.db.
        experiment: MLflow experiment name.
        run_name: MLflow run name; default ``<experiment>-<UTC time>-<random>`` (distinct even with one seed).
        artifact_location: artifact folder of a new experiment in a local store; default
            <trainer.default_root_dir>/mlartifacts.
        timeout_s: seconds to wait for a tracking server's /health at start (a warning when it does not answer;
            records are then queued and delivered when it is back).
        flush_timeout_s: the most seconds the end of a run waits for MLflow to receive what is queued.
    """

    mlflow: bool = True
    uri: str | None = None
    experiment: str = "plot-lightning"
    run_name: str | None = None
    artifact_location: str | None = None
    timeout_s: float = 5.0
    flush_timeout_s: float = 10.0


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
        f"MLflow tracking server {uri} is unreachable ({reason}); training continues, records are queued for it "
        f"and every metric is in the CSV log in {csv_dir} (plot-lightning tracking sync delivers it later).",
        UserWarning,
        stacklevel=3,
    )


def default_run_name(experiment: str) -> str:
    """``<experiment>-<UTC yyyymmdd-hhmmss>-<6 hex>``: distinct across runs whatever the seed."""
    return f"{experiment}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"


def resumed_version_dir(ckpt_path: str | os.PathLike | None) -> Path | None:
    """The ``version_N`` folder a checkpoint lives in (``.../version_N/checkpoints/x.ckpt``), or None."""
    if not ckpt_path or str(ckpt_path) in ("last", "best", "hpc", "registry"):
        return None
    folder = Path(ckpt_path).resolve().parent
    return (
        folder.parent if folder.name == "checkpoints" and folder.parent.name.startswith("version_") else None
    )


def build_loggers(
    settings: TrackingSettings, root_dir: str | os.PathLike, resume_from: str | os.PathLike | None = None
) -> list[Logger]:
    """CSV logger first (it owns ``trainer.log_dir``: config.yaml and checkpoints go there), then MLflow.

    ``resume_from``: the checkpoint a run resumes; its version folder's MLflow run is continued."""
    root = Path(root_dir).resolve()
    csv_logger = CSVLogger(save_dir=str(root), name=CSV_NAME)
    # MlflowClient creates a SQLite store eagerly: other ranks would race on it, and only rank 0 logs anyway.
    if not settings.mlflow or rank_zero_only.rank != 0:
        return [csv_logger]
    uri = settings.uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(root)
    reachable, reason = server_reachable(uri, settings.timeout_s)
    if not reachable:
        _warn_unreachable_once(uri, reason, str(root / CSV_NAME))
    local_store = not uri.startswith(("http://", "https://"))
    artifacts = settings.artifact_location or (str(root / "mlartifacts") if local_store else None)
    previous = resumed_version_dir(resume_from)
    record = read_run_record(previous) if previous is not None else None
    tags = {"plot_lightning.log_root": str(root)}
    if resume_from:
        tags["plot_lightning.resumed_from"] = str(Path(resume_from).resolve())
    mlflow_logger = BackgroundMLflowLogger(
        uri,
        settings.experiment,
        run_name=settings.run_name or default_run_name(settings.experiment),
        artifact_location=artifacts,
        tags=tags,
        run_id=record.run_id if record and record.uri == uri else None,
        flush_timeout_s=settings.flush_timeout_s,
    )
    # The CSV writer makes its version folder now: it warns about (and would overwrite) a non-empty one, which
    # this run's own mlflow_run.json and resumed_from, written next, would otherwise already make it.
    _ = csv_logger.experiment
    mlflow_logger.record_run_in(csv_logger.log_dir)
    if resume_from:
        link = Path(csv_logger.log_dir)
        link.mkdir(parents=True, exist_ok=True)
        (link / "resumed_from").write_text(f"{Path(resume_from).resolve()}\n", encoding="utf-8")
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
    for logger in loggers:
        if not isinstance(logger, BackgroundMLflowLogger):
            continue
        logger.log_text(config_yaml, "config.yaml")
        logger.log_params({f"config.{key}": value for key, value in _flatten(config).items()})
        if tags:
            logger.set_tags(tags)


def describe_mlflow_run(loggers: list[Logger]) -> str | None:
    """A human-readable pointer to the MLflow run (URI, run id, ``mlflow ui`` command), or None."""
    for logger in loggers:
        if isinstance(logger, BackgroundMLflowLogger) and logger.run_id is not None:
            uri = str(getattr(logger, "_tracking_uri", ""))  # Lightning keeps the URI it was given here
            ui = f"mlflow ui --backend-store-uri {uri}" if uri.startswith("sqlite:") else f"open {uri}"
            return f"MLflow run {logger.run_id} (experiment id {logger.experiment_id}) at {uri}; browse: {ui}"
    return None
