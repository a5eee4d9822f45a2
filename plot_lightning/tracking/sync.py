"""``plot-lightning tracking sync <version folder>``: complete a finished run's MLflow run from its folder.

Reads ``metrics.csv`` and ``mlflow_run.json`` (:mod:`plot_lightning.tracking.run_record`); creates the MLflow run
when it was never created or is not in the store given by ``--uri``, then logs what the run lacks: params, tags,
texts, every (metric, step), and the recorded end state (KILLED when none was recorded). Idempotent.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

from plot_lightning.tracking.delivery import PARAMS_PER_CALL, deliver_params, run_tags
from plot_lightning.tracking.run_record import RUN_RECORD, RunRecord, read_run_record
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
    record = read_run_record(folder)
    if record is None and not uri:
        raise ValueError(f"{folder}: no {RUN_RECORD} and no --uri: cannot tell which MLflow store to sync to")
    record = record or RunRecord(uri, experiment)
    uri = uri or record.uri
    client = open_client(uri)
    run_id = record.run_id
    if not run_id or _missing_run(client, run_id):
        run_id = client.create_run(
            experiment_id(client, record.experiment, None),
            start_time=record.start_ms,
            tags=record.tags,
            run_name=record.run_name or f"{folder.name}-synced",
        ).info.run_id
        record.uri, record.run_id = uri, run_id
        record.write(folder)
    _deliver_record(client, run_id, record)
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
        # The process that owned it is gone (a live run is never synced): the end state it recorded, or
        # KILLED when it died without recording one.
        status = record.status or "KILLED"
        client.set_terminated(run_id, status=status, end_time=record.end_ms)
    return SyncReport(run_id, len(missing), len(entries) - len(missing), status)


def _deliver_record(client, run_id: str, record: RunRecord) -> None:
    """The record's params (never overwriting one), tags and texts; each is a no-op when already there."""
    params = list(record.params.items())
    for start in range(0, len(params), PARAMS_PER_CALL):
        deliver_params(client, run_id, params[start : start + PARAMS_PER_CALL])
    if record.tags:
        client.log_batch(run_id, tags=run_tags(record.tags))
    for artifact_file, text in record.texts.items():
        client.log_text(run_id, text, artifact_file)


def _missing_run(client, run_id: str) -> bool:
    try:
        client.get_run(run_id)
        return False
    except Exception:
        return True
