"""``mlflow_run.json``: what a training run sent, or meant to send, to MLflow, kept in its version folder.

The background logger writes it from the run's start (before MLflow has answered), again whenever something is
logged, and with the end state before it waits for MLflow: with ``metrics.csv`` it is all that ``plot-lightning
tracking sync`` needs. A record without an end state is a run whose process died (kill -9).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

RUN_RECORD = "mlflow_run.json"


@dataclass
class RunRecord:
    """One run's MLflow destination and content (times in ms since the epoch, as MLflow counts them)."""

    uri: str
    experiment: str
    run_id: str | None = None  # None until MLflow created the run
    run_name: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # artifact file -> text (e.g. config.yaml)
    status: str | None = None  # FINISHED / FAILED / KILLED once the run ended; None while it runs
    start_ms: int | None = None
    end_ms: int | None = None

    def write(self, folder: str | os.PathLike) -> None:
        """Write ``folder/mlflow_run.json`` through a temporary file renamed into place."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        staging = folder / f".{RUN_RECORD}.{os.getpid()}.{threading.get_ident()}"
        staging.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        os.replace(staging, folder / RUN_RECORD)


def read_run_record(folder: str | os.PathLike) -> RunRecord | None:
    """The record of a version folder, or None; a record written by an older version has fewer fields."""
    path = Path(folder) / RUN_RECORD
    if not path.is_file():
        return None
    raw = json.loads(path.read_text(encoding="utf-8"))
    return RunRecord(**{item.name: raw[item.name] for item in fields(RunRecord) if item.name in raw})
