"""Experiment tracking, the only part of ``plot_lightning`` that talks to MLflow.

- :mod:`.loggers`: the loggers a training run gets (CSV always, MLflow from a background thread) and what
  is recorded with each run; its public names are re-exported here.
- :mod:`.background`, :mod:`.delivery`, :mod:`.store`, :mod:`.run_record`, :mod:`.sync`: the MLflow writer
  thread, what it sends, the local store, the run record kept beside the CSV log and the later sync.
"""

from __future__ import annotations

from plot_lightning.tracking.loggers import (
    CSV_NAME,
    TrackingSettings,
    build_loggers,
    default_run_name,
    default_tracking_uri,
    describe_mlflow_run,
    log_run_config,
    resumed_version_dir,
    server_reachable,
)

__all__ = [
    "CSV_NAME",
    "TrackingSettings",
    "build_loggers",
    "default_run_name",
    "default_tracking_uri",
    "describe_mlflow_run",
    "log_run_config",
    "resumed_version_dir",
    "server_reachable",
]
