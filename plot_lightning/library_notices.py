"""Notices from the libraries under this package that a user cannot act on, each silenced by its exact text
where it is emitted; every other warning and log line stays. The ones tied to one call are silenced around
that call: torchdata's ``set_vital`` deprecation (``data/resumable_loader.py``), LightningCLI's args/argv
warning (``demo.train``), Lightning's eval-mode warning when only the frozen reference is in eval mode
(``reference/eval_mode.py``) and lm-eval's two notes on a model object (``eval/lm_harness/runner.py``). This
module installs the two that come from inside Lightning at any time:

- Lightning's "💡 Tip: ... try installing [litlogger] / [litmodels]" (an advertisement, logged at INFO by
  ``rank_zero_info``): dropped by a filter on that logger matching the tip's prefix.
- Lightning 2.6's own ``_pytree.py`` constructs torch's deprecated ``LeafSpec`` (a ``FutureWarning`` about
  Lightning's code, not the user's): ignored for that message from that module only.
"""

from __future__ import annotations

import logging
import warnings

_TIP_PREFIX = "💡 Tip: For seamless cloud"
_LEAFSPEC = r"`isinstance\(treespec, LeafSpec\)` is deprecated"
_LEAFSPEC_MODULE = r"lightning\.pytorch\.utilities\._pytree"


class _DropLightningTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_TIP_PREFIX)


_TIP_FILTER = _DropLightningTips()


def silence_library_notices() -> None:
    """Install the two filters of the module docstring (idempotent)."""
    import lightning.pytorch  # noqa: F401 - it points rank_zero.log at its own logger first
    from lightning_utilities.core import rank_zero

    if _TIP_FILTER not in rank_zero.log.filters:  # the logger Lightning's rank_zero_info writes to
        rank_zero.log.addFilter(_TIP_FILTER)
    if not any(f[1] is not None and f[1].pattern == _LEAFSPEC for f in warnings.filters):
        warnings.filterwarnings("ignore", message=_LEAFSPEC, category=FutureWarning, module=_LEAFSPEC_MODULE)
