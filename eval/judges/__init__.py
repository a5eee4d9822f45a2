"""Judging stage: one file per judge, each registered by name in `plot_eval.registry.JUDGES`; `engine.py`
turns them into cached per-sample verdicts, `non_answer.py` flags empty or degenerate output."""
