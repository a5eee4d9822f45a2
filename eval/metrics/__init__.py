"""Metrics a prompt set feeds, one file each, registered by name in `plot_eval.registry.METRICS`."""
