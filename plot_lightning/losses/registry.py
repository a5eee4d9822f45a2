"""Loss registry: configuration names (``losses: [dpo, plot]``) -> loss classes.

Adding a loss means adding a module and one entry here; nothing dispatches on names elsewhere.
"""

from __future__ import annotations

from torch import nn

from .aot import AOTLoss
from .aot_pair import AOTPairLoss
from .dpo import DPOLoss
from .hinge import HingeLoss
from .ipo import IPOLoss
from .orpo import ORPOLoss
from .plot import PLOTLoss
from .pro import PROLoss
from .robust import RobustDPOLoss
from .sft import SFTLoss
from .simpo import SimPOLoss

LOSSES: dict[str, type[nn.Module]] = {
    "sft": SFTLoss,
    "dpo": DPOLoss,
    "ipo": IPOLoss,
    "robust": RobustDPOLoss,
    "hinge": HingeLoss,
    "simpo": SimPOLoss,
    "orpo": ORPOLoss,
    "aot": AOTLoss,
    "aot_pair": AOTPairLoss,
    "pro": PROLoss,
    "plot": PLOTLoss,
}
