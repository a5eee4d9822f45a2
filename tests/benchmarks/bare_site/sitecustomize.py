"""Makes the packages named in ``PLOT_ABSENT_PACKAGES`` (comma-separated) look uninstalled to this process and
its children, as on a lent GPU machine: imports raise ModuleNotFoundError, ``importlib.util.find_spec``
returns None and ``importlib.metadata`` lists no such distribution (what Lightning's and transformers'
availability checks read). Put this folder first on ``PYTHONPATH``."""

from __future__ import annotations

import os
import sys

_ABSENT = {
    n.strip().lower().replace("-", "_") for n in os.environ.get("PLOT_ABSENT_PACKAGES", "").split(",") if n
}


def _absent(name: str | None) -> bool:
    return (name or "").split(".")[0].lower().replace("-", "_") in _ABSENT


class _Hiding:
    """Wraps one ``sys.meta_path`` finder; declines the absent names, delegates the rest."""

    def __init__(self, finder) -> None:
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        find = getattr(self.finder, "find_spec", None)
        return None if _absent(name) or find is None else find(name, path, target)

    def find_distributions(self, context=None):
        find = getattr(self.finder, "find_distributions", None)
        found = find(context) if find is not None else ()
        return (d for d in found if not _absent(d.metadata["Name"]))

    def __getattr__(self, attribute):
        return getattr(self.finder, attribute)


if _ABSENT:
    sys.meta_path[:] = [_Hiding(finder) for finder in sys.meta_path]
