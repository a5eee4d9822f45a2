"""MLflow for an experiment: one parent run, one child per cell, the training runs nested under their cell.

Every call goes through :class:`ExperimentTracker`, which turns any tracking failure (server down, store
locked) into one warning and switches itself off: the experiment's files (cell markers, table, charts) are
always written locally, so nothing is lost and the experiment goes on. The parent run is found again on
resume by the tag ``plot_experiment.root`` (the output folder), so a resumed experiment keeps one parent.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

PARENT_TAG = "plot_experiment.root"
CELL_TAG = "plot_experiment.cell_id"
TRAINING_ROOT_TAG = "plot_lightning.log_root"  # set by build_loggers (.loggers) on every training run


class ExperimentTracker:
    """Parent/child MLflow runs; ``uri=None`` or a failure makes every method a no-op after one warning."""

    def __init__(self, uri: str | None, experiment: str, root: Path) -> None:
        self.uri, self.root, self.enabled = uri, str(root), uri is not None
        self.client, self.experiment_id, self.parent_id = None, None, None
        self.experiment = experiment

    def _guard(self, what: str, action, *args: Any) -> Any:
        if not self.enabled:
            return None
        try:
            return action(*args)
        except Exception as error:  # noqa: BLE001 - any tracking failure must not stop the experiment
            self.enabled = False
            warnings.warn(
                f"MLflow tracking failed while {what} ({type(error).__name__}: {error}); the experiment goes on "
                f"and its results stay in {self.root}",
                UserWarning,
                stacklevel=3,
            )
            return None

    def start(self, params: dict[str, Any]) -> None:
        self._guard("starting the parent run", self._start, params)

    def _start(self, params: dict[str, Any]) -> None:
        from plot_lightning.tracking.loggers import server_reachable
        from plot_lightning.tracking.store import open_client

        reachable, reason = server_reachable(self.uri, 5.0)
        if not reachable:
            raise ConnectionError(f"{self.uri} does not answer ({reason})")
        self.client = open_client(self.uri)  # a local store: created whole, a half-built one set aside
        found = self.client.get_experiment_by_name(self.experiment)
        self.experiment_id = found.experiment_id if found else self.client.create_experiment(self.experiment)
        runs = self.client.search_runs(
            [self.experiment_id], f"tags.`{PARENT_TAG}` = '{self.root}'", max_results=1
        )
        if runs:
            self.parent_id = runs[0].info.run_id
            return
        run = self.client.create_run(
            self.experiment_id, tags={PARENT_TAG: self.root}, run_name=params["name"]
        )
        self.parent_id = run.info.run_id
        self.client.log_batch(self.parent_id, params=_params(params))

    def log_cell(
        self, cell_root: Path, cell_id: str, name: str, params: dict, metrics: dict[str, float]
    ) -> None:
        """A child run holding the cell's params and metrics; the cell's training runs become its children."""
        self._guard(f"logging cell {name}", self._log_cell, cell_root, cell_id, name, params, metrics)

    def _log_cell(
        self, cell_root: Path, cell_id: str, name: str, params: dict, metrics: dict[str, float]
    ) -> None:
        from mlflow.entities import Metric

        query = f"tags.`{CELL_TAG}` = '{cell_id}'"
        existing = self.client.search_runs([self.experiment_id], query, max_results=1)
        if existing:
            child_id = existing[0].info.run_id
        else:
            tags = {"mlflow.parentRunId": self.parent_id, CELL_TAG: cell_id}
            child_id = self.client.create_run(self.experiment_id, tags=tags, run_name=name).info.run_id
            self.client.log_batch(child_id, params=_params(params))
        batch = [Metric(key, float(value), 0, 0) for key, value in metrics.items()]
        for start in range(0, len(batch), 500):
            self.client.log_batch(child_id, metrics=batch[start : start + 500])
        self.client.set_terminated(child_id)
        training = self.client.search_runs(
            [self.experiment_id], f"tags.`{TRAINING_ROOT_TAG}` = '{cell_root}'"
        )
        for run in training:
            self.client.set_tag(run.info.run_id, "mlflow.parentRunId", child_id)

    def finish(self) -> None:
        """Mark the parent run finished (a resumed experiment reopens the same run by its tag)."""
        self._guard("closing the parent run", lambda: self.client.set_terminated(self.parent_id))

    def log_artifacts(self, folder: Path) -> None:
        self._guard("logging the tables and charts", self._log_artifacts, folder)

    def _log_artifacts(self, folder: Path) -> None:
        self.client.log_artifacts(self.parent_id, str(folder))


def _params(params: dict[str, Any]):
    from mlflow.entities import Param

    return [Param(str(key), str(value)[:500]) for key, value in params.items()]
