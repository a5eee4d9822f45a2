"""``plot-lightning tracking sync <version folder>``: deliver a finished run's CSV metrics to its MLflow run.

Every metric of a run is in ``<root>/lightning_logs/version_N/metrics.csv``, whatever happened to the tracking
server. This reads that file and the run's ``mlflow_run.json`` (written when the MLflow run was created;
without it a new run is created and recorded), logs every (metric, step) the MLflow run lacks, and marks a run
still RUNNING (its process died, e.g. kill -9) as KILLED. Running it twice adds nothing the second time.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

from plot_lightning.tracking.background import RUN_RECORD, read_run_record, write_run_record
from plot_lightning.tracking.store import experiment_id, open_client

_BATCH = 1000


@dataclass
class SyncReport:
    """What a sync did: the run, metric values added, values already there, and the status set (or None)."""

    run_id: str
    added: int
    already_there: int
    status_set: str | None


def read_csv_metrics(metrics_csv: Path) -> list[tuple[str, int, float]]:
    """``(key, step, value)`` for every metric cell of a Lightning ``metrics.csv`` (epoch is a metric too)."""
    if not metrics_csv.is_file():
        raise FileNotFoundError(f"{metrics_csv}: no metrics.csv (is this a lightning_logs/version_N folder?)")
    entries = []
    with open(metrics_csv, newline="", encoding="utf-8") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            try:
                step = int(float(row.get("step") or 0))
                for key, cell in row.items():
                    if key != "step" and cell not in ("", None):
                        entries.append((key, step, float(cell)))
            except ValueError as error:
                raise ValueError(f"{metrics_csv}, line {line}: {error}") from error
    return entries


def sync_run(
    version_dir: str | Path, uri: str | None = None, experiment: str = "plot-lightning"
) -> SyncReport:
    """Log what the MLflow run of ``version_dir`` misses from its ``metrics.csv``; see the module docstring."""
    from mlflow.entities import Metric

    folder = Path(version_dir)
    entries = read_csv_metrics(folder / "metrics.csv")
    record = read_run_record(folder) or {}
    uri = uri or record.get("uri")
    if not uri:
        raise ValueError(f"{folder}: no {RUN_RECORD} and no --uri: cannot tell which MLflow store to sync to")
    client = open_client(uri)
    run_id = record.get("run_id")
    if not run_id or _missing_run(client, run_id):
        name = record.get("experiment") or experiment
        run_id = client.create_run(
            experiment_id(client, name, None), run_name=f"{folder.name}-synced"
        ).info.run_id
        write_run_record(folder, uri, name, run_id)
    known = {
        key: {(m.step, m.value) for m in client.get_metric_history(run_id, key)}
        for key in {e[0] for e in entries}
    }
    stamp = int(time.time() * 1000)
    missing = [
        Metric(key, value, stamp, step) for key, step, value in entries if (step, value) not in known[key]
    ]
    for start in range(0, len(missing), _BATCH):
        client.log_batch(run_id, metrics=missing[start : start + _BATCH])
    status = None
    if client.get_run(run_id).info.status == "RUNNING":
        status = "KILLED"  # the process that owned it is gone; a live run is never synced
        client.set_terminated(run_id, status=status)
    return SyncReport(run_id, len(missing), len(entries) - len(missing), status)


def _missing_run(client, run_id: str) -> bool:
    try:
        client.get_run(run_id)
        return False
    except Exception:
        return True
