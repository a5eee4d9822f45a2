"""Experiment tracking on a real MLflow store: parent, child per cell, training runs nested; failures warn."""

from __future__ import annotations

import socket

import pytest
from mlflow import MlflowClient

from experiments.tracking import ExperimentTracker


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server_warns_once_and_the_rest_is_a_no_op(tmp_path):
    tracker = ExperimentTracker(f"http://127.0.0.1:{_free_port()}", "exp", tmp_path)
    with pytest.warns(UserWarning, match="MLflow tracking failed while starting the parent run"):
        tracker.start({"name": "exp"})
    assert tracker.enabled is False
    tracker.log_cell(tmp_path / "cell", "abc", "cell", {"seed": 0}, {"m": 1.0})  # no error, no warning
    tracker.log_artifacts(tmp_path)
    tracker.finish()


def test_parent_child_and_training_runs_nest_and_resume_reuses_the_parent(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = ExperimentTracker(uri, "exp", tmp_path / "out")
    tracker.start({"name": "exp", "cells": 1})
    client = MlflowClient(uri)
    cell_root = tmp_path / "out" / "cells" / "c0"
    training = client.create_run(tracker.experiment_id, tags={"plot_lightning.log_root": str(cell_root)})
    tracker.log_cell(cell_root, "id0", "logic dpo seed=0", {"seed": 0}, {"heldout/all/kl_per_token": 0.25})
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "table.md").write_text("| a |\n", encoding="utf-8")
    tracker.log_artifacts(tmp_path / "results")

    child = client.search_runs([tracker.experiment_id], "tags.`plot_experiment.cell_id` = 'id0'")[0]
    assert child.data.tags["mlflow.parentRunId"] == tracker.parent_id
    assert child.data.metrics == {"heldout/all/kl_per_token": 0.25} and child.data.params == {"seed": "0"}
    assert client.get_run(training.info.run_id).data.tags["mlflow.parentRunId"] == child.info.run_id
    assert [a.path for a in client.list_artifacts(tracker.parent_id)] == ["table.md"]

    resumed = ExperimentTracker(uri, "exp", tmp_path / "out")
    resumed.start({"name": "exp", "cells": 1})
    assert resumed.parent_id == tracker.parent_id
