"""Exact resume with shuffling on: a run resumed from mid-epoch or from an epoch boundary logs bit-identical
losses to the uninterrupted run (CPU), and checkpoints leave out the frozen reference, rebuilt on resume."""

from __future__ import annotations

import json

import lightning.pytorch as pl
import pytest
import torch

from plot_lightning.checkpointing.checkpoint_io import AtomicCheckpointIO
from plot_lightning.checkpointing.rng_state import collect_rng_states, set_rng_states
from plot_lightning.data.datamodule import PreferenceDataModule
from plot_lightning.module import PLOTModule

STEPS_PER_EPOCH = 4  # 8 pairs, 2 per batch


def _pairs(tmp_path) -> str:
    rows = [
        {
            "prompt": f"Question {i}: how?",
            "chosen": "Knead, then bake. " * (1 + i % 3),
            "rejected": "No." * (i + 1),
        }
        for i in range(2 * STEPS_PER_EPOCH)
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows))
    return str(path)


def _fit(quiet_trainer, loss_recorder, data, ckpt_dir=None, ckpt_path=None, data_args=None, **trainer_args):
    """Train (default: 2 epochs) with a checkpoint after every step; the step losses and the module."""
    recorder = loss_recorder()
    callbacks = [recorder]
    if ckpt_dir is not None:
        callbacks.append(
            pl.callbacks.ModelCheckpoint(
                dirpath=ckpt_dir, every_n_train_steps=1, save_top_k=-1, filename="{step}", save_last=True
            )
        )
    trainer = quiet_trainer(
        **{"max_epochs": 2, **trainer_args},
        callbacks=callbacks,
        enable_checkpointing=ckpt_dir is not None,
        plugins=[AtomicCheckpointIO()],
    )
    module = PLOTModule(
        model="tiny",
        losses=["dpo", "sft"],
        weights=[1.0, 0.5],
        optimizer=lambda p: torch.optim.AdamW(p, lr=1e-2),
    )
    data_args = {"shuffle": True, **(data_args or {})}
    datamodule = PreferenceDataModule(data, tokenizer="tiny", batch_size=2, seed=3, **data_args)
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
    return recorder.losses, module


@pytest.mark.slow
def test_mid_epoch_and_epoch_boundary_resume_are_bit_identical(
    tmp_path, quiet_trainer, loss_recorder
) -> None:
    data = _pairs(tmp_path)
    pl.seed_everything(0)
    straight, _ = _fit(quiet_trainer, loss_recorder, data, ckpt_dir=tmp_path / "ckpt")
    assert len(straight) == 2 * STEPS_PER_EPOCH
    for done in (3, STEPS_PER_EPOCH):  # mid-epoch (step 3 of 4), then the epoch boundary
        pl.seed_everything(123)  # a different global RNG: the resume must not depend on it
        resumed, _ = _fit(
            quiet_trainer, loss_recorder, data, ckpt_path=str(tmp_path / "ckpt" / f"step={done}.ckpt")
        )
        assert resumed == straight[done:], f"resume after step {done}"


# Every way an epoch (or a run inside one) can end, as (settings of the whole run, settings of its first part).
# 4 batches per epoch; the first part ends where the split is, the resume runs with the whole run's settings.
EPOCH_ENDS = {
    "natural end": ({"max_epochs": 2}, {"max_epochs": 1}),
    "limit_train_batches": (
        {"max_epochs": 3, "limit_train_batches": 3},
        {"max_epochs": 1, "limit_train_batches": 3},
    ),
    "max_steps inside an epoch": ({"max_steps": 7}, {"max_steps": 3}),
    "accumulation remainder": (
        {"max_epochs": 2, "accumulate_grad_batches": 3},
        {"max_epochs": 1, "accumulate_grad_batches": 3},
    ),
    "accumulation remainder with limit_train_batches": (
        {"max_epochs": 3, "limit_train_batches": 3, "accumulate_grad_batches": 2},
        {"max_epochs": 1, "limit_train_batches": 3, "accumulate_grad_batches": 2},
    ),
    "limit_train_batches, length-grouped batches": (
        {"max_epochs": 3, "limit_train_batches": 3, "data_args": {"group_by_length": True}},
        {"max_epochs": 1, "limit_train_batches": 3, "data_args": {"group_by_length": True}},
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("end", list(EPOCH_ENDS))
def test_a_run_split_where_an_epoch_ends_equals_the_straight_run(
    tmp_path, quiet_trainer, loss_recorder, end
) -> None:
    """Straight run vs first part + resume from the first part's ``last.ckpt``: the same loss at every batch
    and the same final weights, to the bit (CPU, shuffling on, a different global seed for each part)."""
    whole, first_part = EPOCH_ENDS[end]
    data = _pairs(tmp_path)
    pl.seed_everything(0)
    straight, straight_module = _fit(quiet_trainer, loss_recorder, data, **whole)
    pl.seed_everything(7)
    before, _ = _fit(quiet_trainer, loss_recorder, data, ckpt_dir=tmp_path / "part", **first_part)
    pl.seed_everything(123)
    after, resumed_module = _fit(
        quiet_trainer, loss_recorder, data, ckpt_path=str(tmp_path / "part" / "last.ckpt"), **whole
    )
    assert before + after == straight, f"{end}: split after {len(before)} batches"
    straight_weights = straight_module.policy.state_dict()
    for name, value in resumed_module.policy.state_dict().items():
        assert torch.equal(value, straight_weights[name]), f"{end}: {name} differs"


def test_shuffle_order_is_its_own_and_changes_between_epochs(tmp_path) -> None:
    datamodule = PreferenceDataModule(_pairs(tmp_path), tokenizer="tiny", batch_size=2, shuffle=True, seed=3)
    loader = datamodule.train_dataloader()
    torch.manual_seed(0)
    first = [batch["example_index"].tolist() for batch in loader]
    second = [batch["example_index"].tolist() for batch in loader]
    torch.manual_seed(1)
    again = [batch["example_index"].tolist() for batch in datamodule.train_dataloader()]
    assert first == again != second  # seeded by the datamodule, not by the global RNG; reshuffled per epoch
    assert sorted(sum(first, [])) == list(range(2 * STEPS_PER_EPOCH))
    # Lightning sees a shuffling loader, so under DDP/FSDP it swaps in a shuffling DistributedSampler
    from lightning.pytorch.utilities.data import _is_dataloader_shuffled

    assert _is_dataloader_shuffled(loader)
    unshuffled = PreferenceDataModule(_pairs(tmp_path), tokenizer="tiny", batch_size=2, shuffle=False)
    assert not _is_dataloader_shuffled(unshuffled.train_dataloader())


def test_rng_states_round_trip_through_a_weights_only_checkpoint(tmp_path) -> None:
    import random

    import numpy as np

    states = collect_rng_states()
    expected = (torch.rand(3), random.random(), np.random.rand())
    torch.save(states, tmp_path / "rng.pt")
    set_rng_states(torch.load(tmp_path / "rng.pt", weights_only=True))
    tensor, python_value, numpy_value = torch.rand(3), random.random(), np.random.rand()
    assert torch.equal(tensor, expected[0]) and (python_value, numpy_value) == expected[1:]
