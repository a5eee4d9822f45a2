"""``ResumableLoader``: torchdata's ``StatefulDataLoader`` made safe for a resume from an epoch's last batch.

A checkpoint taken after the last batch of an epoch holds an iterator that Lightning counts as finished,
although the loader may not be exhausted (``limit_train_batches``): loaded as it is, it would continue the old
epoch's order. So the state records whether the trainer's epoch had ended (``epoch_ended``), and such a state
resumes at the next epoch's start, the shuffling generator moved past the finished epoch's permutation exactly
as the uninterrupted run moved it. A state without the record counts as ended when every batch was yielded.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch.utils.data
from torchdata.stateful_dataloader import StatefulDataLoader
from torchdata.stateful_dataloader.sampler import RandomSampler
from typing_extensions import override

_NUM_YIELDED = "_num_yielded"
EPOCH_ENDED = "epoch_ended"


class ShuffleSampler(RandomSampler, torch.utils.data.RandomSampler):
    """torchdata's stateful ``RandomSampler`` (its generator state is saved with the loader) that is also a torch
    ``RandomSampler``: Lightning then knows the loader shuffles and, under DDP/FSDP, swaps in a *shuffling*
    ``DistributedSampler`` (with only torchdata's class it would silently stop shuffling)."""


class ResumableLoader(StatefulDataLoader):
    """A ``StatefulDataLoader`` whose state saved at the end of an epoch resumes at the next epoch's start.

    Args:
        epoch_ended: called when the state is saved; whether the consumer's epoch has ended at that point
            (None: unknown, then a state counts as ended when every batch was yielded).
        The other arguments are ``StatefulDataLoader``'s.
    """

    def __init__(
        self, *args: Any, epoch_ended: Callable[[], bool | None] | None = None, **kwargs: Any
    ) -> None:
        with warnings.catch_warnings():
            # torchdata 0.11's own constructor calls the deprecated torch.set_vital: nothing a user can change
            warnings.filterwarnings("ignore", message="'set_vital' is deprecated", category=UserWarning)
            super().__init__(*args, **kwargs)
        self.epoch_ended = epoch_ended

    @override
    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        ended = self.epoch_ended() if self.epoch_ended is not None else None
        if ended is not None:
            state[EPOCH_ENDED] = bool(ended)
        return state

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        ended = state_dict.pop(EPOCH_ENDED, None)
        if ended is None:
            ended = state_dict.get(_NUM_YIELDED) == len(self)
        if not ended:
            super().load_state_dict(state_dict)
            return
        self._iterator = None  # a fresh iterator: the next epoch
        sampler_state = (state_dict.get("_sampler_iter_state") or {}).get("sampler_iter_state") or {}
        if isinstance(self.sampler, RandomSampler) and "generator" in sampler_state:
            generator = self.sampler.generator
            generator.set_state(sampler_state["generator"])  # the finished epoch's starting state ...
            iter(self.sampler)  # ... then its permutation drawn, as in the uninterrupted run
