"""Loss registry: configuration names (``losses: [dpo, plot]``) -> loss classes (see :mod:`plot_lightning.registry`).
Where a name is also a TRL ``loss_type`` it is TRL's loss (definition and reduction), tested against TRL's code.
"""

from __future__ import annotations

from plot_lightning.registry import Registry

_BUILTIN = (
    "sft",
    "dpo",
    "ipo",
    "robust",
    "cdpo",
    "hinge",
    "simpo",
    "orpo",
    "aot",
    "aot_unpaired",
    "pro",
    "plot",
)

LOSSES = Registry("loss", tuple(f"plot_lightning.losses.{name}" for name in _BUILTIN))
