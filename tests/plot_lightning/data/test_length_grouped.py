"""LengthGroupedSampler: a permutation each epoch, deterministic given (seed, epoch), less padding than a
plain shuffle, resumable mid-epoch from state_dict; the datamodule option and the logged padding share."""

from __future__ import annotations

import json
import random

import pytest

from plot_lightning.data.datamodule import PreferenceDataModule
from plot_lightning.data.length_grouped import LengthGroupedSampler, padding_fraction

_RNG = random.Random(0)
LENGTHS = [_RNG.randint(5, 500) for _ in range(203)]


def test_each_epoch_is_a_permutation_deterministic_in_seed_and_epoch() -> None:
    sampler = LengthGroupedSampler(LENGTHS, batch_size=4, bucket_batches=5, seed=3)
    first = list(sampler)
    assert sorted(first) == list(range(len(LENGTHS)))
    second = list(sampler)  # the next epoch: another order
    assert sorted(second) == sorted(first) and second != first
    again = LengthGroupedSampler(LENGTHS, batch_size=4, bucket_batches=5, seed=3)
    assert list(again) == first and again.order(1) == second
    assert LengthGroupedSampler(LENGTHS, batch_size=4, bucket_batches=5, seed=4).order(0) != first


def test_less_padding_than_a_plain_shuffle() -> None:
    sampler = LengthGroupedSampler(LENGTHS, batch_size=4, bucket_batches=5, seed=0)
    shuffled = list(range(len(LENGTHS)))
    random.Random(0).shuffle(shuffled)
    grouped, plain = padding_fraction(LENGTHS, sampler.order(0), 4), padding_fraction(LENGTHS, shuffled, 4)
    assert grouped < 0.5 * plain, (grouped, plain)
    assert padding_fraction([3, 3], [0, 1], 2) == 0.0 and padding_fraction(
        [1, 3], [0, 1], 2
    ) == pytest.approx(1 / 3)


def test_resume_mid_epoch_continues_the_same_order() -> None:
    sampler = LengthGroupedSampler(LENGTHS, batch_size=4, seed=1)
    sampler.set_epoch(2)
    full = sampler.order()
    iterator = iter(sampler)
    head = [next(iterator) for _ in range(37)]
    state = sampler.state_dict()
    resumed = LengthGroupedSampler(LENGTHS, batch_size=4, seed=1)
    resumed.load_state_dict(state)
    assert head + list(resumed) == full
    with pytest.raises(ValueError, match="seed"):
        LengthGroupedSampler(LENGTHS, batch_size=4, seed=9).load_state_dict(state)


def test_datamodule_option_uses_the_sampler(tmp_path) -> None:
    rows = [{"prompt": "Q?", "chosen": "word " * (1 + 7 * (i % 5)), "rejected": "no"} for i in range(20)]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows))
    data = PreferenceDataModule(str(path), tokenizer="tiny", batch_size=4, group_by_length=True)
    loader = data.train_dataloader()
    assert isinstance(loader.sampler, LengthGroupedSampler)
    seen = sorted(int(i) for batch in loader for i in batch["example_index"])
    assert seen == list(range(20))
