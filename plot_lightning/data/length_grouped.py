"""Length-grouped batching: less padding per batch, still a random order (``PreferenceDataModule(group_by_length=True)``).

Each epoch the example indices are shuffled (seeded by ``(seed, epoch)``), cut into buckets of
``batch_size * bucket_batches`` examples, each bucket is sorted by length (longest first) and cut into
batches, and the order of all full batches is shuffled (a short last batch stays last). Resumable:
``state_dict()`` holds the epoch and how many indices of it were already yielded.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class LengthGroupedSampler(Sampler[int]):
    """Example indices in length-grouped, shuffled batches (see the module docstring).

    Args:
        lengths: ``(n,)`` length of each example (e.g. the longer of its chosen / rejected sequences).
        batch_size: examples per batch (the DataLoader's ``batch_size``).
        bucket_batches: batches per sorted bucket (larger: less padding, less randomness).
        seed: base seed; the epoch's order depends only on ``(seed, epoch)``.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, bucket_batches: int = 50, seed: int = 0):
        if batch_size < 1 or bucket_batches < 1:
            raise ValueError(
                f"'batch_size' and 'bucket_batches' must be >= 1, got {batch_size}, {bucket_batches}"
            )
        self.lengths = torch.as_tensor(list(lengths), dtype=torch.long)
        self.batch_size, self.bucket_batches, self.seed = batch_size, bucket_batches, seed
        self.epoch, self.position = 0, 0

    def set_epoch(self, epoch: int) -> None:
        """Lightning calls this at each epoch start; a new epoch starts from its beginning."""
        if epoch != self.epoch:
            self.epoch, self.position = epoch, 0

    def order(self, epoch: int | None = None) -> list[int]:
        """The full index order of ``epoch`` (default: the current one)."""
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + (self.epoch if epoch is None else epoch))
        shuffled = torch.randperm(len(self.lengths), generator=gen)
        bucket = self.batch_size * self.bucket_batches
        batches: list[torch.Tensor] = []
        for start in range(0, len(shuffled), bucket):
            chunk = shuffled[start : start + bucket]
            chunk = chunk[torch.argsort(self.lengths[chunk], descending=True, stable=True)]
            batches.extend(chunk.split(self.batch_size))
        # Only the last bucket can end in a short batch; it stays last, or the DataLoader's fixed-size cuts
        # would straddle every batch after it.
        full = [batch for batch in batches if len(batch) == self.batch_size]
        short = [batch for batch in batches if len(batch) < self.batch_size]
        picked = torch.randperm(len(full), generator=gen).tolist()
        return [int(index) for batch in [*(full[i] for i in picked), *short] for index in batch]

    def __iter__(self) -> Iterator[int]:
        order = self.order()
        while self.position < len(order):
            index = order[self.position]
            self.position += 1
            yield index
        self.epoch, self.position = self.epoch + 1, 0

    def __len__(self) -> int:
        return len(self.lengths)

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state.get("seed", self.seed) != self.seed:
            raise ValueError(f"LengthGroupedSampler state has seed {state['seed']}, this sampler {self.seed}")
        self.epoch, self.position = int(state["epoch"]), int(state["position"])


def padding_fraction(lengths: Sequence[int], order: Sequence[int], batch_size: int) -> float:
    """Share of padded positions when ``order`` is cut into batches padded to their longest example."""
    total, padded = 0, 0
    for start in range(0, len(order), batch_size):
        batch = [lengths[i] for i in order[start : start + batch_size]]
        total += sum(batch)
        padded += max(batch) * len(batch)
    return 1.0 - total / padded if padded else 0.0


def length_grouped_sampler(datamodule, bucket_batches: int = 50) -> LengthGroupedSampler:
    """The sampler for a set-up ``PreferenceDataModule``: length = the longer of chosen / rejected."""
    dataset = datamodule.train_dataset
    columns = [name for name in ("chosen_input_ids", "rejected_input_ids") if name in dataset.column_names]
    lengths = [max(len(ids) for ids in row) for row in zip(*(dataset[name] for name in columns), strict=True)]
    return LengthGroupedSampler(lengths, datamodule.batch_size, bucket_batches, seed=datamodule.seed)
