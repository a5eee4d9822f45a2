"""End to end on the tiny model: a cell validates on its category's validation files, and a category without
validation data trains without validation (LightningCLI takes ``val_files: []`` and ``limit_val_batches``)."""

from __future__ import annotations

import pytest
from lightning.pytorch import Callback

from experiments.experiment import run_experiment
from experiments.runner import cell_state


class ValidationProbe(Callback):
    """Counts validation runs and the training steps reached."""

    def __init__(self) -> None:
        self.validations, self.steps = 0, 0

    def on_validation_start(self, trainer, pl_module) -> None:
        self.validations += 1

    def on_train_end(self, trainer, pl_module) -> None:
        self.steps = trainer.global_step


@pytest.mark.parametrize(("validation_files", "validations"), [(["sample:demo_val"], 1), ([], 0)])
def test_a_cell_validates_only_on_validation_files(tiny_experiment, validation_files, validations):
    categories = {
        "logic": {
            "train_files": ["sample:gsm8k"],
            "validation_files": validation_files,
            "heldout_files": ["sample:code-mbpp"],
        }
    }
    path = tiny_experiment(categories=categories, tracking={"mlflow": False})
    probe = ValidationProbe()
    experiment, failures = run_experiment(path, cells=[0], callbacks=[probe], collect_results=False)
    assert failures == []
    # tiny.yaml: 4 steps, validation every 4 steps; the held-out metrics still ran on the held-out file.
    assert (probe.steps, probe.validations) == (4, validations)
    assert cell_state(experiment.config, experiment.cells[0]).finished("done")
