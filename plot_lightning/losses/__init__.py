"""Preference losses and their helpers (imports only torch).

Losses are :class:`LossTerm` modules taking a :class:`PreferenceForward` and returning a :class:`LossOutput`,
each declaring what it reads from the forward pass (:class:`TokenNeeds`); they are combined by name with
:class:`CompositeLoss` (names: :data:`LOSSES`; options: :mod:`.options`).
"""

from __future__ import annotations

from .aot import AOTLoss
from .aot_unpaired import AOTUnpairedLoss
from .cdpo import ConservativeDPOLoss
from .composite import CompositeLoss
from .dpo import DPOLoss
from .hinge import HingeLoss
from .ipo import IPOLoss
from .logprobs import sequence_logps, split_pairs, token_logps
from .metrics import preference_metrics
from .orpo import ORPOLoss
from .plot import PLOTLoss, plot_transport_cost
from .pro import PROLoss
from .registry import LOSSES
from .reward_term import NoisyLabelRewardLoss, RewardLoss
from .robust import RobustDPOLoss
from .sft import SFTLoss
from .simpo import SimPOLoss
from .term import LossTerm, TokenNeeds
from .types import LossOutput, PreferenceForward, SequenceSide, TokenOutputs

__all__ = [
    "AOTLoss",
    "AOTUnpairedLoss",
    "CompositeLoss",
    "ConservativeDPOLoss",
    "DPOLoss",
    "HingeLoss",
    "IPOLoss",
    "LOSSES",
    "LossOutput",
    "LossTerm",
    "NoisyLabelRewardLoss",
    "ORPOLoss",
    "PLOTLoss",
    "PROLoss",
    "PreferenceForward",
    "RewardLoss",
    "RobustDPOLoss",
    "SFTLoss",
    "SequenceSide",
    "SimPOLoss",
    "TokenNeeds",
    "TokenOutputs",
    "plot_transport_cost",
    "preference_metrics",
    "sequence_logps",
    "split_pairs",
    "token_logps",
]
