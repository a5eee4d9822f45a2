"""A LightningCLI parser whose errors about ``model.loss_args`` also list the loss's valid options.

jsonargparse already rejects an unknown option (``Group 'model' does not accept option
'loss_args.dpo.epsilom'``) or a value of the wrong type (``Parser key "model.loss_args.dpo.beta": Expected a
<class 'float'>. Got value: Infinity``); this adds the loss's options with their types and defaults, or the
registered loss names when the loss itself is unknown.
"""

from __future__ import annotations

import re
from typing import NoReturn

from lightning.pytorch.cli import LightningArgumentParser

from plot_lightning.losses.options import LOSS_OPTIONS, describe_options

_LOSS_KEY = re.compile(r"loss_args\.(\w+)")


def loss_option_hint(message: str) -> str:
    """The hint for an error ``message`` mentioning ``loss_args.<loss>``, or ``""``."""
    match = _LOSS_KEY.search(message)
    if match is None:
        return ""
    loss = match.group(1)
    if loss not in LOSS_OPTIONS:
        return f"\n  '{loss}' is not a loss; losses with options: {sorted(LOSS_OPTIONS)}"
    return f"\n  loss '{loss}' options: {describe_options(loss)}"


class LossAwareParser(LightningArgumentParser):
    """``LightningArgumentParser`` with :func:`loss_option_hint` appended to its error messages."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        super().error(message + loss_option_hint(message), ex)
