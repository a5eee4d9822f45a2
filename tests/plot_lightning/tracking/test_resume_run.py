"""``fit --ckpt_path version_0/checkpoints/last.ckpt``: the new version folder links the checkpoint, the MLflow
run of version_0 continues (one run, steps 0..3), and the checkpoint holds no reference, rebuilt on resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from mlflow.tracking import MlflowClient

from plot_lightning.tracking import default_tracking_uri
from plot_lightning.tracking.run_record import read_run_record


@pytest.mark.slow
def test_resume_continues_the_mlflow_run_and_rebuilds_the_reference(tmp_path, tiny_fit) -> None:
    from plot_lightning.models.loading import load_causal_lm

    root = tmp_path / "run"
    first, _ = tiny_fit(root, "--trainer.max_steps", "2")
    version_0 = Path(first.trainer.loggers[0].log_dir)
    last = version_0 / "checkpoints" / "last.ckpt"
    saved = torch.load(last, weights_only=True)["state_dict"]
    assert saved and not [key for key in saved if key.startswith("reference.")]
    assert any(key.startswith("policy.") for key in saved)

    second, _ = tiny_fit(root, "--trainer.max_steps", "4", ckpt_path=str(last))
    version_1 = Path(second.trainer.loggers[0].log_dir)
    assert version_1 != version_0 and (version_1 / "resumed_from").read_text().strip() == str(last.resolve())
    run_id = read_run_record(version_0).run_id
    assert read_run_record(version_1).run_id == run_id
    client = MlflowClient(default_tracking_uri(root))
    assert [m.step for m in client.get_metric_history(run_id, "train/loss_step")] == [0, 1, 2, 3]
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags["plot_lightning.resumed_from"] == str(
        last.resolve()
    )
    fresh = load_causal_lm("tiny").state_dict()
    rebuilt = second.model.reference.state_dict()
    assert rebuilt.keys() == fresh.keys() and all(torch.equal(rebuilt[k], fresh[k]) for k in fresh)
