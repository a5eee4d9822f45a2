"""Per-response quality scores, one file per scorer, each registered by name in `plot_eval.registry.SCORERS`."""
