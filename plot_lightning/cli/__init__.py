"""The ``plot-lightning`` command: a LightningCLI for training plus ``export``, ``prepare-model`` and ``demo``."""
