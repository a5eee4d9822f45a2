"""The demo's console: its training (``plot_lightning.demo.train``: the demo config, as ``plot-lightning demo``
runs it, with ``sys.argv`` holding the demo's own arguments) on the tiny model, in a real subprocess, prints
none of the notices a user cannot act on, keeps a progress line after the first step, and still shows a
warning that means something."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DROP = ("MASTER_ADDR", "MASTER_PORT", "RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "MLFLOW_TRACKING_URI")
# What the demo printed before its first training line (issue 21), each a fragment of its text.
NOT_ACTIONABLE = {
    "LightningCLI args and sys.argv": "LightningCLI's args parameter is intended",
    "litlogger advertisement": "litlogger",
    "torchdata set_vital": "set_vital",
    "pytree LeafSpec": "LeafSpec",
    "frozen reference in eval mode": "module(s) in eval mode",
    # the run's own mlflow_run.json, written into the version folder before the CSV logger made it
    "CSV logger on a non-empty new folder": "exists and is not empty",
}
SCRIPT = textwrap.dedent(
    """
    import sys, warnings
    from pathlib import Path
    sys.argv = ["plot-lightning", "demo", "--steps", "2", "--no-eval"]  # as the console script sees them
    from plot_lightning.demo import train
    warnings.warn("a warning that means something")  # must still reach the console
    train(Path(sys.stdin.readline().strip()), 2, ("--model.model", "tiny", "--trainer.enable_progress_bar",
          "false", "--trainer.limit_val_batches", "1"))
    """
)


def _clean_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if k not in DROP and not k.startswith(("LT_", "PL_", "PYTHONWARN"))
    }


@pytest.mark.slow
def test_demo_training_console_has_no_notice_a_user_cannot_act_on(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        input=f"{tmp_path / 'demo'}\n",
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    console = result.stdout + result.stderr
    assert result.returncode == 0, console[-4000:]
    found = {name: text for name, text in NOT_ACTIONABLE.items() if text in console}
    assert not found, f"{found}\n{console[-4000:]}"
    assert "a warning that means something" in console
    assert "step 1/2 | loss " in console and "step 2/2 | loss " in console  # after the first and last steps
