"""plot-eval: evaluate a Hugging Face checkpoint against a baseline, the way the PLOT paper judges alignment.

Per-subpreference win rates with bootstrap CIs, attack success rate on red-team prompts, fluency and
coherence, lm-eval tasks; results as JSON + MLflow. Python API: ``from plot_eval import evaluate``; command line:
``plot-eval run|compare`` (see eval/cli.py). This package never imports plot_lightning.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["evaluate", "load_suite"]
_HOMES = {"evaluate": "plot_eval.runner", "load_suite": "plot_eval.suite"}


def __getattr__(name: str) -> Any:
    # lazy: `import plot_eval` stays cheap (no torch / transformers) until the API is used
    if name not in _HOMES:
        raise AttributeError(f"module 'plot_eval' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
