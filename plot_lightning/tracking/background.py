"""``BackgroundMLflowLogger``: a Lightning logger whose MLflow calls run on a background thread.

Training only puts records on a queue, so a tracking server that is slow, answers 503 or dies never blocks a
step nor ends the run. The worker creates (or, on resume, reopens) the run, then delivers the queue in order,
retrying a failed call with backoff (each HTTP call bounded: :func:`bounded_mlflow_requests`). At the end the
run waits at most ``flush_timeout_s``; what is undelivered is in the CSV log for ``plot-lightning tracking sync``.

Status: a run ends FINISHED, FAILED (an exception) or KILLED (Ctrl+C, SIGTERM); a resume reopens the run as
RUNNING. Everything but metrics, and the end state, is also kept in the version folder's ``mlflow_run.json``
(:mod:`plot_lightning.tracking.run_record`), from the start: sync completes the run from it and the CSV log.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
import warnings
from argparse import Namespace
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers.logger import Logger
from lightning.pytorch.utilities import rank_zero_only
from typing_extensions import override

from plot_lightning.tracking.delivery import PARAMS_PER_CALL, deliver_params, run_tags
from plot_lightning.tracking.run_record import RUN_RECORD, RunRecord
from plot_lightning.tracking.store import experiment_id, open_client, sqlite_lock_path

_MLFLOW_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
_MAX_BACKOFF_S = 15.0
_LOCAL_FLUSH_S = 120.0


def bounded_mlflow_requests() -> None:
    """No MLflow HTTP call may hang for minutes: no retries, 10 s timeout (unless the user set them)."""
    for name, value in _MLFLOW_DEFAULTS.items():
        os.environ.setdefault(name, value)


def _terminal_status(status: str) -> str:
    if status == "success" or status == "finished":
        return "FINISHED"
    in_flight = sys.exc_info()[1]
    killed = (
        isinstance(in_flight, KeyboardInterrupt | SystemExit)
        or type(in_flight).__name__ == "SIGTERMException"
    )
    return "KILLED" if killed else "FAILED"


class BackgroundMLflowLogger(Logger):
    """Logs metrics, params, tags and texts to one MLflow run from a background thread (see module doc).

    Args:
        uri: tracking URI (``sqlite:///...`` or ``http(s)://...``).
        experiment: experiment name.
        run_name: the new run's name (ignored when ``run_id`` reopens a run).
        artifact_location: artifact folder of a new experiment.
        tags: tags of the run.
        run_id: an existing run to continue (resume).
        flush_timeout_s: the most seconds ``finalize`` waits for undelivered records (a local SQLite store,
            slow to create but not failing, gets at least 120 s).
    """

    def __init__(
        self,
        uri: str,
        experiment: str,
        run_name: str | None = None,
        artifact_location: str | None = None,
        tags: dict[str, str] | None = None,
        run_id: str | None = None,
        flush_timeout_s: float = 10.0,
    ) -> None:
        super().__init__()
        bounded_mlflow_requests()
        self._tracking_uri, self._experiment_name, self._run_name = uri, experiment, run_name
        self._artifact_location, self._flush_timeout_s = artifact_location, flush_timeout_s
        self._tags = dict(tags or {})
        self._run_id, self._experiment_id, self._reopened = run_id, None, run_id is not None
        self._record = RunRecord(
            uri, experiment, run_id, run_name, dict(self._tags), start_ms=int(time.time() * 1000)
        )
        self._record_lock, self._record_failed = threading.Lock(), False
        self._queue: queue.Queue = queue.Queue()
        self._ready, self._closing = threading.Event(), threading.Event()
        self.failures = 0  # calls that failed (each retried until delivered or the run ends)
        self.undelivered = 0  # records MLflow never got (set by finalize)
        self._dropped = 0
        self._record_dir: Path | None = None
        self._thread = threading.Thread(target=self._work, name="mlflow-logger", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ Lightning's Logger interface
    @property
    @override
    def name(self) -> str:
        return self._experiment_name

    @property
    @override
    def version(self) -> str | None:
        return self._run_id

    @property
    def run_id(self) -> str | None:
        """The MLflow run id once the run exists (waits up to 5 s for it at the start)."""
        self._ready.wait(timeout=5.0)
        return self._run_id

    @property
    def experiment_id(self) -> str | None:
        return self._experiment_id

    @override
    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        stamp, values = int(time.time() * 1000), {key: float(value) for key, value in metrics.items()}

        def deliver(client, run) -> None:
            # imported by the worker: the training thread never waits on it
            from mlflow.entities import Metric

            client.log_batch(
                run, metrics=[Metric(key, value, stamp, step or 0) for key, value in values.items()]
            )

        self.submit(deliver)

    @override
    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any) -> None:
        from lightning.fabric.utilities.logger import _convert_params, _flatten_dict

        flat = _flatten_dict(_convert_params(params))
        self.log_params({key: str(value)[:500] for key, value in flat.items()})

    def log_params(self, params: dict[str, str]) -> None:
        """Params in batches of 100 (MLflow's limit). In a reopened run (resume) a param already logged with
        another value becomes the tag ``resumed.<key>`` (MLflow never changes a param)."""
        entries = list(params.items())
        self._remember(self._record.params, dict(entries))
        for start in range(0, len(entries), PARAMS_PER_CALL):
            chunk = entries[start : start + PARAMS_PER_CALL]
            self.submit(lambda client, run, chunk=chunk: deliver_params(client, run, chunk, self._reopened))

    def set_tags(self, tags: dict[str, str]) -> None:
        entries = {key: str(value) for key, value in tags.items()}
        self._remember(self._record.tags, entries)
        self.submit(lambda client, run: client.log_batch(run, tags=run_tags(entries)))

    def log_text(self, text: str, artifact_file: str) -> None:
        self._remember(self._record.texts, {artifact_file: text})
        self.submit(lambda client, run: client.log_text(run, text, artifact_file))

    def record_run_in(self, folder: str | os.PathLike) -> None:
        """Keep ``mlflow_run.json`` (see :mod:`plot_lightning.tracking.run_record`) in ``folder`` from now on."""
        self._record_dir = Path(folder)
        self._save_record()

    def _remember(self, section: dict[str, str], entries: dict[str, str]) -> None:
        with self._record_lock:
            section.update(entries)
        self._save_record()

    def _save_record(self) -> None:
        if self._record_dir is None:
            return
        try:
            with self._record_lock:
                self._record.write(self._record_dir)
        except OSError as error:  # e.g. a full disk: tracking never stops training; MLflow may still get it
            if not self._record_failed:
                self._record_failed = True
                warnings.warn(
                    f"cannot keep {RUN_RECORD} in {self._record_dir}: {error}", UserWarning, stacklevel=2
                )

    @override
    def finalize(self, status: str) -> None:
        if self._closing.is_set():
            return
        terminal = _terminal_status(status)
        self._record.status, self._record.end_ms = terminal, int(time.time() * 1000)
        self._save_record()  # before waiting for MLflow: sync sets this state if MLflow never gets it
        self.submit(lambda client, run: client.set_terminated(run, status=terminal))
        self._closing.set()
        self._queue.put(None)
        # a local store is slow to create, not failing
        local = sqlite_lock_path(self._tracking_uri) is not None
        self._thread.join(
            timeout=max(self._flush_timeout_s, _LOCAL_FLUSH_S) if local else self._flush_timeout_s
        )
        pending = [call for call in list(self._queue.queue) if call is not None]
        self.undelivered = len(pending) + self._dropped + (1 if self._thread.is_alive() else 0)
        if self.undelivered or self._run_id is None:
            where = self._record_dir or "the run's version folder"
            warnings.warn(
                f"MLflow at {self._tracking_uri} did not receive everything (run {self._run_id or 'not created'}); "
                f"the CSV log has it all: deliver it with 'plot-lightning tracking sync {where}'",
                UserWarning,
                stacklevel=2,
            )

    # ------------------------------------------------------------------ the worker
    def submit(self, call) -> None:
        """Queue ``call(client, run_id)``; never blocks, never raises."""
        if not self._closing.is_set():
            self._queue.put(call)

    def _work(self) -> None:
        client = self._until_done(self._open)
        if client is None:
            return
        while True:
            call = self._queue.get()
            if call is None:
                return
            if not self._until_done(lambda call=call: call(client, self._run_id) or True):
                return

    def _until_done(self, attempt):
        """``attempt()`` retried with backoff until it returns a value, or None once closing and it failed."""
        backoff = 0.5
        while True:
            try:
                return attempt()
            except Exception as error:  # any tracking failure: keep training, retry later
                self.failures += 1
                if _permanent(error):  # e.g. a param logged again with another value: retrying cannot help
                    warnings.warn(f"MLflow at {self._tracking_uri} refused a record: {error}", stacklevel=1)
                    return True  # dropped; the queue goes on
                if self.failures == 1:
                    warnings.warn(
                        f"MLflow at {self._tracking_uri}: {error}; retrying in the background", stacklevel=1
                    )
                if self._closing.is_set():
                    self._dropped += 1
                    return None
                self._closing.wait(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)

    def _open(self):
        client = open_client(self._tracking_uri)
        self._experiment_id = experiment_id(client, self._experiment_name, self._artifact_location)
        if self._run_id is None:
            run = client.create_run(self._experiment_id, run_name=self._run_name, tags=self._tags)
            self._run_id = run.info.run_id
        else:
            client.update_run(self._run_id, status="RUNNING")
            client.log_batch(self._run_id, tags=run_tags(self._tags))
        self._record.run_id = self._run_id
        self._ready.set()
        self._save_record()
        return client


_PERMANENT_CODES = {"INVALID_PARAMETER_VALUE", "RESOURCE_ALREADY_EXISTS", "BAD_REQUEST", "INVALID_STATE"}


def _permanent(error: Exception) -> bool:
    return getattr(error, "error_code", None) in _PERMANENT_CODES
