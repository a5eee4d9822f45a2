"""AtomicCheckpointIO / atomic_write: files replaced whole, leftovers of killed writers removed, and an empty,
truncated or foreign checkpoint raises an error that names the file (resume and export alike)."""

from __future__ import annotations

import pytest
import torch

from plot_lightning.checkpointing.atomic_write import atomic_torch_save, atomic_write
from plot_lightning.checkpointing.checkpoint_io import AtomicCheckpointIO, CorruptCheckpointError


def test_a_failing_write_keeps_the_old_file_and_leaves_nothing(tmp_path) -> None:
    target = tmp_path / "last.ckpt"
    atomic_torch_save({"step": 1}, target)

    def fail(handle) -> None:
        handle.write(b"half a checkpoint")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, fail)
    assert torch.load(target, weights_only=True) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


def test_a_named_leftover_of_a_killed_writer_is_removed_by_the_next_write(tmp_path) -> None:
    leftover = tmp_path / ".last.ckpt.deadbeef.partial"  # the non-Linux fallback's name for a partial file
    leftover.write_bytes(b"partial")
    AtomicCheckpointIO().save_checkpoint({"step": 2}, tmp_path / "last.ckpt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated zip", b"not a checkpoint at all"])
def test_unreadable_checkpoints_name_the_file(tmp_path, content) -> None:
    from plot_lightning.export import export_checkpoint

    path = tmp_path / "last.ckpt"
    path.write_bytes(content)
    with pytest.raises(CorruptCheckpointError, match=f"checkpoint {path}"):
        AtomicCheckpointIO().load_checkpoint(path)
    with pytest.raises(CorruptCheckpointError, match=f"checkpoint {path}"):
        export_checkpoint(path, tmp_path / "out")


def test_a_truncated_real_checkpoint_names_the_file_on_resume(tmp_path, quiet_trainer) -> None:
    from plot_lightning.module import PLOTModule

    path = tmp_path / "real.ckpt"
    module = PLOTModule(model="tiny", losses=["dpo"], weights=[1.0])
    module.configure_model()
    torch.save({"state_dict": module.state_dict()}, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CorruptCheckpointError, match=f"checkpoint {path} .* truncated"):
        quiet_trainer(max_steps=1, plugins=[AtomicCheckpointIO()]).strategy.load_checkpoint(path)


def _leave_a_partial(target) -> list:
    """A real ``kill -9`` of a writer between naming its temporary file and renaming it; the leftovers."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).with_name("die_before_rename.py")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    child = subprocess.run([sys.executable, str(script), "--target", str(target)], env=env, timeout=120)
    assert child.returncode == -signal.SIGKILL
    leftovers = sorted(target.parent.glob(f".{target.name}.*.partial"))
    assert len(leftovers) == 1 and torch.load(leftovers[0], weights_only=True)["step"] == 7  # complete
    return leftovers


def _fit(tmp_path, quiet_trainer, folder, max_steps, ckpt_path=None):
    import json

    from lightning.pytorch.callbacks import ModelCheckpoint

    from plot_lightning.data.datamodule import PreferenceDataModule
    from plot_lightning.module import PLOTModule

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        "\n".join(json.dumps({"prompt": f"q{i}", "chosen": "a", "rejected": "b"}) for i in range(4))
    )
    callbacks = [ModelCheckpoint(dirpath=folder, save_last=True)]
    trainer = quiet_trainer(max_steps=max_steps, enable_checkpointing=True, callbacks=callbacks)
    module = PLOTModule(model="tiny", losses=["dpo"], weights=[1.0])
    datamodule = PreferenceDataModule(str(pairs), tokenizer="tiny", batch_size=2)
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)


@pytest.mark.parametrize("where", ["checkpoint folder", "folder of the resumed checkpoint"])
def test_partials_left_by_a_killed_writer_are_removed_at_the_next_start(
    tmp_path, quiet_trainer, where
) -> None:
    """The leftover's name (step 7) is one that no write of the next run reuses: only the start can clean it."""
    old_run, new_run = tmp_path / "old", tmp_path / "new"
    ckpt_path = None
    if where == "folder of the resumed checkpoint":
        _fit(tmp_path, quiet_trainer, old_run, max_steps=1)
        ckpt_path = old_run / "last.ckpt"
    (leftover,) = _leave_a_partial((old_run if ckpt_path else new_run) / "epoch=0-step=7.ckpt")
    with pytest.warns(UserWarning, match=f"removed 1 complete temporary checkpoint .*: {leftover.name}"):
        _fit(tmp_path, quiet_trainer, new_run, max_steps=2, ckpt_path=ckpt_path)
    assert not leftover.exists() and not list(tmp_path.rglob("*.partial"))
    assert (new_run / "last.ckpt").is_file()


def test_a_full_disk_names_the_file_and_keeps_the_previous_checkpoint(small_filesystem) -> None:
    """A real 1 MiB filesystem: a 4 MiB checkpoint cannot fit. The error says which file and that the disk is
    full (torch's own says ``unexpected pos ...``), the previous checkpoint is intact, nothing is left over."""
    import errno
    import shutil

    from plot_lightning.checkpointing.atomic_write import CheckpointWriteError

    target = small_filesystem / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"step": 1}, target)
    free_before = shutil.disk_usage(small_filesystem).free
    with pytest.raises(CheckpointWriteError) as raised:
        AtomicCheckpointIO().save_checkpoint({"step": 2, "payload": torch.ones(2**20)}, target)
    assert raised.value.errno == errno.ENOSPC
    assert f"could not write {target}: the disk is full" in str(raised.value)
    assert "the previous last.ckpt is kept" in str(raised.value)
    assert torch.load(target, weights_only=True) == {"step": 1}
    assert [p.name for p in small_filesystem.iterdir()] == ["last.ckpt"]
    assert shutil.disk_usage(small_filesystem).free == free_before  # the temporary file's space is freed
