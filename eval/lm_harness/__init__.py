"""lm-evaluation-harness stage: the local task YAMLs (tasks/) run offline on model and baseline."""
