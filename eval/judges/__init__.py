"""Judging stage: one file per judge, each registered by name in `plot_eval.registry.JUDGES`.

Pairwise: local_lm, openai, reward_model. Outcome: gsm8k (final number), math (symbolic, math-verify),
code_exec (tests in a sandbox), refusal (phrase rules; accuracy measured on a labelled set, refusal_validation.py), strongreject (rubric through a chat backend).
`engine.py` turns them into cached per-sample verdicts; `non_answer.py` flags empty / degenerate output.
"""
