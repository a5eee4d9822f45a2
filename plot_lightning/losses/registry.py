"""Loss registry: configuration names (``losses: [dpo, plot]``) -> loss classes.

Adding a loss means adding a module and one entry here; nothing dispatches on names elsewhere. Where a
name is also a TRL ``loss_type`` it is TRL's loss (definition and reduction), tested against TRL's code.
"""

from __future__ import annotations

from .aot import AOTLoss
from .aot_unpaired import AOTUnpairedLoss
from .cdpo import ConservativeDPOLoss
from .dpo import DPOLoss
from .hinge import HingeLoss
from .ipo import IPOLoss
from .orpo import ORPOLoss
from .plot import PLOTLoss
from .pro import PROLoss
from .robust import RobustDPOLoss
from .sft import SFTLoss
from .simpo import SimPOLoss
from .term import LossTerm

LOSSES: dict[str, type[LossTerm]] = {
    "sft": SFTLoss,
    "dpo": DPOLoss,
    "ipo": IPOLoss,
    "robust": RobustDPOLoss,
    "cdpo": ConservativeDPOLoss,
    "hinge": HingeLoss,
    "simpo": SimPOLoss,
    "orpo": ORPOLoss,
    "aot": AOTLoss,
    "aot_unpaired": AOTUnpairedLoss,
    "pro": PROLoss,
    "plot": PLOTLoss,
}
