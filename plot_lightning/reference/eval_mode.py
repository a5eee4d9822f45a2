"""Lightning warns "Found N module(s) in eval mode at the start of training"; the frozen reference is in eval
mode by design. The warning is ignored only when the reference's modules are the *only* eval-mode modules.
"""

from __future__ import annotations

import re
import warnings

import lightning.pytorch as pl
from typing_extensions import override


class ReferenceEvalModeNote(pl.Callback):
    """Ignores Lightning's eval-mode warning at fit start iff it counts exactly the frozen reference's modules."""

    def __init__(self) -> None:
        self._scope: warnings.catch_warnings | None = None

    @override
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        reference = getattr(pl_module, "reference", None)
        expected = 0 if reference is None else sum(1 for _ in reference.modules())
        found = sum(1 for module in pl_module.modules() if not module.training)
        if not expected or found != expected:
            return
        self._scope = warnings.catch_warnings()  # left at on_train_start: right after Lightning's check
        self._scope.__enter__()
        message = f"Found {expected} module(s) in eval mode at the start of training."
        warnings.filterwarnings("ignore", message=re.escape(message))

    def _leave(self) -> None:
        if self._scope is not None:
            self._scope.__exit__(None, None, None)
            self._scope = None

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._leave()

    @override
    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        self._leave()
