"""Preference data for PLOT training: formats, validation, tokenisation, collation and dataset recipes."""

from plot_lightning.data.collate import PreferenceCollator
from plot_lightning.data.datamodule import PreferenceDataModule
from plot_lightning.data.errors import DataValidationError
from plot_lightning.data.tokenize import ChatEncoder

__all__ = ["ChatEncoder", "DataValidationError", "PreferenceCollator", "PreferenceDataModule"]
