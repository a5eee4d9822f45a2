"""What PLOTModule asks of a datamodule beyond Lightning's interface (``PreferenceDataModule`` provides it;
a datamodule without it trains on one "all" group and skips the pair check)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class PreferenceData(Protocol):
    @property
    def subpreferences(self) -> list[str]:
        """Names of the row groups whose validation metrics are logged separately (``val/<name>/...``)."""
        ...

    def require_pairs(self, losses: list[str]) -> None:
        """Raise, naming the data, when ``losses`` need a rejected response the data does not have."""
        ...
