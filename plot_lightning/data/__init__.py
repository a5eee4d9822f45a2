"""Preference data for PLOT training: formats, validation, tokenisation and collation."""

from plot_lightning.data.collate import PreferenceCollator
from plot_lightning.data.datamodule import PreferenceDataModule
from plot_lightning.data.errors import (
    BadRowsError,
    DataError,
    DataFormatError,
    DataSourceError,
    DataValidationError,
    MissingDataError,
)
from plot_lightning.data.tokenize import ChatEncoder

__all__ = [
    "BadRowsError",
    "ChatEncoder",
    "DataError",
    "DataFormatError",
    "DataSourceError",
    "DataValidationError",
    "MissingDataError",
    "PreferenceCollator",
    "PreferenceDataModule",
]
