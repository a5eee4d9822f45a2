"""A run SIGKILLed while writing a checkpoint leaves the previous checkpoint complete and resumable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from plot_lightning.data.datamodule import PreferenceDataModule
from plot_lightning.module import PLOTModule

SCRIPT = Path(__file__).with_name("kill_during_save.py")


@pytest.mark.slow
@pytest.mark.multiprocess
def test_kill_mid_checkpoint_keeps_previous_checkpoint(tmp_path, quiet_trainer) -> None:
    rows = [
        {"prompt": f"Question {i}?", "chosen": "Mix flour and bake." * (1 + i), "rejected": "No."}
        for i in range(8)
    ]
    data = tmp_path / "pairs.jsonl"
    data.write_text("\n".join(json.dumps(row) for row in rows))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MASTER_", "LT_", "PL_"))}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    command = [
        sys.executable,
        str(SCRIPT),
        "--data",
        str(data),
        "--dir",
        str(tmp_path / "ckpt"),
        "--kill-at-save",
        "2",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr[-4000:]

    latest = tmp_path / "ckpt" / "latest.ckpt"
    checkpoint = torch.load(latest, map_location="cpu", weights_only=True)
    assert checkpoint["global_step"] == 1  # the step-1 checkpoint, not the half-written step-2 one
    module = PLOTModule(
        model="tiny", losses=["dpo"], weights=[1.0], optimizer=lambda p: torch.optim.SGD(p, lr=0.5)
    )
    trainer = quiet_trainer(max_steps=2)
    datamodule = PreferenceDataModule(str(data), tokenizer="tiny", batch_size=2, shuffle=False)
    trainer.fit(module, datamodule=datamodule, ckpt_path=str(latest))
    assert trainer.global_step == 2
