"""Aggregation stage: per-sample verdicts -> win rates, accuracies, ASR with bootstrap CIs."""
