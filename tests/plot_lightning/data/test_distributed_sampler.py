"""Each rank's share of the training order: one permutation for all ranks, seeded by ``seed`` and the epoch,
equal to the single-process order in epoch 0 (the two-process run is tests/plot_lightning/cli/test_multinode.py)."""

import torch
from datasets import Dataset

from plot_lightning.data.datamodule import distributed_sampler
from plot_lightning.data.resumable_loader import ShuffleSampler

ROWS = Dataset.from_dict({"x": list(range(10))})


def test_unshuffled_ranks_take_alternate_rows_in_file_order():
    shares = [list(distributed_sampler(ROWS, 2, rank, shuffle=False, seed=0)) for rank in (0, 1)]
    assert shares == [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]]


def test_epoch_0_is_the_single_process_permutation_split_between_ranks():
    """Global batch k of 2 ranks x 2 rows = rows 4k..4k+3 of one process's permutation with the same seed."""
    single = list(ShuffleSampler(ROWS, generator=torch.Generator().manual_seed(7)))
    ranks = [list(distributed_sampler(ROWS, 2, rank, shuffle=True, seed=7)) for rank in (0, 1)]
    for k in range(2):
        assert sorted(ranks[0][2 * k : 2 * k + 2] + ranks[1][2 * k : 2 * k + 2]) == sorted(
            single[4 * k : 4 * k + 4]
        )
    other_seed = [list(distributed_sampler(ROWS, 2, rank, shuffle=True, seed=8)) for rank in (0, 1)]
    assert other_seed != ranks  # the seed is honoured (Lightning's own sampler always used 0)


def test_epochs_differ_and_repeat():
    sampler = distributed_sampler(ROWS, 2, 0, shuffle=True, seed=7)
    first = list(sampler)
    sampler.set_epoch(1)
    second = list(sampler)
    sampler.set_epoch(0)
    assert second != first and list(sampler) == first
