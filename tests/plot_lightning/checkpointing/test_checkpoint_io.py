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
