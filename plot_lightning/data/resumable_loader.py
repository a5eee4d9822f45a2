"""``ResumableLoader``: torchdata's ``StatefulDataLoader`` made safe for a resume from an epoch's last batch.

Lightning saves the loader's state with every checkpoint and loads it into the loader before the next
``iter()``. A checkpoint taken after the last batch of an epoch holds an exhausted iterator (every sample
yielded), but Lightning counts that epoch as finished and starts the next one: the loaded state would then
make the next epoch empty. This loader turns such a state into "start of the next epoch": the shuffling
generator is moved past the finished epoch's permutation exactly as the uninterrupted run moved it.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch.utils.data
from torchdata.stateful_dataloader import StatefulDataLoader
from torchdata.stateful_dataloader.sampler import RandomSampler
from typing_extensions import override

_NUM_YIELDED = "_num_yielded"


class ShuffleSampler(RandomSampler, torch.utils.data.RandomSampler):
    """torchdata's stateful ``RandomSampler`` (its generator state is saved with the loader) that is also a torch
    ``RandomSampler``: Lightning then knows the loader shuffles and, under DDP/FSDP, swaps in a *shuffling*
    ``DistributedSampler`` (with only torchdata's class it would silently stop shuffling)."""


class ResumableLoader(StatefulDataLoader):
    """A ``StatefulDataLoader`` whose state saved at the end of an epoch resumes at the next epoch's start."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        with warnings.catch_warnings():
            # torchdata 0.11's own constructor calls the deprecated torch.set_vital: nothing a user can change
            warnings.filterwarnings("ignore", message="'set_vital' is deprecated", category=UserWarning)
            super().__init__(*args, **kwargs)

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict.get(_NUM_YIELDED) != len(self):
            super().load_state_dict(state_dict)
            return
        self._iterator = None  # a fresh iterator: the next epoch
        sampler_state = (state_dict.get("_sampler_iter_state") or {}).get("sampler_iter_state") or {}
        if isinstance(self.sampler, RandomSampler) and "generator" in sampler_state:
            generator = self.sampler.generator
            generator.set_state(sampler_state["generator"])  # the finished epoch's starting state ...
            iter(self.sampler)  # ... then its permutation drawn, as in the uninterrupted run
