"""Preference losses and their helpers (imports only torch).

Losses are ``nn.Module``s taking a :class:`PreferenceForward` and returning a :class:`LossOutput`; they are
combined by name with :class:`CompositeLoss` (see :data:`LOSSES` for the names).

The names below load lazily (PEP 562): ``plot_lightning.ot`` imports ``plot_lightning.losses.checks`` and
``plot.py`` imports ``plot_lightning.ot``, so eager re-exports here would make an import cycle.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "AOTLoss": "aot",
    "AOTPairLoss": "aot_pair",
    "CompositeLoss": "composite",
    "DPOLoss": "dpo",
    "HingeLoss": "hinge",
    "IPOLoss": "ipo",
    "LOSSES": "registry",
    "LossOutput": "types",
    "ORPOLoss": "orpo",
    "PLOTLoss": "plot",
    "PROLoss": "pro",
    "PreferenceForward": "types",
    "RobustDPOLoss": "robust",
    "SFTLoss": "sft",
    "SequenceSide": "types",
    "SimPOLoss": "simpo",
    "plot_transport_cost": "plot",
    "preference_metrics": "metrics",
    "sequence_logps": "logprobs",
    "split_pairs": "logprobs",
    "token_logps": "logprobs",
}

__all__ = [
    "AOTLoss",
    "AOTPairLoss",
    "CompositeLoss",
    "DPOLoss",
    "HingeLoss",
    "IPOLoss",
    "LOSSES",
    "LossOutput",
    "ORPOLoss",
    "PLOTLoss",
    "PROLoss",
    "PreferenceForward",
    "RobustDPOLoss",
    "SFTLoss",
    "SequenceSide",
    "SimPOLoss",
    "plot_transport_cost",
    "preference_metrics",
    "sequence_logps",
    "split_pairs",
    "token_logps",
]

if TYPE_CHECKING:
    from .aot import AOTLoss
    from .aot_pair import AOTPairLoss
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
    from .robust import RobustDPOLoss
    from .sft import SFTLoss
    from .simpo import SimPOLoss
    from .types import LossOutput, PreferenceForward, SequenceSide


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
