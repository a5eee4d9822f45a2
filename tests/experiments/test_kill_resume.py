"""A real interruption: ``python -m experiments grid`` is SIGKILLed (its whole process group) mid-training;
the rerun trains only the steps after the last checkpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from experiments.experiment import load_experiment, run_experiment
from experiments.runner import cell_state

MAX_STEPS = 40
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.multiprocess
def test_killed_experiment_resumes_from_its_last_checkpoint(tiny_experiment):
    path = tiny_experiment(
        methods=["dpo"],
        train_overrides={"trainer": {"max_steps": MAX_STEPS, "limit_val_batches": 0, "enable_progress_bar": False}},
        train={"launcher": "subprocess", "checkpoint_every": 2},
    )  # fmt: skip
    state = cell_state(load_experiment(path).config, load_experiment(path).cells[0])
    command = [sys.executable, "-m", "experiments", "grid", "--config", str(path)]
    process = subprocess.Popen(
        command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO
    )
    try:
        deadline = time.monotonic() + 300
        while not state.last_checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert state.last_checkpoint.exists() and not state.finished("trained")
    time.sleep(0.5)  # let a checkpoint written in the last instant settle before reading it
    killed_at = torch.load(state.last_checkpoint, weights_only=False)["global_step"]
    assert 0 < killed_at < MAX_STEPS

    _, failures = run_experiment(path)
    assert failures == []
    assert state.read("trained")["resumed"] is True and state.read("exported")["global_step"] == MAX_STEPS
    sessions = [json.loads(p.read_text()) for p in sorted((state.root / "cost").glob("session-*.json"))]
    assert [len(s["step_seconds"]) for s in sessions] == [
        MAX_STEPS - killed_at
    ]  # the killed session wrote none
