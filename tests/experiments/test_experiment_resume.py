"""End to end on the tiny model: two cells, cell 1 crashes mid-training, the rerun resumes it from its
checkpoint and recomputes nothing that had finished; changing alpha changes the PLOT cell only."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lightning.pytorch import Callback

from experiments.experiment import load_experiment, run_experiment
from experiments.runner import cell_state


class CrashAtStep(Callback):
    """Raises when training reaches ``step`` (a crash after the step-``step`` checkpoint was written)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            raise RuntimeError(f"simulated crash at step {self.step}")


class StartProbe(Callback):
    """Records the global step every training session starts at."""

    def __init__(self) -> None:
        self.starts: list[int] = []

    def on_train_start(self, trainer, pl_module) -> None:
        self.starts.append(trainer.global_step)


def _snapshot(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _check_mlflow(experiment) -> None:
    """One parent (reused by every rerun), a child per cell, each cell's training sessions under its child."""
    from mlflow import MlflowClient

    client = MlflowClient(experiment.tracking_uri)
    exp_id = client.get_experiment_by_name(experiment.config.tracking.experiment).experiment_id
    runs = client.search_runs([exp_id])
    parents = [r for r in runs if "plot_experiment.root" in r.data.tags]
    assert len(parents) == 1 and {a.path for a in client.list_artifacts(parents[0].info.run_id)} >= {
        "table.md"
    }
    children = {
        r.info.run_id: r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id
    }
    assert sorted(r.data.tags["plot_experiment.cell_id"] for r in children.values()) == sorted(
        c.cell_id for c in experiment.cells
    )
    sessions = [r for r in runs if r.data.tags.get("mlflow.parentRunId") in children]
    assert len(sessions) == 3  # cell 0 once, cell 1 twice (crashed, resumed)


@pytest.mark.slow
def test_interrupted_experiment_resumes_without_recomputing(tiny_experiment):
    path = tiny_experiment()
    experiment, failures = run_experiment(path, cells=[0], collect_results=False)
    assert failures == []
    first, second = (cell_state(experiment.config, cell) for cell in experiment.cells)
    assert first.finished("done") and not second.root.exists()

    _, failures = run_experiment(path, cells=[1], callbacks=[CrashAtStep(3)], collect_results=False)
    assert [cell.index for cell, _ in failures] == [1] and "simulated crash" in failures[0][1]
    assert not second.finished("trained")
    assert torch.load(second.last_checkpoint, weights_only=False)["global_step"] == 2
    finished_files = _snapshot(first.root)

    probe = StartProbe()
    _, failures = run_experiment(path, callbacks=[probe])
    assert failures == []
    assert probe.starts == [
        2
    ]  # one training session: cell 1, from its step-2 checkpoint; cell 0 not retrained
    assert _snapshot(first.root) == finished_files  # nothing of the finished cell was rewritten
    assert second.finished("done") and second.read("trained")["resumed"] is True
    assert second.read("exported")["global_step"] == 4
    results = Path(experiment.config.out_dir) / "results"
    table = (results / "table.md").read_text(encoding="utf-8")
    assert "2/2 cells finished" in table and "heldout/all/kl_per_token" in table
    assert (results / "charts" / "diagnostic_logic.png").is_file()

    _check_mlflow(experiment)

    changed = load_experiment(tiny_experiment(defaults={"alpha": 0.3}))
    ids = {cell.method: cell.cell_id for cell in changed.cells}
    assert ids["dpo"] == experiment.cells[0].cell_id  # DPO does not use alpha: same identity, stays done
    assert ids["dpo_plot_dirac"] != experiment.cells[1].cell_id
    assert [cell_state(changed.config, c).finished("done") for c in changed.cells] == [True, False]


@pytest.mark.slow
def test_a_dead_tracking_server_does_not_stop_the_experiment(tiny_experiment):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = tiny_experiment(methods=["dpo"], tracking={"mlflow": True, "uri": f"http://127.0.0.1:{port}"})
    with pytest.warns(UserWarning, match="MLflow tracking failed"):
        experiment, failures = run_experiment(path)
    assert failures == []
    state = cell_state(experiment.config, experiment.cells[0])
    assert state.finished("done") and list(state.root.glob("lightning_logs/version_*/metrics.csv"))
    assert (Path(experiment.config.out_dir) / "results" / "table.md").is_file()
