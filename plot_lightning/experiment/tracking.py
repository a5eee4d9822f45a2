"""The experiment's MLflow runs live in :mod:`plot_lightning.tracking.experiment_runs` (the tracking package is
the only part of ``plot_lightning`` that talks to MLflow); this name keeps the experiment's imports working."""

from plot_lightning.tracking.experiment_runs import ExperimentTracker

__all__ = ["ExperimentTracker"]
