"""plot-eval: evaluate a Hugging Face checkpoint against a baseline, the way the PLOT paper judges alignment.

Per-subpreference win rates with bootstrap CIs, attack success rate on red-team prompts, fluency and
coherence, lm-eval tasks; results as JSON + MLflow. Python API: ``from plot_eval import evaluate``; command line:
``plot-eval run|compare`` (see eval/cli.py). This package never imports plot_lightning.
"""

from __future__ import annotations

from typing import Any

__all__ = ["evaluate", "load_suite"]


def __getattr__(name: str) -> Any:
    # lazy: `import eval` stays cheap (no torch / transformers) until the API is used
    if name == "evaluate":
        from plot_eval.runner import evaluate

        return evaluate
    if name == "load_suite":
        from plot_eval.suite import load_suite

        return load_suite
    raise AttributeError(f"module 'plot_eval' has no attribute {name!r}")
