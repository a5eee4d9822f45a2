"""Fixtures of the tracking tests: a real tiny training through the CLI with a step timer."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import lightning.pytorch as pl
import pytest

TINY = Path(__file__).resolve().parents[3] / "configs" / "tiny.yaml"


class StepTimer(pl.Callback):
    """Wall-clock seconds of every training step, and from ``fit`` start to the first step."""

    def __init__(self, at_step=None) -> None:
        self.created, self.durations, self.first_step_at = time.monotonic(), [], None
        self.at_step, self._started = at_step or {}, 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step in self.at_step:  # the injected fault is not part of the step's time
            self.at_step[trainer.global_step]()
        self._started = time.monotonic()
        if self.first_step_at is None:
            self.first_step_at = self._started - self.created

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.durations.append(time.monotonic() - self._started)


@pytest.fixture
def tiny_fit(monkeypatch):
    """``tiny_fit(root, *extra_args, at_step={step: fn})``: fit configs/tiny.yaml in-process; returns
    (cli, StepTimer). Validation off, progress bar off; ``at_step`` runs fn before that step; with
    ``ckpt_path`` it runs ``fit --ckpt_path`` (no timing)."""
    from plot_lightning.cli.lightning_cli import PLOTLightningCLI

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)

    def fit(root: Path, *extra: str, at_step=None, ckpt_path: str | None = None):
        timer = StepTimer(at_step)
        args = [
            "--config", str(TINY), "--trainer.limit_val_batches", "0", "--trainer.enable_progress_bar", "false",
            "--trainer.default_root_dir", str(root), *extra,
        ]  # fmt: skip
        if ckpt_path is not None:  # through the subcommand, as a user resumes (the timer is not attached)
            return PLOTLightningCLI(args=["fit", *args, "--ckpt_path", ckpt_path]), timer
        cli = PLOTLightningCLI(args=args, run=False)
        cli.trainer.callbacks.append(timer)
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
        return cli, timer

    return fit


def _mount(folder: Path, size: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True
    )


@pytest.fixture
def small_disk(tmp_path):
    """``small_disk(size) -> folder``: a real size-limited filesystem (tmpfs) where a full disk is a real
    ENOSPC; ``small_disk.resize(folder, size)`` frees space (remount). Unmounted afterwards; skipped where
    mounting is not permitted (needs root, or CAP_SYS_ADMIN)."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        folder = tmp_path / f"disk{len(mounted)}"
        folder.mkdir()
        result = _mount(folder, size)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs to fill a disk: {result.stderr.strip()}")
        mounted.append(folder)
        return folder

    def resize(folder: Path, size: str) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(folder)], check=True)

    mount.resize = resize
    yield mount
    for folder in mounted:  # lazily: a cached MLflow engine may still hold a file open there
        subprocess.run(["umount", "--lazy", str(folder)], check=False)
